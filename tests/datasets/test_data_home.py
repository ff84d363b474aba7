"""get_data_home / find_dataset: resolve data_dir or $MMFUSE_DATA."""

import pytest

from mmfuse.datasets import find_dataset, get_data_home


def test_get_data_home_prefers_argument_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MMFUSE_DATA", str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home() == tmp_path / "env"


@pytest.mark.parametrize("value", [None, ""])
def test_get_data_home_without_environment_is_none(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("MMFUSE_DATA", raising=False)
    else:
        monkeypatch.setenv("MMFUSE_DATA", value)
    assert get_data_home() is None
    assert find_dataset("fsdd") is None


def test_find_dataset_missing_and_present(tmp_path):
    assert find_dataset("fsdd", data_dir=tmp_path) is None
    assert find_dataset("fsdd", data_dir=tmp_path / "does_not_exist") is None
    (tmp_path / "fsdd").mkdir()
    assert find_dataset("fsdd", data_dir=tmp_path) == tmp_path / "fsdd"
    assert find_dataset("mnist", data_dir=tmp_path) is None


def test_find_dataset_ignores_a_file_with_the_name(tmp_path):
    (tmp_path / "mnist").write_text("not a folder")
    assert find_dataset("mnist", data_dir=tmp_path) is None


def test_find_dataset_accepts_the_dataset_folder_itself(tmp_path):
    folder = tmp_path / "wikipedia_xmodal"
    folder.mkdir()
    assert find_dataset("wikipedia_xmodal", data_dir=folder) == folder
    assert find_dataset("fsdd", data_dir=folder) is None


def test_find_dataset_uses_environment(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    monkeypatch.setenv("MMFUSE_DATA", str(tmp_path))
    assert find_dataset("mnist") == tmp_path / "mnist"


@pytest.mark.parametrize("name", ["", "..", "a/b", "../fsdd", None])
def test_find_dataset_rejects_paths_as_names(tmp_path, name):
    with pytest.raises(ValueError, match="single folder name"):
        find_dataset(name, data_dir=tmp_path)
