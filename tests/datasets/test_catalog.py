"""The dataset catalogue and `mmfuse datasets`."""

from pathlib import Path

from mmfuse.cli import main
from mmfuse.datasets import dataset_status, describe_datasets
from mmfuse.datasets._catalog import CATALOG

REPO = Path(__file__).resolve().parents[2]


def test_every_catalogued_dataset_has_a_card():
    missing = [info.name for info in CATALOG if not (REPO / "datasets" / f"{info.name}.md")
               .is_file()]
    assert not missing


def test_status_found_incomplete_and_missing(tmp_path):
    (tmp_path / "fsdd" / "recordings").mkdir(parents=True)
    (tmp_path / "mnist").mkdir()  # the folder without its files
    status = {s["name"]: s for s in dataset_status(tmp_path)}
    assert status["fsdd"]["complete"] and status["fsdd"]["path"] == str(tmp_path / "fsdd")
    assert status["mnist"]["path"] and not status["mnist"]["complete"]
    assert status["mvsa_twitter"]["path"] is None
    text = describe_datasets(tmp_path)
    assert "fsdd              found at" in text
    assert "INCOMPLETE" in text and "t10k-images-idx3-ubyte.gz" in text
    assert "mvsa_twitter      missing" in text


def test_cli_prints_the_report(tmp_path, capsys):
    assert main(["datasets", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"data home: {tmp_path}" in out
    assert all(info.name in out for info in CATALOG)
