import gzip

import numpy as np
import pytest

from mmfuse.datasets import load_mnist
from mmfuse.datasets._mnist import read_idx


def _idx(array: np.ndarray) -> bytes:
    """Encode an array as an IDX file of unsigned bytes (the format's definition)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(root, n_images=7, n_labels=10, seed=0, compress=True):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_images, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n_labels, dtype=np.uint8)
    folder = root / "mnist"
    folder.mkdir()
    suffix = ".gz" if compress else ""
    enc = gzip.compress if compress else (lambda b: b)
    (folder / f"train-images-first{n_images}-idx3-ubyte{suffix}").write_bytes(enc(_idx(images)))
    (folder / f"train-labels-idx1-ubyte{suffix}").write_bytes(enc(_idx(labels)))
    return images, labels


@pytest.mark.parametrize("compress", [True, False])
def test_load_mnist_pairs_partial_images_with_first_labels(tmp_path, compress):
    images, labels = _write_mnist(tmp_path, compress=compress)
    data = load_mnist(tmp_path)
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.target, labels[:7])
    assert data.frame.shape == (7, 2)
    np.testing.assert_array_equal(data.frame["image"][3], images[3])
    assert load_mnist(tmp_path / "mnist", n_samples=3).images.shape == (3, 28, 28)


def test_load_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST not found"):
        load_mnist(tmp_path)
    _write_mnist(tmp_path, n_images=5, n_labels=4)
    with pytest.raises(ValueError, match="4 labels for 5 images"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        load_mnist(tmp_path, subset="test")
    with pytest.raises(ValueError, match="subset"):
        load_mnist(tmp_path, subset="valid")
    bad = tmp_path / "bad-idx1-ubyte"
    bad.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]))
    with pytest.raises(ValueError, match=r"shape \(9,\)"):
        read_idx(bad)
    bad.write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(bad)


@pytest.mark.realdata
def test_load_mnist_real_test_set(data_dir):
    if not (data_dir / "mnist").is_dir():
        pytest.skip("mnist absent from the data folder")
    data = load_mnist(data_dir, subset="test")
    assert data.images.shape == (10_000, 28, 28) and data.images.dtype == np.uint8
    counts = np.bincount(data.target, minlength=10)
    assert counts.sum() == 10_000 and counts.min() > 800  # every digit present
    train = load_mnist(data_dir, n_samples=50)
    assert train.images.shape == (50, 28, 28) and train.target.max() <= 9
