"""Array kernels shared by every encoder, written once against an array namespace.

Each kernel takes arrays from one namespace (NumPy on the CPU, CuPy on the GPU,
see :func:`mmfuse.backend.get_namespace`) and returns arrays from the same
namespace; callers decide where data lives. Work is chunked so the temporary
memory stays bounded by ``mmfuse.get_config()["working_memory"]`` whatever the
number of descriptors.
"""

from __future__ import annotations

import numpy as np

from mmfuse._config import get_config

_MiB = 1 << 20


def _namespace_of(x):
    module = type(x).__module__
    if module.startswith("cupy"):
        import cupy

        return cupy
    return np


def chunk_rows(n_rows: int, bytes_per_row: int, working_memory: int | None = None) -> int:
    """Rows per chunk so that ``rows * bytes_per_row`` fits the memory budget.

    Parameters
    ----------
    n_rows : int
        Total number of rows to process.
    bytes_per_row : int
        Temporary bytes one row needs.
    working_memory : int, default=None
        Budget in MiB; defaults to ``mmfuse.get_config()["working_memory"]``.

    Returns
    -------
    chunk : int
        At least 1 and at most ``max(n_rows, 1)``.

    Examples
    --------
    >>> from mmfuse.backend import chunk_rows
    >>> chunk_rows(10_000, bytes_per_row=4 * 1024, working_memory=1)
    256
    """
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    budget = int(working_memory) * _MiB
    rows = max(1, budget // max(1, int(bytes_per_row)))
    return int(min(rows, max(n_rows, 1)))


def squared_norms(X):
    """Row-wise squared Euclidean norms, accumulated in the input precision.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import squared_norms
    >>> squared_norms(np.array([[3.0, 4.0]], dtype=np.float32))
    array([25.], dtype=float32)
    """
    xp = _namespace_of(X)
    return xp.einsum("ij,ij->i", X, X)


def assign_nearest(X, centers, *, centers_sq=None, return_distances=True, chunk_size=None):
    """Index of the nearest center (squared Euclidean) for each row of ``X``.

    Distances are expanded as ``|x|^2 - 2 x.c + |c|^2`` so each chunk is one
    GEMM; ``|x|^2`` does not change the argmin and is added back only for the
    returned distances.

    Peak extra memory is one ``(chunk_size, n_centers)`` float32 block, chosen
    from ``working_memory``; it does not grow with ``len(X)``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Descriptors, float32 preferred (float64 is kept as is).
    centers : array of shape (n_centers, n_features)
        Codewords, same namespace as ``X``.
    centers_sq : array of shape (n_centers,), default=None
        Precomputed ``squared_norms(centers)``.
    return_distances : bool, default=True
        Also return the squared distance to the nearest center.
    chunk_size : int, default=None
        Rows per GEMM; derived from ``working_memory`` when None.

    Returns
    -------
    labels : int64 array of shape (n_samples,)
    distances : array of shape (n_samples,), only if ``return_distances``
        Squared distances, clipped at 0 against rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import assign_nearest
    >>> centers = np.array([[0, 0], [10, 10]], dtype=np.float32)
    >>> X = np.array([[1, 0], [9, 9]], dtype=np.float32)
    >>> labels, d2 = assign_nearest(X, centers)
    >>> labels.tolist(), d2.tolist()
    ([0, 1], [1.0, 2.0])
    """
    xp = _namespace_of(X)
    if X.ndim != 2 or centers.ndim != 2 or X.shape[1] != centers.shape[1]:
        raise ValueError(
            f"X {tuple(X.shape)} and centers {tuple(centers.shape)} must be 2-D with the "
            "same number of columns"
        )
    n, n_centers = X.shape[0], centers.shape[0]
    if n_centers == 0:
        raise ValueError("centers is empty")
    dtype = xp.result_type(X.dtype, centers.dtype)
    centers = centers.astype(dtype, copy=False)
    if centers_sq is None:
        centers_sq = squared_norms(centers)
    labels = xp.empty(n, dtype=xp.int64)
    distances = xp.empty(n, dtype=dtype) if return_distances else None
    if n == 0:
        return (labels, distances) if return_distances else labels
    if chunk_size is None:
        chunk_size = chunk_rows(n, n_centers * xp.dtype(dtype).itemsize)
    buffer = xp.empty((min(chunk_size, n), n_centers), dtype=dtype)
    centers_t = centers.T
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        block = X[start:stop].astype(dtype, copy=False)
        scores = buffer[: stop - start]
        xp.matmul(block, centers_t, out=scores)
        scores *= -2
        scores += centers_sq
        best = xp.argmin(scores, axis=1)
        labels[start:stop] = best
        if return_distances:
            nearest = xp.take_along_axis(scores, best[:, None], axis=1)[:, 0]
            distances[start:stop] = xp.maximum(nearest + squared_norms(block), 0)
    return (labels, distances) if return_distances else labels


def segment_ids(offsets):
    """Sample index of every row of a ragged matrix given its CSR ``offsets``.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import segment_ids
    >>> segment_ids(np.array([0, 2, 2, 5])).tolist()
    [0, 0, 2, 2, 2]
    """
    xp = _namespace_of(offsets)
    lengths = xp.diff(offsets)
    return xp.repeat(xp.arange(lengths.shape[0], dtype=xp.int64), lengths)


def segment_histogram(labels, offsets, n_bins, weights=None):
    """Per-sample histogram of ``labels`` over ``n_bins`` bins, via one bincount.

    Parameters
    ----------
    labels : int array of shape (n_total,)
        Bin of every row of the ragged matrix.
    offsets : int array of shape (n_samples + 1,)
        CSR offsets: rows ``offsets[i]:offsets[i+1]`` belong to sample ``i``.
    n_bins : int
        Number of bins.
    weights : array of shape (n_total,), default=None
        Per-row weights (counts when None).

    Returns
    -------
    hist : float array of shape (n_samples, n_bins)
        Float32 counts, or the dtype of ``weights``; samples without rows
        are all zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import segment_histogram
    >>> segment_histogram(np.array([1, 1, 0]), np.array([0, 2, 2, 3]), 2).tolist()
    [[0.0, 2.0], [0.0, 0.0], [1.0, 0.0]]
    """
    xp = _namespace_of(labels)
    n_samples = offsets.shape[0] - 1
    if labels.shape[0] != int(offsets[-1]):
        raise ValueError(f"{labels.shape[0]} labels but offsets end at {int(offsets[-1])}")
    flat = segment_ids(offsets) * n_bins + labels.astype(xp.int64, copy=False)
    hist = xp.bincount(flat, weights=weights, minlength=n_samples * n_bins)
    dtype = xp.float32 if weights is None else weights.dtype
    return hist.reshape(n_samples, n_bins).astype(dtype, copy=False)
