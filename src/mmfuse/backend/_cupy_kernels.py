"""GPU fast paths of the backend kernels: cuBLAS GEMMs plus fused CUDA kernels.

:mod:`mmfuse.backend.kernels` calls these for CuPy inputs (see its
``_gpu_kernels``); each returns ``NotImplemented`` for a case it does not
cover (an unsupported dtype, a top-k wider than :data:`MAX_TOPK`), and the
caller then runs the generic array-namespace code, which CuPy also executes.

What runs on the device:

- :func:`assign_nearest`: per chunk of rows one cuBLAS GEMM ``X (-2 C^T)``
  into a ``(chunk, n_centers)`` block (``chunk`` from ``working_memory``),
  then ``mmfuse_argmin_rows``: one warp per row adds ``|c|^2``, keeps a
  running minimum per lane and reduces with warp shuffles (ties go to the
  lower codeword, as :func:`numpy.argmin`). The distance matrix is never
  materialised beyond one chunk.
- :func:`soft_assign` and :func:`cosine_topk`: the GEMM, then
  ``mmfuse_topk_rows``: one thread block per row; each thread keeps a sorted
  list of its strided columns (an insertion only when a score beats its
  current k-th), and the lists are merged pairwise in shared memory. No row
  is sorted; a running top-k is carried from one database block to the next.
- :func:`segment_histogram` and :func:`segment_residuals` (VLAD residuals,
  Fisher-vector statistics, the k-means update): one pass over the votes
  with ``atomicAdd`` into the per-sample outputs; each row finds its sample
  by a binary search in the CSR offsets, so no per-row sample ids are
  materialised, and zero weights are skipped.

The CUDA sources are plain strings compiled lazily by CuPy (NVRTC) the first
time a kernel runs, once per precision (``-DMMFUSE_DOUBLE`` for float64)
and top-k capacity; nothing here imports CuPy at import time. All launches
go through :func:`_launch`, so the host code can be exercised without a GPU
(the test suite runs it against a CPU emulation of the same CUDA source).
"""

from __future__ import annotations

import functools

import numpy as np

from mmfuse.backend._common import _namespace_of, chunk_rows, squared_norms

#: Largest ``k`` (or ``n_nearest``) the top-k selection kernel handles; wider
#: selections fall back to the generic code (a sort on the GPU).
MAX_TOPK = 64
#: Grid size cap: every kernel loops grid-stride over its rows.
_MAX_BLOCKS = 1 << 16
_ARGMIN_THREADS = 256
_HISTOGRAM_THREADS = 256
#: (capacity, threads per block) of the top-k kernel builds: threads x
#: capacity x 16 bytes of shared memory stays within the 48 KiB static limit.
_TOPK_BUILDS = ((8, 256), (16, 128), (32, 64), (64, 32))

