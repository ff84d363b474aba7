import gzip
import struct

import numpy as np
import pytest
import soundfile as sf

from mmfuse.datasets import load_av_digits, load_mnist


def _write_idx(path, array):
    magic = {3: 0x803, 1: 0x801}[array.ndim]
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_sources(tmp_path):
    """Three speakers' takes 0-7 of digits 0-2, and MNIST-like images whose pixels encode
    (digit, index) so the pairing can be checked."""
    rng = np.random.default_rng(0)
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    t = np.arange(800) / 8000
    for digit in range(3):
        for speaker in ("ann", "bob", "cy"):
            for take in range(8):
                sf.write(rec / f"{digit}_{speaker}_{take}.wav",
                         0.5 * np.sin(2 * np.pi * (300 + 100 * digit) * t), 8000)
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    for prefix, n in (("train", 60), ("t10k", 12)):
        labels = rng.permutation(np.arange(n) % 3)
        images = np.zeros((n, 28, 28), np.uint8)
        images[:, 0, 0] = labels
        images[:, 0, 1] = np.arange(n)
        _write_idx(mnist / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(mnist / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return tmp_path


def test_pairs_by_digit_and_split_without_reuse(fake_sources):
    data = load_av_digits(fake_sources, fake_sources, random_state=1)
    assert data.frame.shape == (72, 2)
    images = np.stack(data.frame["image"])
    np.testing.assert_array_equal(images[:, 0, 0], data.target)  # same digit
    np.testing.assert_array_equal(images[:, 0, 1], data.mnist_index)
    train = load_mnist(fake_sources, subset="train")
    np.testing.assert_array_equal(train.target[data.mnist_index[~data.is_test]],
                                  data.target[~data.is_test])
    # 5 test takes x 3 speakers = 15 test clips per digit > 4 test images per digit:
    # every image is used before any is reused.
    for split in (False, True):
        for digit in range(3):
            used = data.mnist_index[(data.is_test == split) & (data.target == digit)]
            counts = np.bincount(used)
            counts = counts[counts > 0]
            assert counts.max() - counts.min() <= 1
    again = load_av_digits(fake_sources, fake_sources, random_state=1)
    np.testing.assert_array_equal(again.mnist_index, data.mnist_index)


def test_noise_knob_matches_its_definition(fake_sources):
    clean = load_av_digits(fake_sources, fake_sources, random_state=2)
    noisy = load_av_digits(fake_sources, fake_sources, noise=1.0, random_state=2)
    np.testing.assert_array_equal(noisy.mnist_index, clean.mnist_index)
    a0, a1 = clean.frame["audio"].iloc[0], noisy.frame["audio"].iloc[0]
    snr = 10 * np.log10(np.mean(a0.astype(float) ** 2) / np.mean((a1 - a0).astype(float) ** 2))
    assert snr == pytest.approx(0.0, abs=0.5)  # 0 dB at noise=1
    diff = np.stack(noisy.frame["image"]).astype(float) - np.stack(clean.frame["image"])
    windows = np.lib.stride_tricks.sliding_window_view(np.stack(noisy.frame["image"]) == 0,
                                                      (12, 12), axis=(1, 2))
    assert windows.all(axis=(-2, -1)).any(axis=(1, 2)).all()  # a 12 x 12 black square each
    assert 30 < diff.std() < 80  # 70 before clipping at 0/255 and the occlusion
    sub = load_av_digits(fake_sources, fake_sources, subset="test", n_samples=9)
    assert len(sub.target) == 9 and sub.is_test.all()
    assert np.bincount(sub.target).tolist() == [3, 3, 3]
    with pytest.raises(ValueError, match="noise must be"):
        load_av_digits(fake_sources, fake_sources, noise=-1)


@pytest.mark.realdata
def test_real_sources(data_dir):
    if not ((data_dir / "fsdd").is_dir() and (data_dir / "mnist").is_dir()):
        pytest.skip("fsdd or mnist absent")
    data = load_av_digits(data_dir, data_dir, n_samples=100, random_state=0)
    assert data.frame.shape == (100, 2)
    mnist = load_mnist(data_dir, subset="test")
    test = data.is_test
    np.testing.assert_array_equal(mnist.target[data.mnist_index[test]], data.target[test])
