"""Array kernels shared by every encoder, written once against an array namespace.

Each kernel takes arrays from one namespace (NumPy on the CPU, CuPy on the GPU,
see :func:`mmfuse.backend.get_namespace`) and returns arrays from the same
namespace; callers decide where data lives. Work is chunked so the temporary
memory stays bounded by ``mmfuse.get_config()["working_memory"]`` whatever the
number of descriptors.

On the CPU the GEMM-bound kernels (:func:`assign_nearest`,
:func:`soft_assign`, :func:`cosine_topk`) split the rows into cache-sized
chunks and run one chunk per core, each with a single-threaded BLAS call, so
the steps after the GEMM (adding ``|c|^2``, the argmin, the top-k selection)
run in parallel too instead of on one core while BLAS threads wait.

On CuPy arrays the kernels hand over to the fused CUDA versions in
:mod:`mmfuse.backend._cupy_kernels` (cuBLAS GEMM + argmin / top-k selection
kernels, atomic scatter for histograms and residuals) where those cover the
case, and otherwise run the code below under CuPy.
"""

from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mmfuse._config import get_config
from mmfuse.backend._common import _MiB, _namespace_of, chunk_rows, squared_norms

# One GEMM output block of about this size stays in a core's L2 cache, where
# the passes after the GEMM (add, argmin, compare) are cheap.
_CACHE_BLOCK_BYTES = 1 * _MiB
# Score block of cosine_topk on the CPU (queries chunk x database block).
_TOPK_BLOCK_BYTES = 2 * _MiB
#: Columns of the first database block whose top k seeds the top-k thresholds.
_TOPK_SEED_COLUMNS = 512
# Below this much GEMM work (multiply-adds) threads cost more than they save.
_PARALLEL_MIN_WORK = 1 << 24


def _gpu_kernels(xp):
    """The CuPy fast paths (:mod:`mmfuse.backend._cupy_kernels`), None for NumPy.

    Each fast path returns ``NotImplemented`` for a case it does not cover,
    and the generic code below runs instead (it works on CuPy too).
    """
    if getattr(xp, "__name__", None) != "cupy":
        return None
    from mmfuse.backend import _cupy_kernels

    return _cupy_kernels