KERNEL_SOURCE = r"""
#ifdef MMFUSE_DOUBLE
typedef double real_t;
#define REAL_INF __longlong_as_double(0x7ff0000000000000LL)
#else
typedef float real_t;
#define REAL_INF __int_as_float(0x7f800000)
#endif
#ifndef KCAP
#define KCAP 8
#endif
#ifndef TOPK_THREADS
#define TOPK_THREADS 256
#endif
typedef long long i64;
#define I64_MAX 0x7fffffffffffffffLL

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 600
// float64 atomicAdd is native from compute capability 6.0; before, a CAS loop.
__device__ double atomicAdd(double* address, const double value) {
    unsigned long long* word = (unsigned long long*)address;
    unsigned long long old = *word, assumed;
    do {
        assumed = old;
        old = atomicCAS(word, assumed,
                        __double_as_longlong(value + __longlong_as_double(assumed)));
    } while (assumed != old);
    return __longlong_as_double(old);
}
#endif

// Sample of a row of a ragged (CSR) matrix: the last s with offsets[s] <= row,
// i.e. searchsorted(offsets, row, side="right") - 1, empty samples skipped.
__device__ __forceinline__ i64 mmfuse_segment_of(const i64* offsets, const i64 n_segments,
                                                 const i64 row) {
    i64 lo = 0, hi = n_segments;  // offsets[lo] <= row < offsets[hi]
    while (hi - lo > 1) {
        const i64 mid = (lo + hi) >> 1;
        if (offsets[mid] <= row) lo = mid; else hi = mid;
    }
    return lo;
}

// Row-wise argmin of scores[r, c] + col_add[c], one warp per row: the step
// after the GEMM scores = X (-2 C^T) of a nearest-codeword assignment. Ties
// go to the lower column (numpy.argmin). With want_dist it also writes the
// squared distance max(min + row_add[r], 0).
extern "C" __global__ void mmfuse_argmin_rows(
        const real_t* __restrict__ scores, const real_t* __restrict__ col_add,
        const real_t* __restrict__ row_add, const i64 n_rows, const i64 n_cols,
        const int want_dist, i64* __restrict__ labels, real_t* __restrict__ dist) {
    const int lane = threadIdx.x & 31;
    const i64 warps_per_block = blockDim.x >> 5;
    const i64 n_warps = warps_per_block * gridDim.x;
    for (i64 row = blockIdx.x * warps_per_block + (threadIdx.x >> 5); row < n_rows;
         row += n_warps) {
        const real_t* s = scores + row * n_cols;
        real_t best = REAL_INF;
        i64 arg = n_cols;
        for (i64 c = lane; c < n_cols; c += 32) {
            const real_t v = s[c] + col_add[c];
            if (v < best) { best = v; arg = c; }
        }
        for (int lane_mask = 16; lane_mask > 0; lane_mask >>= 1) {
            const real_t other = __shfl_xor_sync(0xffffffffu, best, lane_mask);
            const i64 other_arg = __shfl_xor_sync(0xffffffffu, arg, lane_mask);
            if (other < best || (other == best && other_arg < arg)) {
                best = other;
                arg = other_arg;
            }
        }
        if (lane == 0) {
            labels[row] = arg < n_cols ? arg : 0;
            if (want_dist) {
                const real_t d = best + row_add[row];
                dist[row] = d > 0 ? d : (real_t)0;
            }
        }
    }
}

__device__ __forceinline__ bool mmfuse_better(const real_t a, const i64 ia, const real_t b,
                                              const i64 ib) {
    return a > b || (a == b && ia < ib);
}

// Insert (v, i) into a list sorted best first holding n of at most k entries.
__device__ __forceinline__ void mmfuse_insert(real_t* vals, i64* idx, int& n, const int k,
                                              const real_t v, const i64 i) {
    if (n == k) {
        if (!mmfuse_better(v, i, vals[k - 1], idx[k - 1])) return;
    } else {
        ++n;
    }
    int j = n - 1;
    while (j > 0 && mmfuse_better(v, i, vals[j - 1], idx[j - 1])) {
        vals[j] = vals[j - 1];
        idx[j] = idx[j - 1];
        --j;
    }
    vals[j] = v;
    idx[j] = i;
}

// Per row of a score block, the k largest values of
//     sign * (scores[r, c] * col_scale[c] + col_add[c])      (scale, add optional)
// merged with a previous top-k of the row (prior_*, sorted best first, as this
// kernel writes it), best first, ties to the lower index; columns are reported
// as c + index_offset. One thread block per
// row (grid-stride over rows): each thread keeps a sorted list of its strided
// columns, then the lists are merged pairwise in shared memory. k <= KCAP and
// blockDim.x <= TOPK_THREADS.
extern "C" __global__ void mmfuse_topk_rows(
        const real_t* __restrict__ scores, const i64 n_rows, const i64 n_cols,
        const i64 row_stride, const real_t* __restrict__ col_scale, const int use_scale,
        const real_t* __restrict__ col_add, const int use_add, const real_t sign,
        const i64 index_offset, const int k, const real_t* __restrict__ prior_vals,
        const i64* __restrict__ prior_idx, const int use_prior,
        real_t* __restrict__ out_vals, i64* __restrict__ out_idx) {
    __shared__ real_t shared_vals[TOPK_THREADS * KCAP];
    __shared__ i64 shared_idx[TOPK_THREADS * KCAP];
    real_t vals[KCAP];
    i64 idx[KCAP];
    real_t merged_vals[KCAP];
    i64 merged_idx[KCAP];
    const int t = threadIdx.x;
    for (i64 row = blockIdx.x; row < n_rows; row += gridDim.x) {
        const real_t* s = scores + row * row_stride;
        // The prior's k-th entry bounds what can still enter the row's top k:
        // one comparison rejects almost every score of later database blocks.
        real_t floor_val = -REAL_INF;
        i64 floor_idx = I64_MAX;
        if (use_prior) {
            floor_val = prior_vals[row * k + k - 1];
            floor_idx = prior_idx[row * k + k - 1];
        }
        int n = 0;
        for (i64 c = t; c < n_cols; c += blockDim.x) {
            real_t v = s[c];
            if (use_scale) v *= col_scale[c];
            if (use_add) v += col_add[c];
            v *= sign;
            if (!mmfuse_better(v, c + index_offset, floor_val, floor_idx)) continue;
            mmfuse_insert(vals, idx, n, k, v, c + index_offset);
        }
        if (use_prior) {
            for (int j = t; j < k; j += blockDim.x) {
                mmfuse_insert(vals, idx, n, k, prior_vals[row * k + j], prior_idx[row * k + j]);
            }
        }
        for (int j = n; j < k; ++j) {
            vals[j] = -REAL_INF;
            idx[j] = I64_MAX;
        }
        for (int j = 0; j < k; ++j) {
            shared_vals[t * KCAP + j] = vals[j];
            shared_idx[t * KCAP + j] = idx[j];
        }
        __syncthreads();
        for (int stride = 1; stride < (int)blockDim.x; stride <<= 1) {
            if (t % (2 * stride) == 0 && t + stride < (int)blockDim.x) {
                const real_t* other_vals = shared_vals + (t + stride) * KCAP;
                const i64* other_idx = shared_idx + (t + stride) * KCAP;
                int a = 0, b = 0;
                for (int j = 0; j < k; ++j) {
                    if (mmfuse_better(vals[a], idx[a], other_vals[b], other_idx[b])) {
                        merged_vals[j] = vals[a];
                        merged_idx[j] = idx[a];
                        ++a;
                    } else {
                        merged_vals[j] = other_vals[b];
                        merged_idx[j] = other_idx[b];
                        ++b;
                    }
                }
                for (int j = 0; j < k; ++j) {
                    vals[j] = merged_vals[j];
                    idx[j] = merged_idx[j];
                    shared_vals[t * KCAP + j] = vals[j];
                    shared_idx[t * KCAP + j] = idx[j];
                }
            }
            __syncthreads();
        }
        if (t == 0) {
            for (int j = 0; j < k; ++j) {
                out_vals[row * k + j] = vals[j];
                out_idx[row * k + j] = idx[j];
            }
        }
        __syncthreads();  // shared lists are rewritten for the next row
    }
}

// hist[sample, labels[r, l]] += weights[r, l] over the votes of rows
// [row_offset, row_offset + n_rows) of a ragged matrix (offsets: CSR of all
// rows); one thread per vote, zero weights skipped. Float64 accumulation.
extern "C" __global__ void mmfuse_segment_histogram(
        const i64* __restrict__ labels, const i64 label_row_stride, const int per_row,
        const real_t* __restrict__ weights, const i64 weight_row_stride, const int use_weights,
        const i64* __restrict__ offsets, const i64 n_segments, const i64 n_rows,
        const i64 row_offset, const i64 n_bins, double* __restrict__ hist) {
    const i64 n_votes = n_rows * per_row;
    const i64 step = (i64)gridDim.x * blockDim.x;
    for (i64 vote = (i64)blockIdx.x * blockDim.x + threadIdx.x; vote < n_votes; vote += step) {
        const i64 r = vote / per_row;
        const i64 l = vote - r * per_row;
        const double w = use_weights ? (double)weights[r * weight_row_stride + l] : 1.0;
        if (w == 0) continue;
        const i64 seg = mmfuse_segment_of(offsets, n_segments, r + row_offset);
        atomicAdd(hist + seg * n_bins + labels[r * label_row_stride + l], w);
    }
}

// For rows [row_offset, row_offset + n_rows) of a ragged matrix X and each of
// their votes (label, weight):
//     residuals[sample, label, :] += weight * (x - centers[label])
//     squares[sample, label, :]   += weight * (x - centers[label])^2   (want_squares)
// One thread block per row (grid-stride), threads over the features; zero
// weights skipped.
extern "C" __global__ void mmfuse_segment_residuals(
        const real_t* __restrict__ X, const i64 n_rows, const int n_features,
        const i64* __restrict__ labels, const i64 label_row_stride, const int per_row,
        const real_t* __restrict__ weights, const i64 weight_row_stride, const int use_weights,
        const real_t* __restrict__ centers, const i64 n_centers,
        const i64* __restrict__ offsets, const i64 n_segments, const i64 row_offset,
        const int want_squares, real_t* __restrict__ residuals, real_t* __restrict__ squares) {
    for (i64 r = blockIdx.x; r < n_rows; r += gridDim.x) {
        const i64 seg = mmfuse_segment_of(offsets, n_segments, r + row_offset);
        const real_t* x = X + r * n_features;
        for (int l = 0; l < per_row; ++l) {
            const real_t w = use_weights ? weights[r * weight_row_stride + l] : (real_t)1;
            if (w == 0) continue;
            const i64 label = labels[r * label_row_stride + l];
            const real_t* c = centers + label * n_features;
            const i64 out = (seg * n_centers + label) * n_features;
            for (int f = threadIdx.x; f < n_features; f += blockDim.x) {
                const real_t diff = x[f] - c[f];
                atomicAdd(residuals + out + f, w * diff);
                if (want_squares) atomicAdd(squares + out + f, w * diff * diff);
            }
        }
    }
}
"""

