"""MNIST handwritten digits from a local copy of the IDX files (never downloaded)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from mmfuse.datasets._base import DATA_ENV_VAR, find_dataset

MNIST_NAME = "mnist"
_IDX_UBYTE = 0x08


def read_idx(path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (optionally gzip-compressed).

    The header is checked: magic ``0x0000 08 ndim``, ``ndim`` big-endian
    sizes, then exactly ``prod(sizes)`` bytes.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    array : uint8 ndarray of the shape the header gives

    Examples
    --------
    >>> import gzip, pathlib, tempfile
    >>> import numpy as np
    >>> from mmfuse.datasets._mnist import read_idx
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x-idx1-ubyte.gz"
    >>> _ = p.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])))
    >>> read_idx(p).tolist()
    [7, 8, 9]
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"MNIST file {path} could not be read: {exc}") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _IDX_UBYTE:
        raise ValueError(f"MNIST file {path} is not an IDX file of unsigned bytes "
                         f"(header {data[:4].hex() or 'empty'})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"MNIST file {path} is truncated inside its header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(data) - header != expected:
        raise ValueError(f"MNIST file {path}: header says shape {shape} ({expected} bytes) "
                         f"but {len(data) - header} bytes follow")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _find(folder: Path, pattern: str) -> Path:
    matches = sorted(folder.glob(pattern))
    if not matches:
        raise FileNotFoundError(f"no file matching {pattern!r} in the MNIST folder {folder}")
    return matches[0]


def load_mnist(data_dir=None, *, subset="train", n_samples=None) -> Bunch:
    """Load MNIST digits from a local copy of the IDX files.

    Looks for ``<subset>-images*idx3-ubyte[.gz]`` and
    ``<subset>-labels-idx1-ubyte[.gz]`` in the ``mnist`` folder found by
    :func:`~mmfuse.datasets.find_dataset`. When the images file holds fewer
    images than the labels file has labels (a partial copy of the training
    images, such as ``train-images-first22699-idx3-ubyte.gz``), image ``i``
    is paired with label ``i`` and the remaining labels are ignored.

    Parameters
    ----------
    data_dir : str or path-like, default=None
        Folder holding ``mnist/`` (or the ``mnist`` folder itself); defaults
        to ``$MMFUSE_DATA``.
    subset : {"train", "test"}, default="train"
        ``"test"`` is the official 10,000-image test set (``t10k-*``).
    n_samples : int, default=None
        Keep only the first ``n_samples`` images (all when None).

    Returns
    -------
    data : Bunch
        ``images`` uint8 array of shape (n, 28, 28); ``target`` int64 digit
        labels; ``frame`` DataFrame with an ``image`` column of 28 x 28 uint8
        arrays (ready for :class:`~mmfuse.image.SIFTExtractor`) and a
        ``digit`` column; ``target_names`` the digits 0-9; ``subset``;
        ``files`` the two files read.

    Raises
    ------
    FileNotFoundError
        When the dataset folder or one of its files is absent.
    ValueError
        When a file is not a valid IDX file, or labels are fewer than images.

    Examples
    --------
    >>> from mmfuse.datasets import load_mnist
    >>> data = load_mnist(n_samples=100)  # doctest: +SKIP
    >>> data.images.shape, data.target[:5].tolist()  # doctest: +SKIP
    ((100, 28, 28), [5, 0, 4, 1, 9])
    """
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
    if n_samples is not None and int(n_samples) < 1:
        raise ValueError(f"n_samples must be >= 1 or None, got {n_samples!r}")
    folder = find_dataset(MNIST_NAME, data_dir)
    if folder is None:
        raise FileNotFoundError(
            f"MNIST not found: expected a folder {MNIST_NAME!r} under data_dir={data_dir!r} "
            f"or ${DATA_ENV_VAR}; mmfuse never downloads data (see datasets/README.md)"
        )
    prefix = "train" if subset == "train" else "t10k"
    image_file = _find(folder, f"{prefix}-images*idx3-ubyte*")
    label_file = _find(folder, f"{prefix}-labels-idx1-ubyte*")
    images = read_idx(image_file)
    labels = read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(f"MNIST files {image_file.name} / {label_file.name} have shapes "
                         f"{images.shape} / {labels.shape}; expected (n, rows, cols) / (n,)")
    if labels.shape[0] < images.shape[0]:
        raise ValueError(f"{label_file.name} has {labels.shape[0]} labels for "
                         f"{images.shape[0]} images in {image_file.name}")
    n = images.shape[0] if n_samples is None else min(int(n_samples), images.shape[0])
    images = images[:n]
    target = labels[:n].astype(np.int64)
    frame = pd.DataFrame({"image": list(images), "digit": target})
    return Bunch(images=images, target=target, frame=frame, target_names=list(range(10)),
                 subset=subset, files=[str(image_file), str(label_file)])