def _default_chunk(xp, n_rows: int, bytes_per_row: int, n_workers: int = 1) -> int:
    """Chunk for a kernel: within ``working_memory`` shared by the workers, and
    on the CPU no larger than one L2-sized block (GPUs want big chunks)."""
    budget = max(1, get_config()["working_memory"] // max(1, n_workers))
    rows = chunk_rows(n_rows, bytes_per_row, working_memory=budget)
    if xp is np:
        rows = min(rows, max(16, _CACHE_BLOCK_BYTES // max(1, int(bytes_per_row))))
    return int(max(1, rows))


@functools.cache
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return None
    return ThreadpoolController()


def _cpu_workers() -> int:
    """Cores the CPU kernels may use: the CPUs this process may run on, capped
    by the BLAS thread limit (so ``threadpoolctl.threadpool_limits(1)`` makes
    the kernels single-threaded too)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    controller = _blas_controller()
    if controller is not None:
        blas = controller.select(user_api="blas")
        threads = [lib.num_threads for lib in blas.lib_controllers]
        if threads:
            cores = min(cores, max(threads))
    return max(1, cores)


def _run_chunks(xp, starts, work, n_workers: int):
    """Call ``work(start, scratch)`` for every chunk start.

    ``scratch`` is a dict private to the calling worker, for buffers reused
    across its chunks. On the CPU with ``n_workers > 1`` the chunks are shared
    out dynamically to that many threads, each running single-threaded BLAS
    (NumPy releases the GIL in GEMM and in the reductions).
    """
    starts = list(starts)
    if xp is not np or n_workers < 2 or len(starts) < 2:
        scratch = {}
        for start in starts:
            work(start, scratch)
        return
    pending = iter(starts)  # next() on a list iterator is atomic under the GIL

    def worker():
        scratch = {}
        for start in pending:
            work(start, scratch)

    n_workers = min(n_workers, len(starts))
    controller = _blas_controller()
    limits = (controller.limit(limits=1, user_api="blas") if controller is not None
              else contextlib.nullcontext())
    with limits, ThreadPoolExecutor(n_workers) as pool:
        futures = [pool.submit(worker) for _ in range(n_workers)]
        for future in futures:
            future.result()


def for_row_blocks(xp, n_rows: int, block_rows: int, work, *, parallel: bool = True):
    """Call ``work(start, stop)`` for consecutive blocks of ``block_rows`` rows.

    For element-wise passes over a large array done block by block so that
    they stay in cache: on the CPU, with ``parallel``, the blocks are shared
    out to the cores (:func:`_cpu_workers`; NumPy releases the GIL in
    element-wise loops); on a GPU, or with one block, they run in order.
    ``work`` must only write rows ``start:stop`` of its outputs.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import for_row_blocks
    >>> a = np.arange(10.0)
    >>> def double(start, stop):
    ...     a[start:stop] *= 2
    >>> for_row_blocks(np, 10, 3, double)
    >>> a.tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0]
    """
    block_rows = max(1, int(block_rows))
    n_workers = _cpu_workers() if parallel else 1
    _run_chunks(xp, range(0, n_rows, block_rows),
                lambda start, scratch: work(start, min(start + block_rows, n_rows)), n_workers)


def _plan(xp, n_rows: int, bytes_per_row: int, work_per_row: int, chunk_size):
    """(chunk_size, n_workers) for a row-chunked kernel."""
    n_workers = _cpu_workers() if xp is np and n_rows * work_per_row >= _PARALLEL_MIN_WORK else 1
    if chunk_size is None:
        chunk_size = _default_chunk(xp, n_rows, bytes_per_row, n_workers)
    return int(max(1, chunk_size)), n_workers


def _scratch(scratch, name, xp, shape, dtype):
    """A per-worker buffer of at least ``shape``, viewed at ``shape``."""
    buf = scratch.get(name)
    if buf is None or buf.shape[0] < shape[0] or buf.shape[1:] != tuple(shape[1:]):
        buf = xp.empty(shape, dtype=dtype)
        scratch[name] = buf
    return buf[: shape[0]]


def _check_pair(X, centers, what="centers"):
    if X.ndim != 2 or centers.ndim != 2 or X.shape[1] != centers.shape[1]:
        raise ValueError(
            f"X {tuple(X.shape)} and {what} {tuple(centers.shape)} must be 2-D with the "
            "same number of columns"
        )
    if centers.shape[0] == 0:
        raise ValueError(f"{what} is empty")


def assign_nearest(X, centers, *, centers_sq=None, return_distances=True, chunk_size=None):
    """Index of the nearest center (squared Euclidean) for each row of ``X``.

    Distances are expanded as ``|x|^2 - 2 x.c + |c|^2`` so each chunk is one
    GEMM against ``-2 C^T``; ``|x|^2`` does not change the argmin and is added
    back only for the returned distances.

    Peak extra memory: one ``(chunk_size, n_centers)`` block per worker thread
    (the CPU uses one thread per core, with L2-sized chunks of about 1 MiB;
    otherwise chunks fill ``working_memory``), plus a ``-2 C^T`` copy of the
    centers. It does not grow with ``len(X)``.

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
        Rows per GEMM; derived from the cache size and ``working_memory``
        when None.

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
    _check_pair(X, centers)
    if (gpu := _gpu_kernels(xp)) is not None and (result := gpu.assign_nearest(
            X, centers, centers_sq=centers_sq, return_distances=return_distances,
            chunk_size=chunk_size)) is not NotImplemented:
        return result
    n, n_centers = X.shape[0], centers.shape[0]
    dtype = xp.result_type(X.dtype, centers.dtype)
    centers = centers.astype(dtype, copy=False)
    if centers_sq is None:
        centers_sq = squared_norms(centers)
    centers_sq = centers_sq.astype(dtype, copy=False)
    labels = xp.empty(n, dtype=xp.int64)
    distances = xp.empty(n, dtype=dtype) if return_distances else None
    if n == 0:
        return (labels, distances) if return_distances else labels
    itemsize = xp.dtype(dtype).itemsize
    chunk_size, n_workers = _plan(xp, n, n_centers * itemsize, n_centers * X.shape[1],
                                  chunk_size)
    # -2 C^T in C order: the GEMM writes the scores directly, one pass saved.
    minus_two_ct = xp.ascontiguousarray((centers * -2).T)

    def work(start, scratch):
        stop = min(start + chunk_size, n)
        block = X[start:stop].astype(dtype, copy=False)
        scores = _scratch(scratch, "scores", xp, (stop - start, n_centers), dtype)
        xp.matmul(block, minus_two_ct, out=scores)
        scores += centers_sq
        best = xp.argmin(scores, axis=1)
        labels[start:stop] = best
        if return_distances:
            nearest = xp.take_along_axis(scores, best[:, None], axis=1)[:, 0]
            distances[start:stop] = xp.maximum(nearest + squared_norms(block), 0)

    _run_chunks(xp, range(0, n, chunk_size), work, n_workers)
    return (labels, distances) if return_distances else labels


def soft_assign(X, centers, *, n_nearest=5, bandwidth=1.0, centers_sq=None, chunk_size=None):
    """Kernel-codebook weights of each row of ``X`` on its nearest centers.

    Each descriptor ``x`` spreads a unit mass over its ``m = min(n_nearest,
    n_centers)`` nearest centers with Gaussian-kernel weights
    ``w_k = exp(-|x - c_k|^2 / (2 bandwidth^2)) / sum_j exp(-|x - c_j|^2 /
    (2 bandwidth^2))`` (van Gemert et al. 2010; restricted to the nearest
    centers as in Liu et al. 2011). ``n_nearest=1`` gives hard assignment.

    Peak extra memory: one ``(chunk_size, n_centers)`` block per worker
    thread plus a ``-2 C^T`` copy; not proportional to ``len(X)``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    centers : array of shape (n_centers, n_features)
    n_nearest : int, default=5
        Number of centers each descriptor is spread over.
    bandwidth : float, default=1.0
        Kernel width (same units as the descriptors).
    centers_sq : array of shape (n_centers,), default=None
        Precomputed ``squared_norms(centers)``.
    chunk_size : int, default=None
        Rows per GEMM.

    Returns
    -------
    labels : int64 array of shape (n_samples, m)
        Nearest centers, closest first.
    weights : array of shape (n_samples, m)
        Non-negative, each row sums to 1 (dtype of ``X``).

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import soft_assign
    >>> centers = np.array([[0, 0], [2, 0], [9, 9]], dtype=np.float32)
    >>> labels, w = soft_assign(np.array([[0.5, 0]], np.float32), centers, n_nearest=2)
    >>> labels.tolist(), w.round(3).tolist()
    ([[0, 1]], [[0.731, 0.269]])
    """
    xp = _namespace_of(X)
    _check_pair(X, centers)
    if int(n_nearest) < 1:
        raise ValueError(f"n_nearest must be >= 1, got {n_nearest}")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    if (gpu := _gpu_kernels(xp)) is not None and (result := gpu.soft_assign(
            X, centers, n_nearest=n_nearest, bandwidth=bandwidth, centers_sq=centers_sq,
            chunk_size=chunk_size)) is not NotImplemented:
        return result
    n, n_centers = X.shape[0], centers.shape[0]
    m = min(int(n_nearest), n_centers)
    dtype = xp.result_type(X.dtype, centers.dtype)
    centers = centers.astype(dtype, copy=False)
    if centers_sq is None:
        centers_sq = squared_norms(centers)
    centers_sq = centers_sq.astype(dtype, copy=False)
    labels = xp.empty((n, m), dtype=xp.int64)
    weights = xp.empty((n, m), dtype=dtype)
    if n == 0:
        return labels, weights
    itemsize = xp.dtype(dtype).itemsize
    chunk_size, n_workers = _plan(xp, n, n_centers * itemsize, n_centers * X.shape[1],
                                  chunk_size)
    minus_two_ct = xp.ascontiguousarray((centers * -2).T)
    scale = -0.5 / float(bandwidth) ** 2

    def work(start, scratch):
        stop = min(start + chunk_size, n)
        block = X[start:stop].astype(dtype, copy=False)
        scores = _scratch(scratch, "scores", xp, (stop - start, n_centers), dtype)
        xp.matmul(block, minus_two_ct, out=scores)
        scores += centers_sq
        if m < n_centers:
            near = xp.argpartition(scores, m - 1, axis=1)[:, :m]
        else:
            near = xp.broadcast_to(xp.arange(n_centers), scores.shape)
        near_scores = xp.take_along_axis(scores, near, axis=1)
        order = xp.argsort(near_scores, axis=1)
        near = xp.take_along_axis(near, order, axis=1)
        near_scores = xp.take_along_axis(near_scores, order, axis=1)
        # |x|^2 is common to the row and cancels in the normalisation.
        w = xp.exp((near_scores - near_scores[:, :1]) * scale)
        w /= w.sum(axis=1, keepdims=True)
        labels[start:stop] = near
        weights[start:stop] = w

    _run_chunks(xp, range(0, n, chunk_size), work, n_workers)
    return labels, weights


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


def segment_histogram(labels, offsets, n_bins, weights=None, *, chunk_size=None):
    """Per-sample histogram of ``labels`` over ``n_bins`` bins, one bincount per chunk.

    Peak extra memory: for each chunk of rows, a few int64 / float64 arrays
    of ``chunk_size * m`` entries (the bin keys and weights) and the counts
    of the samples the chunk touches, with ``chunk_size`` chosen from
    ``working_memory``; not proportional to the number of rows. The output
    is accumulated in float64, ``(n_samples, n_bins)``.

    Parameters
    ----------
    labels : int array of shape (n_total,) or (n_total, m)
        Bin of every row of the ragged matrix; with ``m`` columns each row
        votes for ``m`` bins (soft assignment).
    offsets : int array of shape (n_samples + 1,)
        CSR offsets: rows ``offsets[i]:offsets[i+1]`` belong to sample ``i``.
    n_bins : int
        Number of bins.
    weights : array of the shape of ``labels``, default=None
        Per-vote weights (counts when None).
    chunk_size : int, default=None
        Rows per bincount.

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
    n = labels.shape[0]
    if n != int(offsets[-1]):
        raise ValueError(f"{n} labels but offsets end at {int(offsets[-1])}")
    per_row = 1 if labels.ndim == 1 else labels.shape[1]
    if weights is not None and weights.shape != labels.shape:
        raise ValueError(f"weights {tuple(weights.shape)} must match labels "
                         f"{tuple(labels.shape)}")
    if (gpu := _gpu_kernels(xp)) is not None and (result := gpu.segment_histogram(
            labels, offsets, n_bins, weights, chunk_size=chunk_size)) is not NotImplemented:
        return result
    hist = xp.zeros((n_samples, n_bins), dtype=xp.float64)
    if chunk_size is None:
        chunk_size = chunk_rows(n, per_row * 32)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        seg = xp.searchsorted(offsets, xp.arange(start, stop, dtype=xp.int64), side="right") - 1
        first, last = int(seg[0]), int(seg[-1])
        if per_row != 1:
            seg = xp.repeat(seg, per_row)
        keys = (seg - first) * n_bins + labels[start:stop].reshape(-1).astype(xp.int64)
        w = None if weights is None else weights[start:stop].reshape(-1)
        counts = xp.bincount(keys, weights=w, minlength=(last - first + 1) * n_bins)
        hist[first:last + 1] += counts.reshape(-1, n_bins)
    dtype = xp.float32 if weights is None else weights.dtype
    return hist.astype(dtype, copy=False)


def _add_rows_by_key(out2d, keys, rows, xp):
    """``out2d[keys[j]] += rows[j]`` for repeated keys (sorted-segment sum)."""
    if keys.shape[0] == 0:
        return
    order = xp.argsort(keys, kind="stable")
    keys = keys[order]
    rows = rows[order]
    if hasattr(xp.add, "reduceat"):
        first = xp.concatenate([xp.ones(1, dtype=bool), keys[1:] != keys[:-1]])
        starts = xp.flatnonzero(first)
        out2d[keys[starts]] += xp.add.reduceat(rows, starts, axis=0)
    else:  # pragma: no cover - namespaces without reduceat (scatter-add instead)
        xp.add.at(out2d, keys, rows)


def segment_residuals(X, offsets, labels, centers, weights=None, *, return_squares=False,
                      chunk_size=None):
    """Per sample and codeword, the weighted sum of residuals ``x - c``.

    For sample ``i`` and codeword ``k``::

        R[i, k] = sum_{j in i, l_j = k} w_j (x_j - c_k)
        Q[i, k] = sum_{j in i, l_j = k} w_j (x_j - c_k) ** 2   (return_squares)

    the first-order VLAD statistic (and, with posteriors as weights and
    Gaussian means as centers, the sums behind a Fisher vector). Votes with
    weight 0 are skipped, so dense but mostly-zero posteriors cost only their
    non-zeros.

    Peak extra memory: for each chunk of rows, ``chunk_size * m`` gathered
    residual rows of ``n_features`` values (twice with ``return_squares``),
    with ``chunk_size`` chosen from ``working_memory``; not proportional to
    ``len(X)``. The outputs are ``(n_samples, n_centers, n_features)``.

    Parameters
    ----------
    X : array of shape (n_total, n_features)
        Descriptors of all samples, CSR layout given by ``offsets``.
    offsets : int array of shape (n_samples + 1,)
    labels : int array of shape (n_total,) or (n_total, m)
        Codeword(s) each descriptor votes for.
    centers : array of shape (n_centers, n_features)
    weights : array of the shape of ``labels``, default=None
        Vote weights (1 when None).
    return_squares : bool, default=False
        Also return the weighted sums of squared residuals.
    chunk_size : int, default=None
        Descriptor rows per chunk.

    Returns
    -------
    residuals : array of shape (n_samples, n_centers, n_features)
    squares : array of shape (n_samples, n_centers, n_features), only if
        ``return_squares``.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import segment_residuals
    >>> X = np.array([[1, 1], [3, 1], [0, 4]], np.float32)
    >>> centers = np.array([[2, 1], [0, 3]], np.float32)
    >>> R = segment_residuals(X, np.array([0, 2, 3]), np.array([0, 0, 1]), centers)
    >>> R[0].tolist(), R[1].tolist()
    ([[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]])
    """
    xp = _namespace_of(X)
    _check_pair(X, centers)
    n, d = X.shape
    n_centers = centers.shape[0]
    n_samples = offsets.shape[0] - 1
    if labels.shape[0] != n or int(offsets[-1]) != n:
        raise ValueError(f"X has {n} rows, labels {labels.shape[0]}, offsets end at "
                         f"{int(offsets[-1])}; they must agree")
    if weights is not None and weights.shape != labels.shape:
        raise ValueError(f"weights {tuple(weights.shape)} must match labels "
                         f"{tuple(labels.shape)}")
    if (gpu := _gpu_kernels(xp)) is not None and (result := gpu.segment_residuals(
            X, offsets, labels, centers, weights, return_squares=return_squares,
            chunk_size=chunk_size)) is not NotImplemented:
        return result
    dtype = xp.result_type(X.dtype, centers.dtype,
                           weights.dtype if weights is not None else X.dtype)
    centers = centers.astype(dtype, copy=False)
    per_row = 1 if labels.ndim == 1 else labels.shape[1]
    residuals = xp.zeros((n_samples * n_centers, d), dtype=dtype)
    squares = xp.zeros((n_samples * n_centers, d), dtype=dtype) if return_squares else None
    if n == 0:
        shape = (n_samples, n_centers, d)
        return ((residuals.reshape(shape), squares.reshape(shape)) if return_squares
                else residuals.reshape(shape))
    itemsize = xp.dtype(dtype).itemsize
    if chunk_size is None:
        chunk_size = chunk_rows(n, per_row * (d * itemsize * (3 if return_squares else 2) + 32))
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        rows = xp.repeat(xp.arange(start, stop, dtype=xp.int64), per_row)
        lab = labels[start:stop].reshape(-1).astype(xp.int64, copy=False)
        w = None if weights is None else weights[start:stop].reshape(-1).astype(dtype)
        if w is not None:
            keep = xp.flatnonzero(w != 0)
            rows, lab, w = rows[keep], lab[keep], w[keep]
        seg = xp.searchsorted(offsets, rows, side="right") - 1
        keys = seg * n_centers + lab
        diff = X[rows].astype(dtype, copy=False) - centers[lab]
        if return_squares:
            sq = diff * diff
            if w is not None:
                sq *= w[:, None]
            _add_rows_by_key(squares, keys, sq, xp)
            del sq
        if w is not None:
            diff *= w[:, None]
        _add_rows_by_key(residuals, keys, diff, xp)
    shape = (n_samples, n_centers, d)
    if return_squares:
        return residuals.reshape(shape), squares.reshape(shape)
    return residuals.reshape(shape)


def segment_moments(X, offsets, weights):
    """Per sample, the weighted zeroth, first and second moments of its rows.

    For sample ``i`` (rows ``offsets[i]:offsets[i + 1]``) and column ``k`` of
    ``weights``::

        S0[i, k] = sum_j w_jk
        S1[i, k] = sum_j w_jk x_j          (one GEMM, W_i^T X_i)
        S2[i, k] = sum_j w_jk x_j ** 2     (one GEMM, W_i^T X_i^2)

    With Gaussian-mixture posteriors as weights these are the sufficient
    statistics of a Fisher vector: ``sum_j w_jk (x_j - mu_k) = S1 - mu_k S0``
    and ``sum_j w_jk (x_j - mu_k)^2 = S2 - 2 mu_k S1 + mu_k^2 S0``. Unlike
    :func:`segment_residuals`, the cost does not grow with the number of
    non-zero weights per row: dense posteriors cost two GEMMs.

    Peak extra memory: one ``[X, X ** 2]`` copy, twice the size of ``X``
    (pass ``X`` in batches to bound it); the outputs are
    ``(n_samples, n_weights)`` and two ``(n_samples, n_weights, n_features)``
    views of one array.

    Parameters
    ----------
    X : array of shape (n_total, n_features)
    offsets : int array of shape (n_samples + 1,)
    weights : array of shape (n_total, n_weights)

    Returns
    -------
    S0 : array of shape (n_samples, n_weights)
    S1, S2 : arrays of shape (n_samples, n_weights, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import segment_moments
    >>> X = np.array([[1.0, 2.0], [3.0, 0.0], [5.0, 5.0]])
    >>> S0, S1, S2 = segment_moments(X, np.array([0, 2, 3]), np.ones((3, 1)))
    >>> S0.tolist(), S1[0].tolist(), S2[0].tolist()
    ([[2.0], [1.0]], [[4.0, 2.0]], [[10.0, 4.0]])
    """
    xp = _namespace_of(X)
    n, d = X.shape
    if weights.ndim != 2 or weights.shape[0] != n or int(offsets[-1]) != n:
        raise ValueError(f"X has {n} rows, weights {tuple(weights.shape)}, offsets end at "
                         f"{int(offsets[-1])}; they must agree")
    dtype = xp.result_type(X.dtype, weights.dtype)
    X = X.astype(dtype, copy=False)
    weights = weights.astype(dtype, copy=False)
    n_samples, n_weights = offsets.shape[0] - 1, weights.shape[1]
    S0 = xp.zeros((n_samples, n_weights), dtype=dtype)
    # [x | x^2] side by side: one GEMM per sample gives both moments
    S12 = xp.zeros((n_samples, n_weights, 2 * d), dtype=dtype)
    lifted = xp.empty((n, 2 * d), dtype=dtype)
    lifted[:, :d] = X
    xp.multiply(X, X, out=lifted[:, d:])
    bounds = offsets.tolist() if hasattr(offsets, "tolist") else list(offsets)
    for i in range(n_samples):
        a, b = bounds[i], bounds[i + 1]
        if a == b:
            continue
        w_t = weights[a:b].T
        S0[i] = w_t.sum(axis=1)
        xp.matmul(w_t, lifted[a:b], out=S12[i])
    return S0, S12[:, :, :d], S12[:, :, d:]


def gmm_segment_statistics(X, offsets, posteriors, means):
    """Per sample and mixture component: posterior mass and centred moments.

    Returns ``(mass, first, second)`` with ``mass[i, k] = sum_j g_jk``,
    ``first[i, k] = sum_j g_jk (x_j - mu_k)`` and
    ``second[i, k] = sum_j g_jk (x_j - mu_k) ** 2`` over the rows ``j`` of
    sample ``i``: the sufficient statistics of a Fisher vector. On the CPU
    they come from :func:`segment_moments` (one GEMM per sample, expanded
    around ``mu``); on a GPU from the :func:`segment_residuals` and
    :func:`segment_histogram` kernels, which need no per-sample launches.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import gmm_segment_statistics
    >>> X = np.array([[1.0], [3.0]])
    >>> mass, first, second = gmm_segment_statistics(X, np.array([0, 2]), np.ones((2, 1)),
    ...                                              np.array([[2.0]]))
    >>> mass.tolist(), first.tolist(), second.tolist()
    ([[2.0]], [[[0.0]]], [[[2.0]]])
    """
    xp = _namespace_of(X)
    if _gpu_kernels(xp) is not None:
        labels = xp.broadcast_to(xp.arange(means.shape[0]), posteriors.shape)
        first, second = segment_residuals(X, offsets, labels, means, weights=posteriors,
                                          return_squares=True)
        mass = segment_histogram(labels, offsets, means.shape[0], weights=posteriors)
        return mass.astype(first.dtype, copy=False), first, second
    mass, first, second = segment_moments(X, offsets, posteriors)
    means = means.astype(first.dtype, copy=False)
    second -= 2 * means * first
    second += mass[:, :, None] * (means * means)
    first -= mass[:, :, None] * means
    return mass, first, second


def _mixture_coefficients(means, variances, weights, xp, dtype):
    """``(coef, log_const)`` of a diagonal Gaussian mixture's log joint densities,
    expanded so that ``[x, x^2] @ coef + log_const`` is ``log w_k + log N(x; mu_k, var_k)``
    for every component ``k``."""
    d = means.shape[1]
    means = means.astype(dtype, copy=False)
    precisions = 1 / variances.astype(dtype, copy=False)
    coef = xp.ascontiguousarray(xp.concatenate([means * precisions, -0.5 * precisions],
                                               axis=1).T)
    log_const = (xp.log(weights.astype(dtype))
                 - 0.5 * (d * np.log(2 * np.pi) + xp.log(variances.astype(dtype)).sum(axis=1)
                          + (means * means * precisions).sum(axis=1)))
    return coef, log_const


def _check_mixture(means, variances, weights):
    n_components = means.shape[0]
    if variances.shape != means.shape or weights.shape != (n_components,):
        raise ValueError(f"means {tuple(means.shape)}, variances {tuple(variances.shape)} "
                         f"and weights {tuple(weights.shape)} do not describe one mixture")


def _softmax(logp, threshold, xp, axis=1):
    """``logp`` (log joint densities, components along ``axis``) turned in place
    into posteriors, those below ``threshold`` set to 0. With components along
    axis 0 the reductions run across contiguous rows, several times faster
    than along short rows."""
    xp.subtract(logp, xp.max(logp, axis=axis, keepdims=True), out=logp)
    xp.exp(logp, out=logp)
    xp.multiply(logp, 1 / xp.sum(logp, axis=axis, keepdims=True), out=logp)
    if threshold > 0:  # a multiply by the mask: several times faster than putmask
        xp.multiply(logp, logp >= threshold, out=logp)


def _segment_groups(bounds, chunk_size: int):
    """Work items ``(first segment, end segment)`` of whole consecutive segments,
    each holding about ``chunk_size`` rows (a longer segment is one item alone)."""
    groups, first, n_segments = [], 0, len(bounds) - 1
    while first < n_segments:
        end = first + 1
        while end < n_segments and bounds[end + 1] - bounds[first] <= chunk_size:
            end += 1
        groups.append((first, end))
        first = end
    return groups


def gmm_fisher_statistics(X, offsets, means, variances, weights, *, rows=None, threshold=0.0,
                          chunk_size=None):
    """Fisher-vector sufficient statistics per sample in one pass over ``X``.

    The fused form of :func:`gmm_posteriors` followed by
    :func:`gmm_segment_statistics`: for each chunk of whole samples (about
    ``chunk_size`` rows, sized to stay in cache) it forms ``[x, x^2]`` once,
    gets the log joint densities of all components as one GEMM against
    ``[mu / var, -1 / (2 var)]``, turns them into posteriors with a row-wise
    log-sum-exp (posteriors below ``threshold`` set to 0, not renormalised,
    as :func:`gmm_posteriors` does), and accumulates each sample's moments as
    one GEMM ``G_i^T [x, x^2]`` on the same block. The ``(n, n_components)``
    posteriors are never materialised; on the CPU the chunks are shared out
    to the cores. With ``rows``, the samples are ``X[rows]`` taken block by
    block (as a spatial pyramid orders descriptors by cell) without a copy
    of ``X``.

    For sample ``i`` (rows ``offsets[i]:offsets[i + 1]``) and component ``k``,
    with posteriors ``g``::

        mass[i, k]      = sum_j g_jk
        first[i, k]     = sum_j g_jk (x_j - mu_k)
        second[i, k]    = sum_j g_jk (x_j - mu_k) ** 2

    Peak extra memory: per worker a ``(chunk_size, 2 n_features)`` block and
    a ``(chunk_size, n_components)`` block (``chunk_size`` chosen from
    ``working_memory`` and the cache size, or a longer sample's length); the
    outputs are ``(n_samples, n_components)`` and two
    ``(n_samples, n_components, n_features)`` arrays.

    Parameters
    ----------
    X : array of shape (n_rows, n_features)
    offsets : int array of shape (n_samples + 1,)
        Sample ``i`` is rows ``offsets[i]:offsets[i + 1]`` of ``X`` (of
        ``X[rows]`` when ``rows`` is given).
    means, variances : arrays of shape (n_components, n_features)
        The mixture's means and diagonal covariances (all positive).
    weights : array of shape (n_components,)
    rows : int array of shape (n_total,), default=None
        Rows of ``X`` in sample order; None for ``X`` itself.
    threshold : float, default=0.0
    chunk_size : int, default=None
        Rows per block (whole samples are never split unless one is longer).

    Returns
    -------
    mass : array of shape (n_samples, n_components)
    first, second : arrays of shape (n_samples, n_components, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import gmm_fisher_statistics
    >>> X = np.array([[1.0], [3.0], [10.0]])
    >>> mass, first, second = gmm_fisher_statistics(
    ...     X, np.array([0, 2, 3]), np.array([[2.0]]), np.array([[1.0]]), np.array([1.0]))
    >>> mass.tolist(), first[:, 0, 0].tolist(), second[:, 0, 0].tolist()
    ([[2.0], [1.0]], [0.0, 8.0], [2.0, 64.0])
    """
    xp = _namespace_of(X)
    _check_pair(X, means, "means")
    _check_mixture(means, variances, weights)
    n, d = X.shape
    if rows is not None:
        n = rows.shape[0]
        if n and (int(rows.min()) < 0 or int(rows.max()) >= X.shape[0]):
            raise ValueError(f"rows must index the {X.shape[0]} rows of X")
    if int(offsets[-1]) != n:
        raise ValueError(f"{'rows has' if rows is not None else 'X has'} {n} rows but "
                         f"offsets end at {int(offsets[-1])}")
    if _gpu_kernels(xp) is not None:  # CuPy: the posteriors, then the segment kernels
        if rows is not None:
            X = X[rows]
        posteriors = gmm_posteriors(X, means, variances, weights, threshold=threshold,
                                    chunk_size=chunk_size)
        return gmm_segment_statistics(X, offsets, posteriors, means)
    n_components = means.shape[0]
    dtype = xp.result_type(X.dtype, means.dtype)
    coef, log_const = _mixture_coefficients(means, variances, weights, xp, dtype)
    coef_t = xp.ascontiguousarray(coef.T)
    bounds = offsets.tolist() if hasattr(offsets, "tolist") else list(offsets)
    n_samples = len(bounds) - 1
    # every row is written by its work item (no zero-filling pass)
    mass = xp.empty((n_samples, n_components), dtype=dtype)
    moments = xp.empty((n_samples, n_components, 2 * d), dtype=dtype)
    itemsize = xp.dtype(dtype).itemsize
    chunk_size, n_workers = _plan(xp, n, (n_components + 2 * d) * itemsize,
                                  4 * d * n_components, chunk_size)

    def work(group, scratch):
        first_seg, end_seg = group
        a, b = bounds[first_seg], bounds[end_seg]
        for i in range(first_seg, end_seg):
            if bounds[i] == bounds[i + 1]:  # no descriptors
                moments[i] = 0
                mass[i] = 0
        # a sample longer than chunk_size is taken in chunk_size pieces, accumulated
        for start in range(a, b, chunk_size):
            stop = min(start + chunk_size, b)
            lifted = _scratch(scratch, "lifted", xp, (stop - start, 2 * d), dtype)
            if rows is None:
                lifted[:, :d] = X[start:stop]
            else:  # rows checked in range above: "clip" takes them without buffering
                xp.take(X, rows[start:stop], axis=0, out=lifted[:, :d], mode="clip")
            xp.square(lifted[:, :d], out=lifted[:, d:])
            # posteriors with components along rows: (n_components, rows)
            post = _scratch(scratch, "post", xp, ((stop - start) * n_components,), dtype)
            post = post.reshape(n_components, stop - start)
            xp.matmul(coef_t, lifted.T, out=post)
            post += log_const[:, None]
            _softmax(post, threshold, xp, axis=0)
            for i in range(first_seg, end_seg):
                lo, hi = max(bounds[i], start), min(bounds[i + 1], stop)
                if lo >= hi:
                    continue
                g_t = post[:, lo - start:hi - start]
                if lo == bounds[i]:  # the sample's first (usually only) piece
                    xp.matmul(g_t, lifted[lo - start:hi - start], out=moments[i])
                    xp.sum(g_t, axis=1, out=mass[i])
                else:
                    moments[i] += g_t @ lifted[lo - start:hi - start]
                    mass[i] += g_t.sum(axis=1)
        # centred on the means while in cache: sum g (x - mu) = S1 - mu S0 and
        # sum g (x - mu)^2 = S2 - 2 mu S1 + mu^2 S0
        first, second = moments[first_seg:end_seg, :, :d], moments[first_seg:end_seg, :, d:]
        weight = mass[first_seg:end_seg, :, None]
        second -= 2 * mu * first
        second += weight * mu_sq
        first -= weight * mu

    mu = means.astype(dtype, copy=False)
    mu_sq = mu * mu
    _run_chunks(xp, _segment_groups(bounds, chunk_size), work, n_workers)
    return mass, moments[:, :, :d], moments[:, :, d:]


def cosine_topk(queries, database, k=10, *, normalize=True, chunk_size=None,
                block_size=None):
    """The ``k`` database rows most cosine-similar to each query.

    Queries are normalised once (a copy of ``queries``); database norms are
    computed once, so the database is never copied. Each chunk of queries is
    multiplied with the database block by block (block times transposed
    queries, the orientation that runs closest to one large GEMM). The first
    512 columns of the first block are partitioned to seed a running top k
    and its threshold (the k-th best) per query; after that a block's inner
    products are scaled to cosines in place (one pass, by the rows' inverse
    norms) and compared with the thresholds in one vectorised pass, and only
    the scores above them are kept as candidates. Candidates are
    merged into the running top k (one partition of a small padded matrix)
    once a chunk has gathered ``k`` per query, which tightens the
    thresholds; so the work beyond the GEMM is a compare per score plus a
    few candidates per query and block, and no score matrix is kept.

    Peak extra memory: per worker thread one ``(block_size, chunk_size)``
    score block (about 2 MiB on the CPU, within ``working_memory``) and a
    boolean mask of the same shape; the candidates of a chunk (a few times
    ``chunk_size * k``) and ``(chunk_size, k)`` running results; the
    normalised queries; and two floats per database row for the norms. It
    does not grow with the database's size times its width, nor with
    queries times database rows.

    Parameters
    ----------
    queries : array of shape (n_queries, n_features)
    database : array of shape (n_database, n_features)
    k : int, default=10
        Neighbours per query; capped at ``n_database``.
    normalize : bool, default=True
        Divide by the norms (cosine similarity). False ranks by inner
        product (for rows already of unit norm). Zero rows score 0.
    chunk_size : int, default=None
        Queries per chunk.
    block_size : int, default=None
        Database rows per GEMM block.

    Returns
    -------
    indices : int64 array of shape (n_queries, k)
        Database rows, most similar first; among the returned rows exact ties
        are in increasing index order, and which of several rows tied at the
        k-th place is returned is not guaranteed.
    similarities : array of shape (n_queries, k)

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import cosine_topk
    >>> db = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    >>> idx, sim = cosine_topk(np.array([[2, 0.1]], np.float32), db, k=2)
    >>> idx.tolist(), sim.round(3).tolist()
    ([[0, 2]], [[0.999, 0.742]])
    """
    xp = _namespace_of(queries)
    _check_pair(queries, database, "database")
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if (gpu := _gpu_kernels(xp)) is not None and (result := gpu.cosine_topk(
            queries, database, k, normalize=normalize, chunk_size=chunk_size,
            block_size=block_size)) is not NotImplemented:
        return result
    n_queries, d = queries.shape
    n_db = database.shape[0]
    k = min(int(k), n_db)
    dtype = xp.result_type(queries.dtype, database.dtype)
    itemsize = xp.dtype(dtype).itemsize
    indices = xp.empty((n_queries, k), dtype=xp.int64)
    similarities = xp.empty((n_queries, k), dtype=dtype)
    if n_queries == 0:
        return indices, similarities
    q = queries.astype(dtype, copy=True)
    inv_db = None
    if normalize:
        q_norm = xp.sqrt(squared_norms(q))
        q /= xp.where(q_norm > 0, q_norm, 1)[:, None]
        db_norm = xp.sqrt(squared_norms(database.astype(dtype, copy=False)))
        inv_db = 1 / xp.maximum(db_norm, xp.finfo(dtype).tiny)
        inv_db *= db_norm > 0
    n_workers = (_cpu_workers() if xp is np and n_queries * n_db * d >= _PARALLEL_MIN_WORK
                 else 1)
    if chunk_size is None:
        chunk_size = 512 if xp is np else chunk_rows(n_queries, k * 3 * 8 + d * itemsize)
        # give every worker a share of the queries
        chunk_size = max(1, min(chunk_size, -(-n_queries // n_workers)))
    if block_size is None:
        row_bytes = chunk_size * itemsize
        budget = max(1, get_config()["working_memory"] // max(1, n_workers))
        per_block = chunk_rows(n_db, row_bytes, working_memory=budget)
        if xp is np:
            # larger than the assignment's blocks: fewer running-top-k merges
            # (measured fastest around 2 MiB per block of 500 queries)
            per_block = min(per_block, max(16, _TOPK_BLOCK_BYTES // row_bytes))
        block_size = max(k, per_block)
    block_size = max(int(block_size), 1)
    # the first block's top k seeds the thresholds: partitioning a few hundred
    # columns is enough and much cheaper than the whole block
    n_seed = max(k, _TOPK_SEED_COLUMNS)

    def work(start, scratch):
        stop = min(start + chunk_size, n_queries)
        qc = q[start:stop]
        nq = stop - start
        # running top k per query (unordered), the k-th best as the threshold a
        # score must beat to matter, and the candidates found since the last merge
        best_s = xp.full((nq, k), -xp.inf, dtype=dtype)
        best_i = xp.full((nq, k), -1, dtype=xp.int64)
        threshold = xp.full(nq, -xp.inf, dtype=dtype)
        pending, n_pending = [], 0
        qc_t = qc.T
        for b0 in range(0, n_db, block_size):
            b1 = min(b0 + block_size, n_db)
            width = b1 - b0
            # scores of the block as (width, nq): the database block times the
            # transposed queries runs closer to the full GEMM's rate than the
            # (nq, width) product; a contiguous view of a flat buffer
            scores = _scratch(scratch, "scores", xp, (nq * block_size,), dtype)[
                : nq * width].reshape(width, nq)
            xp.matmul(database[b0:b1].astype(dtype, copy=False), qc_t, out=scores)
            lo = 0
            if b0 == 0 and width >= k:
                lo = min(width, n_seed)
                head = scores[:lo].T * inv_db[:lo] if inv_db is not None else scores[:lo].T
                part = xp.argpartition(head, -k, axis=1)[:, -k:]
                best_s, best_i = xp.take_along_axis(head, part, axis=1), part
                threshold = best_s.min(axis=1)
                if lo == width:
                    continue
            rest = scores[lo:] if lo else scores
            if inv_db is not None:
                rest *= inv_db[b0 + lo:b1, None]  # cosines: the exact threshold applies
            above = _scratch(scratch, "above", xp, (nq * block_size,), bool)[
                : nq * (width - lo)]
            xp.greater(rest, threshold[None, :], out=above.reshape(width - lo, nq))
            flat = xp.flatnonzero(above)  # 1-D: much faster than a 2-D nonzero
            if flat.shape[0] == 0:
                continue
            c, r = flat // nq + lo, flat % nq
            found = rest.reshape(-1)[flat]
            pending.append((r, found, c + b0))
            n_pending += flat.shape[0]
            # merging tightens the thresholds; wait until it has work to do
            if n_pending >= nq * k:
                best_s, best_i = _merge_topk(best_s, best_i, pending, k, xp)
                threshold = best_s.min(axis=1)
                pending, n_pending = [], 0
        if pending:
            best_s, best_i = _merge_topk(best_s, best_i, pending, k, xp)
        order = xp.lexsort(xp.stack([best_i, -best_s]), axis=-1)  # ties: lower index first
        similarities[start:stop] = xp.take_along_axis(best_s, order, axis=1)
        indices[start:stop] = xp.take_along_axis(best_i, order, axis=1)

    _run_chunks(xp, range(0, n_queries, chunk_size), work, n_workers)
    return indices, similarities


def _merge_topk(best_s, best_i, pending, k, xp):
    """The top ``k`` per row of the running ``(n_rows, k)`` best and the pending
    ``(rows, scores, indices)`` candidates: the candidates, grouped by row, are laid
    out in a padded ``(n_rows, k + most candidates of a row)`` matrix, then one
    partition per row."""
    n_rows = best_s.shape[0]
    rows = xp.concatenate([p[0] for p in pending])
    order = xp.argsort(rows, kind="stable")
    rows = rows[order]
    counts = xp.bincount(rows, minlength=n_rows)
    first = xp.cumsum(counts) - counts
    columns = k + xp.arange(rows.shape[0]) - first[rows]
    width = k + int(counts.max())
    merged_s = xp.full((n_rows, width), -xp.inf, dtype=best_s.dtype)
    merged_i = xp.full((n_rows, width), -1, dtype=xp.int64)
    merged_s[:, :k], merged_i[:, :k] = best_s, best_i
    merged_s[rows, columns] = xp.concatenate([p[1] for p in pending])[order]
    merged_i[rows, columns] = xp.concatenate([p[2] for p in pending])[order]
    part = xp.argpartition(merged_s, -k, axis=1)[:, -k:]
    return xp.take_along_axis(merged_s, part, axis=1), xp.take_along_axis(merged_i, part, axis=1)


def gmm_posteriors(X, means, variances, weights, *, threshold=0.0, chunk_size=None):
    """Posterior probabilities of the components of a diagonal Gaussian mixture.

    The log-densities are expanded so that each chunk is one GEMM of
    ``[x, x^2]`` against ``[mean / var, -1 / (2 var)]``, then normalised with
    a row-wise log-sum-exp. Posteriors below ``threshold`` are set to 0 (not
    renormalised), as VLFeat's Fisher encoder does, so that later
    aggregation can skip them.

    Peak extra memory: per chunk a ``(chunk_size, 2 n_features)`` copy and a
    ``(chunk_size, n_components)`` block, with ``chunk_size`` chosen from
    ``working_memory``; the output is ``(n_samples, n_components)``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    means : array of shape (n_components, n_features)
    variances : array of shape (n_components, n_features)
        Diagonal covariances, all positive.
    weights : array of shape (n_components,)
        Mixture weights (positive, summing to 1).
    threshold : float, default=0.0
        Posteriors below it become 0.
    chunk_size : int, default=None
        Rows per GEMM.

    Returns
    -------
    posteriors : array of shape (n_samples, n_components)
        Rows sum to 1 (up to the thresholded mass), dtype of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import gmm_posteriors
    >>> means = np.array([[0.0], [4.0]], np.float32)
    >>> var = np.ones((2, 1), np.float32)
    >>> p = gmm_posteriors(np.array([[0.0], [2.0]], np.float32), means, var,
    ...                    np.array([0.5, 0.5], np.float32))
    >>> p.round(4).tolist()
    [[0.9997, 0.0003], [0.5, 0.5]]
    """
    xp = _namespace_of(X)
    _check_pair(X, means, "means")
    _check_mixture(means, variances, weights)
    n, d = X.shape
    n_components = means.shape[0]
    dtype = xp.result_type(X.dtype, means.dtype)
    coef, log_const = _mixture_coefficients(means, variances, weights, xp, dtype)
    posteriors = xp.empty((n, n_components), dtype=dtype)
    if n == 0:
        return posteriors
    itemsize = xp.dtype(dtype).itemsize
    chunk_size, n_workers = _plan(xp, n, (n_components + 2 * d) * itemsize,
                                  2 * d * n_components, chunk_size)

    def work(start, scratch):
        stop = min(start + chunk_size, n)
        lifted = _scratch(scratch, "lifted", xp, (stop - start, 2 * d), dtype)
        lifted[:, :d] = X[start:stop]
        xp.multiply(lifted[:, :d], lifted[:, :d], out=lifted[:, d:])
        logp = posteriors[start:stop]
        xp.matmul(lifted, coef, out=logp)
        logp += log_const
        _softmax(logp, threshold, xp)

    _run_chunks(xp, range(0, n, chunk_size), work, n_workers)
    return posteriors
