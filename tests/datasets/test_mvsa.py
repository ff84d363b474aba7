import warnings

import numpy as np
import pytest

from mmfuse.datasets import load_mvsa_twitter


def _folder(tmp_path, rows, texts):
    root = tmp_path / "mvsa_twitter"
    (root / "images").mkdir(parents=True)
    (root / "texts").mkdir()
    (root / "labels.csv").write_text("guid,label,split\n" + "".join(
        f"{g},{label},{split}\n" for g, label, split in rows))
    for guid, text in texts.items():
        (root / "images" / f"{guid}.jpg").write_bytes(b"")
        (root / "texts" / f"{guid}.txt").write_bytes(text)
    return root


def test_loads_split_labels_and_replaces_invalid_utf8(tmp_path):
    rows = [(7, "negative", "train"), (3, "positive", "test"), (5, "neutral", "train")]
    texts = {7: b"rain again \xe2\x80\xa6", 3: b"best day \x85 ever", 5: "caf\u00e9".encode()}
    root = _folder(tmp_path, rows, texts)
    with pytest.warns(UnicodeWarning, match="1 of 3 texts"):
        data = load_mvsa_twitter(tmp_path)  # the folder holding mvsa_twitter/
    assert data.frame["guid"].tolist() == ["7", "3", "5"]
    assert data.frame["text"].tolist() == ["rain again \u2026", "best day \ufffd ever", "caf\u00e9"]
    assert data.target.tolist() == [0, 2, 1] and data.n_replaced == 1
    assert data.frame["image"][0].endswith("images/7.jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the train texts are all valid UTF-8
        train = load_mvsa_twitter(root, subset="train")
    assert train.frame["guid"].tolist() == ["7", "5"] and train.n_replaced == 0


def test_missing_files_and_bad_labels_are_clear_errors(tmp_path):
    root = _folder(tmp_path, [(1, "positive", "train"), (2, "positive", "test")], {1: b"ok"})
    with pytest.raises(FileNotFoundError, match="2 listed files are missing"):
        load_mvsa_twitter(root)
    bad = _folder(tmp_path / "b", [(1, "happy", "train")], {1: b"ok"})
    with pytest.raises(ValueError, match="unknown labels \\['happy'\\]"):
        load_mvsa_twitter(bad)
    with pytest.raises(ValueError, match="subset"):
        load_mvsa_twitter(bad, subset="val")
    with pytest.raises(FileNotFoundError, match="MVSA Twitter not found"):
        load_mvsa_twitter(tmp_path / "nowhere")


@pytest.mark.realdata
def test_real_copy_matches_its_card(data_dir):
    if not (data_dir / "mvsa_twitter").is_dir():
        pytest.skip("mvsa_twitter absent")
    with pytest.warns(UnicodeWarning):
        data = load_mvsa_twitter(data_dir)
    assert len(data.frame) == 4000 and data.n_replaced == 943
    assert (data.frame["split"] == "train").sum() == 3200
    assert np.bincount(data.target).tolist() == [1193, 419, 2388]
