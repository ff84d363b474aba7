"""load_fsdd on a generated copy of the FSDD layout, and on the real dataset when present."""

import numpy as np
import pytest
import soundfile as sf

from mmfuse.datasets import load_fsdd


@pytest.fixture
def fake_fsdd(tmp_path):
    root = tmp_path / "fsdd"
    (root / "recordings").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = []
    for digit in (0, 7):
        for speaker in ("ann", "bob"):
            for take in (0, 4, 5, 12):
                name = f"{digit}_{speaker}_{take}.wav"
                sf.write(root / "recordings" / name, rng.normal(0, 0.1, 400 + take), 8000)
                names.append((digit, speaker, take))
    (root / "recordings" / "README.txt").write_text("not a recording")
    (root / "recordings" / "x_ann_1.wav").write_bytes(b"")  # not {digit}_...: ignored
    (root / "speakers.csv").write_text("speaker,gender\nann,female\nbob,male\n")
    return root, sorted(names)


def test_layout_split_and_speakers(fake_fsdd):
    root, names = fake_fsdd
    data = load_fsdd(root)
    assert [(int(d), str(s), int(t)) for d, s, t in
            zip(data.target, data.speaker, data.take, strict=True)] == names
    np.testing.assert_array_equal(data.is_test, data.take < 5)
    assert data.frame["split"].tolist() == ["test" if t < 5 else "train" for _, _, t in names]
    assert all(path.endswith(f"{d}_{s}_{t}.wav") for path, (d, s, t) in
               zip(data.audio, names, strict=True))
    assert data.speakers["speaker"].tolist() == ["ann", "bob"]
    assert data.sample_rate == 8000 and data.target_names[7] == "7"

    # the parent folder (a data home holding fsdd/) works as well
    assert load_fsdd(root.parent).audio == data.audio


def test_subsets_and_audio_loading(fake_fsdd):
    root, names = fake_fsdd
    test = load_fsdd(root, subset="test", load_audio=True)
    assert test.take.max() < 5 and len(test.audio) == sum(t < 5 for *_, t in names)
    for clip, path in zip(test.audio, load_fsdd(root, subset="test").audio, strict=True):
        expected, rate = sf.read(path, dtype="float32")
        assert rate == 8000
        np.testing.assert_array_equal(clip, expected)
    train = load_fsdd(root, subset="train")
    assert train.take.min() >= 5 and train.is_test.sum() == 0
    with pytest.raises(ValueError, match="subset"):
        load_fsdd(root, subset="dev")


def test_absent_dataset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("MMFUSE_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="FSDD not found"):
        load_fsdd(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"MMFUSE_DATA"):
        load_fsdd()
    (tmp_path / "fsdd" / "recordings").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no recordings"):
        load_fsdd(tmp_path / "fsdd")


@pytest.mark.realdata
def test_real_fsdd_official_split(data_dir):
    if not (data_dir / "fsdd").is_dir():
        pytest.skip("fsdd not in the data folder")
    data = load_fsdd(data_dir / "fsdd")
    assert len(data.audio) == 3000 and data.is_test.sum() == 300
    assert set(np.unique(data.speaker)) == set(data.speakers["speaker"])
    counts = np.unique(data.target[data.is_test], return_counts=True)[1]
    assert counts.tolist() == [30] * 10  # 6 speakers x 5 test takes per digit
    clip, rate = sf.read(data.audio[0])
    assert rate == 8000 and clip.ndim == 1