KERNEL_NAMES = ("mmfuse_argmin_rows", "mmfuse_topk_rows", "mmfuse_segment_histogram",
                "mmfuse_segment_residuals")


def compile_options(double: bool, kcap: int = 8) -> tuple[str, ...]:
    """Preprocessor options of one build of :data:`KERNEL_SOURCE`."""
    threads = dict(_TOPK_BUILDS)[kcap]
    options = [f"-DKCAP={kcap}", f"-DTOPK_THREADS={threads}"]
    if double:
        options.append("-DMMFUSE_DOUBLE")
    return tuple(options)


@functools.cache
def _module(double: bool, kcap: int):
    import cupy

    return cupy.RawModule(code=KERNEL_SOURCE, options=compile_options(double, kcap))


def _launch(name, grid, block, args, *, double, kcap=8):
    """Run kernel ``name`` of the build (precision, top-k capacity) on the GPU.

    ``args`` must be CuPy arrays (passed as pointers) and NumPy scalars whose
    dtypes match the kernel's parameters exactly.
    """
    _module(bool(double), int(kcap)).get_function(name)((int(grid),), (int(block),), args)


def _grid(n_items: int, per_block: int = 1) -> int:
    return int(max(1, min(-(-n_items // per_block), _MAX_BLOCKS)))


def _real(xp, *dtypes):
    """Common float dtype and whether it is float64; None when not float32/64."""
    dtype = xp.result_type(*dtypes)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        return None, None
    return np.dtype(dtype), dtype == np.float64


def _rows(a, dtype, xp):
    """``a`` as rows of votes with unit inner stride: ``(array, row_stride)``.

    1-D arrays become one column. Broadcast rows (stride 0, like the
    ``broadcast_to(arange(k))`` labels of a Fisher vector) are kept, not
    materialised.
    """
    a = a.astype(dtype, copy=False)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    item = a.dtype.itemsize
    if ((a.shape[1] > 1 and a.strides[1] != item) or a.strides[0] < 0
            or a.strides[0] % item):
        a = xp.ascontiguousarray(a)
    return a, np.int64(a.strides[0] // item)


def _dummy(xp, dtype):
    return xp.zeros(1, dtype=dtype)


def _kcap(k: int) -> int:
    return next(cap for cap, _ in _TOPK_BUILDS if cap >= k)


def _topk_rows(xp, scores, k, *, sign, col_scale=None, col_add=None, index_offset=0,
               prior=None, out=None):
    """Launch ``mmfuse_topk_rows`` on a C-contiguous ``(n_rows, n_cols)`` block."""
    n_rows, n_cols = scores.shape
    dtype = scores.dtype
    kcap = _kcap(k)
    threads = dict(_TOPK_BUILDS)[kcap]
    no_scale, no_add = _dummy(xp, dtype), _dummy(xp, dtype)
    if out is None:
        out = (xp.empty((n_rows, k), dtype=dtype), xp.empty((n_rows, k), dtype=np.int64))
    prior_vals, prior_idx = (prior if prior is not None
                             else (_dummy(xp, dtype), xp.zeros(1, dtype=np.int64)))
    _launch("mmfuse_topk_rows", _grid(n_rows), threads, (
        scores, np.int64(n_rows), np.int64(n_cols), np.int64(scores.strides[0] // dtype.itemsize),
        no_scale if col_scale is None else col_scale, np.int32(col_scale is not None),
        no_add if col_add is None else col_add, np.int32(col_add is not None),
        dtype.type(sign), np.int64(index_offset), np.int32(k),
        prior_vals, prior_idx, np.int32(prior is not None), out[0], out[1],
    ), double=dtype == np.float64, kcap=kcap)
    return out


def assign_nearest(X, centers, *, centers_sq=None, return_distances=True, chunk_size=None):
    """GPU :func:`mmfuse.backend.assign_nearest`: cuBLAS GEMM + fused argmin."""
    xp = _namespace_of(X)
    dtype, double = _real(xp, X.dtype, centers.dtype)
    if dtype is None:
        return NotImplemented
    n, n_centers = X.shape[0], centers.shape[0]
    centers = xp.ascontiguousarray(centers.astype(dtype, copy=False))
    if centers_sq is None:
        centers_sq = squared_norms(centers)
    centers_sq = xp.ascontiguousarray(centers_sq.astype(dtype, copy=False))
    labels = xp.empty(n, dtype=np.int64)
    distances = xp.empty(n, dtype=dtype) if return_distances else None
    if n == 0:
        return (labels, distances) if return_distances else labels
    if chunk_size is None:
        chunk_size = chunk_rows(n, n_centers * dtype.itemsize)
    chunk_size = int(max(1, min(chunk_size, n)))
    minus_two_ct = xp.ascontiguousarray((centers * -2).T)
    scores_buf = xp.empty((chunk_size, n_centers), dtype=dtype)
    no_row_add, no_distances = _dummy(xp, dtype), _dummy(xp, dtype)
    per_block = _ARGMIN_THREADS // 32
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        block = X[start:stop].astype(dtype, copy=False)
        scores = scores_buf[: stop - start]
        xp.matmul(block, minus_two_ct, out=scores)
        row_add = squared_norms(block) if return_distances else no_row_add
        _launch("mmfuse_argmin_rows", _grid(stop - start, per_block), _ARGMIN_THREADS, (
            scores, centers_sq, row_add, np.int64(stop - start), np.int64(n_centers),
            np.int32(return_distances), labels[start:stop],
            distances[start:stop] if return_distances else no_distances,
        ), double=double)
    return (labels, distances) if return_distances else labels


def soft_assign(X, centers, *, n_nearest=5, bandwidth=1.0, centers_sq=None, chunk_size=None):
    """GPU :func:`mmfuse.backend.soft_assign`: GEMM + fused nearest-m selection."""
    xp = _namespace_of(X)
    dtype, _ = _real(xp, X.dtype, centers.dtype)
    n, n_centers = X.shape[0], centers.shape[0]
    m = min(int(n_nearest), n_centers)
    if dtype is None or m > MAX_TOPK:
        return NotImplemented
    centers = xp.ascontiguousarray(centers.astype(dtype, copy=False))
    if centers_sq is None:
        centers_sq = squared_norms(centers)
    centers_sq = xp.ascontiguousarray(centers_sq.astype(dtype, copy=False))
    labels = xp.empty((n, m), dtype=np.int64)
    weights = xp.empty((n, m), dtype=dtype)
    if n == 0:
        return labels, weights
    if chunk_size is None:
        chunk_size = chunk_rows(n, n_centers * dtype.itemsize)
    chunk_size = int(max(1, min(chunk_size, n)))
    minus_two_ct = xp.ascontiguousarray((centers * -2).T)
    scores_buf = xp.empty((chunk_size, n_centers), dtype=dtype)
    scale = -0.5 / float(bandwidth) ** 2
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        scores = scores_buf[: stop - start]
        xp.matmul(X[start:stop].astype(dtype, copy=False), minus_two_ct, out=scores)
        # the m largest of -(score + |c|^2): the nearest codewords, closest first
        w, _ = _topk_rows(xp, scores, m, sign=-1, col_add=centers_sq,
                          out=(weights[start:stop], labels[start:stop]))
        # w = -(distance - |x|^2), in place in ``weights``; |x|^2 is common to
        # the row and cancels in the normalisation.
        w -= w[:, :1].copy()
        w *= -scale
        xp.exp(w, out=w)
        w /= w.sum(axis=1, keepdims=True)
    return labels, weights


def cosine_topk(queries, database, k=10, *, normalize=True, chunk_size=None, block_size=None):
    """GPU :func:`mmfuse.backend.cosine_topk`: blocked GEMMs + fused running top-k."""
    xp = _namespace_of(queries)
    dtype, _ = _real(xp, queries.dtype, database.dtype)
    n_queries, _ = queries.shape
    n_db = database.shape[0]
    k = min(int(k), n_db)
    if dtype is None or k > MAX_TOPK:
        return NotImplemented
    indices = xp.empty((n_queries, k), dtype=np.int64)
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
        del db_norm
    if chunk_size is None:
        chunk_size = 4096
    chunk_size = int(max(1, min(chunk_size, n_queries)))
    if block_size is None:
        block_size = chunk_rows(n_db, chunk_size * dtype.itemsize)
    block_size = int(min(max(int(block_size), k, 1), n_db))
    scores_buf = xp.empty(chunk_size * block_size, dtype=dtype)
    for start in range(0, n_queries, chunk_size):
        stop = min(start + chunk_size, n_queries)
        nq = stop - start
        qc = q[start:stop]
        # two result buffers used in turn: the previous top-k is an input
        results = [(xp.empty((nq, k), dtype=dtype), xp.empty((nq, k), dtype=np.int64))
                   for _ in range(2)]
        best = None
        for i, b0 in enumerate(range(0, n_db, block_size)):
            b1 = min(b0 + block_size, n_db)
            scores = scores_buf[: nq * (b1 - b0)].reshape(nq, b1 - b0)
            xp.matmul(qc, database[b0:b1].astype(dtype, copy=False).T, out=scores)
            best = _topk_rows(xp, scores, k, sign=1,
                              col_scale=None if inv_db is None else inv_db[b0:b1],
                              index_offset=b0, prior=best, out=results[i % 2])
        similarities[start:stop] = best[0]
        indices[start:stop] = best[1]
    return indices, similarities


def segment_histogram(labels, offsets, n_bins, weights=None, *, chunk_size=None):
    """GPU :func:`mmfuse.backend.segment_histogram` (inputs already validated)."""
    xp = _namespace_of(labels)
    n_samples = offsets.shape[0] - 1
    n = labels.shape[0]
    if weights is not None:
        wdtype, double = _real(xp, weights.dtype)
        if wdtype is None:
            return NotImplemented
    else:
        wdtype, double = np.dtype(np.float32), False
    hist = xp.zeros((n_samples, n_bins), dtype=np.float64)
    if n > 0:
        offsets = xp.ascontiguousarray(offsets.astype(np.int64, copy=False))
        lab, lab_stride = _rows(labels, np.int64, xp)
        per_row = lab.shape[1]
        if weights is None:
            w, w_stride = _dummy(xp, wdtype), np.int64(0)
        else:
            w, w_stride = _rows(weights, wdtype, xp)
        if chunk_size is None:
            chunk_size = n
        chunk_size = int(max(1, chunk_size))
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            n_votes = (stop - start) * per_row
            _launch("mmfuse_segment_histogram", _grid(n_votes, _HISTOGRAM_THREADS),
                    _HISTOGRAM_THREADS, (
                        lab[start:stop], lab_stride, np.int32(per_row),
                        w if weights is None else w[start:stop], w_stride,
                        np.int32(weights is not None), offsets, np.int64(n_samples),
                        np.int64(stop - start), np.int64(start), np.int64(n_bins), hist,
                    ), double=double)
    return hist.astype(wdtype, copy=False)


def segment_residuals(X, offsets, labels, centers, weights=None, *, return_squares=False,
                      chunk_size=None):
    """GPU :func:`mmfuse.backend.segment_residuals` (inputs already validated)."""
    xp = _namespace_of(X)
    dtypes = [X.dtype, centers.dtype] + ([] if weights is None else [weights.dtype])
    dtype, double = _real(xp, *dtypes)
    if dtype is None:
        return NotImplemented
    n, d = X.shape
    n_centers = centers.shape[0]
    n_samples = offsets.shape[0] - 1
    shape = (n_samples, n_centers, d)
    residuals = xp.zeros(shape, dtype=dtype)
    squares = xp.zeros(shape, dtype=dtype) if return_squares else None
    if n > 0:
        offsets = xp.ascontiguousarray(offsets.astype(np.int64, copy=False))
        centers = xp.ascontiguousarray(centers.astype(dtype, copy=False))
        lab, lab_stride = _rows(labels, np.int64, xp)
        per_row = lab.shape[1]
        if weights is None:
            w, w_stride = _dummy(xp, dtype), np.int64(0)
        else:
            w, w_stride = _rows(weights, dtype, xp)
        X = X if X.flags.c_contiguous else xp.ascontiguousarray(X)
        if chunk_size is None:
            # only rows of another dtype are copied, chunk by chunk
            chunk_size = n if X.dtype == dtype else chunk_rows(n, d * dtype.itemsize)
        chunk_size = int(max(1, chunk_size))
        threads = int(min(256, -(-d // 32) * 32))
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            _launch("mmfuse_segment_residuals", _grid(stop - start), threads, (
                X[start:stop].astype(dtype, copy=False), np.int64(stop - start), np.int32(d),
                lab[start:stop], lab_stride, np.int32(per_row),
                w if weights is None else w[start:stop], w_stride,
                np.int32(weights is not None), centers, np.int64(n_centers),
                offsets, np.int64(n_samples), np.int64(start), np.int32(return_squares),
                residuals, squares if return_squares else _dummy(xp, dtype),
            ), double=double)
    return (residuals, squares) if return_squares else residuals
