"""Kernels behind the encoders and retrieval, against brute-force NumPy / sklearn."""

import tracemalloc

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from mmfuse import config_context
from mmfuse.backend import (
    assign_nearest,
    cosine_topk,
    for_row_blocks,
    gmm_fisher_statistics,
    gmm_posteriors,
    gmm_segment_statistics,
    segment_histogram,
    segment_residuals,
    soft_assign,
)


@pytest.mark.parametrize("n_nearest", [1, 4, 50])
@pytest.mark.parametrize("chunk_size", [None, 7])
def test_soft_assign_matches_brute_force(n_nearest, chunk_size):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8)).astype(np.float32)
    C = rng.normal(size=(20, 8)).astype(np.float32)
    labels, weights = soft_assign(X, C, n_nearest=n_nearest, bandwidth=1.3,
                                  chunk_size=chunk_size)
    m = min(n_nearest, 20)
    d2 = cdist(X.astype(np.float64), C.astype(np.float64), "sqeuclidean")
    near = np.argsort(d2, axis=1)[:, :m]
    w = np.exp(-np.take_along_axis(d2, near, 1) / (2 * 1.3**2))
    w /= w.sum(axis=1, keepdims=True)
    assert labels.shape == weights.shape == (300, m) and weights.dtype == np.float32
    np.testing.assert_array_equal(labels, near)
    np.testing.assert_allclose(weights, w, rtol=1e-4, atol=1e-6)
    hard = assign_nearest(X, C, return_distances=False)
    np.testing.assert_array_equal(labels[:, 0], hard)


def test_soft_assign_errors_and_empty():
    C = np.ones((3, 2), np.float32)
    labels, weights = soft_assign(np.zeros((0, 2), np.float32), C, n_nearest=2)
    assert labels.shape == weights.shape == (0, 2)
    with pytest.raises(ValueError, match="n_nearest"):
        soft_assign(np.zeros((1, 2), np.float32), C, n_nearest=0)
    with pytest.raises(ValueError, match="bandwidth"):
        soft_assign(np.zeros((1, 2), np.float32), C, bandwidth=0)


def test_segment_histogram_soft_votes():
    rng = np.random.default_rng(4)
    offsets = np.array([0, 3, 3, 7])
    labels = rng.integers(0, 5, size=(7, 2))
    weights = rng.random((7, 2)).astype(np.float32)
    hist = segment_histogram(labels, offsets, 5, weights=weights)
    np.testing.assert_allclose(segment_histogram(labels, offsets, 5, weights=weights,
                                                 chunk_size=2), hist, rtol=1e-6)
    for i in range(3):
        seg = slice(offsets[i], offsets[i + 1])
        expected = np.bincount(labels[seg].ravel(), weights[seg].ravel(), minlength=5)
        np.testing.assert_allclose(hist[i], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="weights"):
        segment_histogram(labels, offsets, 5, weights=weights[:, :1])


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("chunk_size", [None, 1, 5])
def test_segment_residuals_matches_loop(soft, chunk_size):
    rng = np.random.default_rng(1)
    lengths = np.array([6, 0, 11, 1, 0, 9])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    X = rng.normal(size=(offsets[-1], 3)).astype(np.float32)
    C = rng.normal(size=(4, 3)).astype(np.float32)
    if soft:
        labels = rng.integers(0, 4, size=(len(X), 3))
        weights = rng.random((len(X), 3)).astype(np.float32)
        weights[weights < 0.3] = 0  # zero votes are skipped
    else:
        labels, weights = rng.integers(0, 4, size=len(X)), None
    R, Q = segment_residuals(X, offsets, labels, C, weights, return_squares=True,
                             chunk_size=chunk_size)
    lab2 = labels.reshape(len(X), -1)
    w2 = np.ones(lab2.shape) if weights is None else weights
    eR = np.zeros((len(lengths), 4, 3))
    eQ = np.zeros((len(lengths), 4, 3))
    for i in range(len(lengths)):
        for j in range(offsets[i], offsets[i + 1]):
            for k, w in zip(lab2[j], w2[j], strict=True):
                eR[i, k] += w * (X[j] - C[k])
                eQ[i, k] += w * (X[j] - C[k]) ** 2
    np.testing.assert_allclose(R, eR, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(Q, eQ, rtol=1e-5, atol=1e-5)
    only = segment_residuals(X, offsets, labels, C, weights, chunk_size=chunk_size)
    np.testing.assert_allclose(only, R, rtol=1e-6)


def test_segment_residuals_errors():
    X = np.zeros((3, 2), np.float32)
    C = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="agree"):
        segment_residuals(X, np.array([0, 2]), np.zeros(3, int), C)
    with pytest.raises(ValueError, match="weights"):
        segment_residuals(X, np.array([0, 3]), np.zeros(3, int), C, np.ones(2))
    R = segment_residuals(np.zeros((0, 2), np.float32), np.array([0, 0]), np.zeros(0, int), C)
    assert R.shape == (1, 2, 2) and not R.any()


