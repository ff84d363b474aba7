import subprocess
import sys

import pytest

from mmfuse.cli import build_parser, main, run_demo


def test_parser_rejects_bad_arguments():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--n-samples", "0"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["nonsense"])
    assert main(["demo", "--cv", "1"]) == 2


def test_demo_prints_table_and_fusion_wins(capsys):
    results = run_demo(n_samples=180, random_state=1, cv=3)
    out = capsys.readouterr().out
    for name in ("image only", "text only", "early fusion (image + text)"):
        assert name in out
    assert "accuracy" in out and "macro-F1" in out and "±" in out
    fused = results.loc["early fusion (image + text)", "accuracy"]
    assert fused > results.loc["image only", "accuracy"]
    assert fused > results.loc["text only", "accuracy"]


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "mmfuse", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "demo" in result.stdout
