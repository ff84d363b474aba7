"""Every tutorial in docs/ must run: they are executed here, as CI does."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "docs").rglob("*.py"))


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs(path, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "MMFUSE_DOCS_OUT": str(tmp_path)}
    result = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout}\n{result.stderr}"


def test_tutorials_exist():
    assert TUTORIALS, "docs/ holds no runnable tutorial"