def _brute_topk(Q, D, k):
    qn = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-30)
    dn = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-30)
    S = qn.astype(np.float64) @ dn.T.astype(np.float64)
    idx = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(S, idx, 1)


@pytest.mark.parametrize("chunk_size, block_size", [(None, None), (3, 5), (1, 64), (50, 2)])
@pytest.mark.parametrize("k", [1, 10, 40])
def test_cosine_topk_matches_brute_force(chunk_size, block_size, k):
    rng = np.random.default_rng(2)
    D = rng.normal(size=(333, 12)).astype(np.float32)
    Q = rng.normal(size=(37, 12)).astype(np.float32)
    idx, sim = cosine_topk(Q, D, k, chunk_size=chunk_size, block_size=block_size)
    e_idx, e_sim = _brute_topk(Q, D, k)
    assert idx.shape == sim.shape == (37, k) and sim.dtype == np.float32
    np.testing.assert_array_equal(idx, e_idx)
    np.testing.assert_allclose(sim, e_sim, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("block_size", [None, 7, 64, 600])
def test_cosine_topk_with_uneven_norms_zero_rows_and_negative_scores(block_size):
    # rows of norms from 1e-3 to 1e3 (the per-block norm bound of the raw scores
    # must not drop any), zero rows (cosine 0), and queries whose best cosines
    # are negative (thresholds below zero)
    rng = np.random.default_rng(8)
    D = rng.normal(size=(700, 9)) * np.exp(rng.uniform(-7, 7, size=(700, 1)))
    D[[3, 250, 699]] = 0
    D = D.astype(np.float32)
    Q = rng.normal(size=(41, 9)).astype(np.float32)
    for k in (1, 10, 300):
        idx, sim = cosine_topk(Q, D, k, block_size=block_size)
        e_idx, e_sim = _brute_topk(Q, D, k)
        np.testing.assert_allclose(sim, e_sim, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(idx, e_idx)
    # a positive orthant and a query pointing away from it: every cosine < 0
    P = np.abs(D[:100]) + 1e-3
    away = -np.abs(Q[:5])
    idx, sim = cosine_topk(away, P, 7, block_size=block_size)
    e_idx, e_sim = _brute_topk(away, P, 7)
    assert (e_sim < 0).all()
    np.testing.assert_array_equal(idx, e_idx)
    np.testing.assert_allclose(sim, e_sim, rtol=1e-5, atol=1e-6)


def test_cosine_topk_ties_come_in_index_order():
    D = np.repeat(np.eye(4, dtype=np.float32), 5, axis=0)  # 5 copies of each axis
    Q = np.eye(4, dtype=np.float32)[[2, 0]]
    idx, sim = cosine_topk(Q, D, 5, block_size=3)
    np.testing.assert_array_equal(idx, [[10, 11, 12, 13, 14], [0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(sim, 1.0)


def test_cosine_topk_agrees_with_sklearn_and_edge_cases():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(3)
    D = rng.normal(size=(500, 16)).astype(np.float32)
    D[7] = 0  # a zero row scores 0
    Q = rng.normal(size=(20, 16)).astype(np.float32)
    nn = NearestNeighbors(n_neighbors=5, metric="cosine", algorithm="brute").fit(D)
    dist, e_idx = nn.kneighbors(Q)
    idx, sim = cosine_topk(Q, D, 5)
    np.testing.assert_array_equal(idx, e_idx)
    np.testing.assert_allclose(sim, 1 - dist, rtol=1e-4, atol=1e-5)
    # k larger than the database, inner product without normalisation
    idx, sim = cosine_topk(Q, D[:3], 10, normalize=False)
    assert idx.shape == (20, 3)
    np.testing.assert_allclose(sim, np.sort(Q @ D[:3].T, axis=1)[:, ::-1], rtol=1e-5)
    idx, _ = cosine_topk(np.zeros((0, 16), np.float32), D, 3)
    assert idx.shape == (0, 3)
    with pytest.raises(ValueError, match="k must be"):
        cosine_topk(Q, D, 0)
    with pytest.raises(ValueError, match="same number of columns"):
        cosine_topk(Q, D[:, :3], 2)


def test_gmm_posteriors_match_sklearn():
    rng = np.random.default_rng(5)
    X = (rng.normal(size=(2000, 6)) * [1, 2, 3, 1, 1, 5] + 2).astype(np.float32)
    gmm = GaussianMixture(5, covariance_type="diag", random_state=0).fit(X)
    args = [a.astype(np.float32) for a in (gmm.means_, gmm.covariances_, gmm.weights_)]
    post = gmm_posteriors(X, *args, chunk_size=77)
    np.testing.assert_allclose(post, gmm.predict_proba(X), atol=1e-4)
    cut = gmm_posteriors(X, *args, threshold=0.1)
    expected = gmm.predict_proba(X)
    expected[expected < 0.1] = 0
    np.testing.assert_allclose(cut, expected, atol=1e-4)
    with pytest.raises(ValueError, match="one mixture"):
        gmm_posteriors(X, args[0], args[1][:2], args[2])


@pytest.mark.parametrize("chunk_size", [None, 7, 64])
@pytest.mark.parametrize("threshold", [0.0, 0.05])
@pytest.mark.parametrize("shuffled", [False, True])
def test_gmm_fisher_statistics_match_sklearn_posteriors(chunk_size, threshold, shuffled):
    # sklearn's posteriors and NumPy sums per sample, in float64, as the reference;
    # empty samples first, between and last, samples longer than a chunk, one row
    rng = np.random.default_rng(11)
    lengths = [0, 5, 0, 1, 40, 0, 150, 9, 0]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    n = int(offsets[-1])
    X = (rng.normal(size=(n + 13, 6)) * [1, 2, 3, 1, 1, 5] + 2).astype(np.float32)
    rows = rng.permutation(n + 13)[:n] if shuffled else None
    taken = X[rows] if shuffled else X[:n]
    if not shuffled:
        X = X[:n]
    gmm = GaussianMixture(5, covariance_type="diag", random_state=0).fit(taken)
    mix = [a.astype(np.float32) for a in (gmm.means_, gmm.covariances_, gmm.weights_)]
    mass, first, second = gmm_fisher_statistics(X, offsets, *mix, rows=rows,
                                                threshold=threshold, chunk_size=chunk_size)
    assert mass.shape == (len(lengths), 5) and first.shape == second.shape == (len(lengths), 5, 6)
    post = gmm.predict_proba(taken.astype(np.float64))
    post[post < threshold] = 0
    for i in range(len(lengths)):
        x = taken[offsets[i]:offsets[i + 1]].astype(np.float64)
        g = post[offsets[i]:offsets[i + 1]]
        r = x[:, None, :] - gmm.means_[None]
        np.testing.assert_allclose(mass[i], g.sum(0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(first[i], np.einsum("tk,tkd->kd", g, r), rtol=1e-3, atol=2e-3)
        np.testing.assert_allclose(second[i], np.einsum("tk,tkd->kd", g, r ** 2), rtol=1e-3,
                                   atol=2e-2)


def test_gmm_fisher_statistics_equal_the_two_step_kernels():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(3000, 8)).astype(np.float32) * 2
    offsets = np.array([0, 700, 700, 2999, 3000])
    means = rng.normal(size=(16, 8)).astype(np.float32)
    var = rng.uniform(0.5, 2, size=(16, 8)).astype(np.float32)
    w = rng.dirichlet(np.ones(16)).astype(np.float32)
    post = gmm_posteriors(X, means, var, w, threshold=1e-6)
    expected = gmm_segment_statistics(X, offsets, post, means)
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="blas"):
            got = gmm_fisher_statistics(X, offsets, means, var, w, threshold=1e-6)
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="offsets end at"):
        gmm_fisher_statistics(X, offsets[:-1], means, var, w)
    with pytest.raises(ValueError, match="rows has 5 rows"):
        gmm_fisher_statistics(X, offsets, means, var, w, rows=np.arange(5))
    with pytest.raises(ValueError, match="one mixture"):
        gmm_fisher_statistics(X, offsets, means, var[:3], w)
    with pytest.raises(ValueError, match="must index the 3000 rows"):
        gmm_fisher_statistics(X, offsets, means, var, w, rows=np.arange(3000) + 1)


@pytest.mark.parametrize("parallel", [False, True])
def test_for_row_blocks_covers_every_row_once(parallel):
    hits = np.zeros(1000, dtype=np.int64)

    def work(start, stop):
        hits[start:stop] += 1

    with threadpool_limits(2, user_api="blas"):
        for_row_blocks(np, 1000, 37, work, parallel=parallel)
    np.testing.assert_array_equal(hits, 1)


def _peak_extra_bytes(fn, *args, **kwargs):
    """Peak traced allocation during ``fn`` minus the size of what it returns."""
    tracemalloc.start()
    try:
        out = fn(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    outs = out if isinstance(out, tuple) else (out,)
    return peak - sum(o.nbytes for o in outs)


def _kernel_extras(n, threads):
    rng = np.random.default_rng(6)
    C = rng.normal(size=(64, 16)).astype(np.float32)
    var = np.ones_like(C)
    w = np.full(64, 1 / 64, np.float32)
    X = rng.normal(size=(n, 16)).astype(np.float32)
    offsets = np.array([0, n // 3, n])
    labels = assign_nearest(X, C, return_distances=False)
    with config_context(working_memory=1), threadpool_limits(threads, user_api="blas"):
        return [
            _peak_extra_bytes(assign_nearest, X, C),
            _peak_extra_bytes(soft_assign, X, C, n_nearest=3),
            _peak_extra_bytes(gmm_posteriors, X, C, var, w),
            _peak_extra_bytes(gmm_fisher_statistics, X, offsets, C, var, w),
            _peak_extra_bytes(segment_residuals, X, offsets, labels, C, return_squares=True),
            _peak_extra_bytes(segment_histogram, labels, offsets, 64),
        ]


def test_kernel_memory_is_not_proportional_to_descriptors():
    # One worker: the temporaries are the same for 100,000 and 400,000 descriptors
    # (300,000 more descriptors are 19 MB of input; every chunk is < 100,000 rows here).
    for small, large in zip(_kernel_extras(100_000, 1), _kernel_extras(400_000, 1), strict=True):
        assert large < small + 200_000, (small, large)
    # Threads: one block per worker that got a chunk (<= 4 MiB for 2 workers with
    # working_memory=1 MiB for the scores and their argpartition); still no growth with n.
    for small, large in zip(_kernel_extras(100_000, 2), _kernel_extras(400_000, 2), strict=True):
        assert large < small + 4 * 2**20, (small, large)


def test_cosine_topk_memory_is_not_proportional_to_database():
    rng = np.random.default_rng(7)
    Q = rng.normal(size=(64, 32)).astype(np.float32)

    def extra(n, threads):
        D = rng.normal(size=(n, 32)).astype(np.float32)
        with config_context(working_memory=1), threadpool_limits(threads, user_api="blas"):
            return _peak_extra_bytes(cosine_topk, Q, D, 10)

    # a few floats of norms per database row are allowed (<= 16 B/row); copying the
    # database (128 B/row: 23 MB more for the larger one) is not
    assert extra(200_000, 1) < extra(20_000, 1) + 16 * 180_000
    # threads: at most one score block and its argpartition per worker in addition
    assert extra(200_000, 2) < extra(20_000, 2) + 16 * 180_000 + 6 * 2**20


@pytest.mark.gpu
def test_encoding_kernels_gpu_parity():
    import cupy

    rng = np.random.default_rng(8)
    X = rng.normal(size=(3000, 16)).astype(np.float32)
    C = rng.normal(size=(40, 16)).astype(np.float32)
    offsets = np.array([0, 1000, 1000, 3000])
    g = cupy.asarray
    lab, w = soft_assign(X, C, n_nearest=3)
    glab, gw = soft_assign(g(X), g(C), n_nearest=3)
    assert (cupy.asnumpy(glab) == lab).mean() > 0.999
    np.testing.assert_allclose(cupy.asnumpy(gw), w, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(
        cupy.asnumpy(segment_histogram(glab, g(offsets), 40, weights=gw)),
        segment_histogram(lab, offsets, 40, weights=w), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        cupy.asnumpy(segment_residuals(g(X), g(offsets), glab, g(C), gw)),
        segment_residuals(X, offsets, lab, C, w), rtol=1e-3, atol=1e-3)
    idx, sim = cosine_topk(X[:50], X, 5)
    gidx, gsim = cosine_topk(g(X[:50]), g(X), 5)
    np.testing.assert_array_equal(cupy.asnumpy(gidx), idx)
    np.testing.assert_allclose(cupy.asnumpy(gsim), sim, rtol=1e-4, atol=1e-5)
    var, wts = np.ones_like(C), np.full(40, 1 / 40, np.float32)
    np.testing.assert_allclose(cupy.asnumpy(gmm_posteriors(g(X), g(C), g(var), g(wts))),
                               gmm_posteriors(X, C, var, wts), atol=1e-4)
