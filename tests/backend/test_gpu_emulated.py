"""The GPU code path without a GPU: host glue + CUDA kernels run on a CPU emulation.

``mmfuse.backend._cupy_kernels`` is exercised with NumPy arrays: its GEMMs run
in NumPy and its kernel launches go to ``_cuda_emulator.EmulatedLauncher``,
which compiles the very CUDA source CuPy would compile (with g++ and a thread
shim) and checks every launch argument against the kernel signature. Results
are compared with brute-force NumPy / SciPy references. The grid is capped at
3 blocks so that every grid-stride loop runs more than once.

The encoder tests route the backend kernels' CuPy fast paths to NumPy inputs
(``kernels._gpu_kernels``), so BagOfWords, VLAD, FisherVector, SpatialPyramid,
CrossModalIndex and k-means run through the GPU code end to end.
"""

from __future__ import annotations

import numpy as np
import pytest
from _cuda_emulator import EmulatedLauncher, compiler_available
from scipy.spatial.distance import cdist

pytestmark = pytest.mark.skipif(not compiler_available(),
                                reason="needs g++ (with ucontext.h) for the CUDA emulation")


@pytest.fixture(scope="module")
def gpu():
    """``_cupy_kernels`` with emulated launches and a 3-block grid cap."""
    from mmfuse.backend import _cupy_kernels

    launcher = EmulatedLauncher(_cupy_kernels.KERNEL_SOURCE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_cupy_kernels, "_launch", launcher)
        mp.setattr(_cupy_kernels, "_MAX_BLOCKS", 3)
        mp.setattr(_cupy_kernels, "launcher", launcher, raising=False)
        yield _cupy_kernels


@pytest.fixture
def routed(gpu, monkeypatch):
    """The backend kernels send NumPy inputs down the GPU code path too."""
    from mmfuse.backend import kernels

    monkeypatch.setattr(kernels, "_gpu_kernels", lambda xp: gpu)
    return gpu


def _integer_data(rng, n, k, d, dtype):
    # small integers: GEMMs are exact, so exact ties exist and must break the
    # way NumPy breaks them (lowest index first)
    X = rng.integers(-2, 3, size=(n, d)).astype(dtype)
    C = rng.integers(-2, 3, size=(k, d)).astype(dtype)
    return X, C


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_size", [None, 13])
def test_assign_nearest_kernel_matches_argmin_with_ties(gpu, dtype, chunk_size):
    rng = np.random.default_rng(0)
    X, C = _integer_data(rng, 61, 45, 5, dtype)
    labels, d2 = gpu.assign_nearest(X, C, chunk_size=chunk_size)
    full = cdist(X.astype(np.float64), C.astype(np.float64), "sqeuclidean")
    assert (full == full.min(axis=1, keepdims=True)).sum(axis=1).max() > 1, "no ties tested"
    np.testing.assert_array_equal(labels, full.argmin(axis=1))
    np.testing.assert_array_equal(d2, full.min(axis=1))
    assert labels.dtype == np.int64 and d2.dtype == dtype
    only = gpu.assign_nearest(X, C, return_distances=False, chunk_size=chunk_size)
    np.testing.assert_array_equal(only, labels)


def test_assign_nearest_kernel_random_floats_and_empty(gpu):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 16)).astype(np.float32)
    C = rng.normal(size=(70, 16)).astype(np.float32)
    labels, d2 = gpu.assign_nearest(X, C)
    full = cdist(X.astype(np.float64), C.astype(np.float64), "sqeuclidean")
    np.testing.assert_array_equal(labels, full.argmin(axis=1))
    np.testing.assert_allclose(d2, full.min(axis=1), rtol=1e-4, atol=1e-4)
    labels, d2 = gpu.assign_nearest(X[:0], C)
    assert labels.shape == (0,) and d2.shape == (0,)
    assert gpu.assign_nearest(X.astype(np.int32), C.astype(np.int32)) is NotImplemented


@pytest.mark.parametrize("n_nearest", [1, 5, 9, 64])
def test_soft_assign_kernel_matches_brute_force(gpu, n_nearest):
    rng = np.random.default_rng(2)
    X, C = _integer_data(rng, 20, 70, 4, np.float32)
    labels, weights = gpu.soft_assign(X, C, n_nearest=n_nearest, bandwidth=1.5, chunk_size=8)
    full = cdist(X.astype(np.float64), C.astype(np.float64), "sqeuclidean")
    expected = np.argsort(full, axis=1, kind="stable")[:, :n_nearest]  # ties: lower index
    np.testing.assert_array_equal(labels, expected)
    near = np.take_along_axis(full, expected, axis=1)
    w = np.exp(-(near - near[:, :1]) / (2 * 1.5 ** 2))
    np.testing.assert_allclose(weights, w / w.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
    assert gpu.soft_assign(X, C, n_nearest=65) is NotImplemented


def _cosine(Q, D):
    def unit(A):
        norms = np.linalg.norm(A, axis=1, keepdims=True)
        return A / np.where(norms > 0, norms, 1)

    return unit(Q.astype(np.float64)) @ unit(D.astype(np.float64)).T


@pytest.mark.parametrize("k", [1, 8, 9, 64])
@pytest.mark.parametrize(("chunk_size", "block_size"), [(None, None), (4, 40)])
def test_cosine_topk_kernel_matches_brute_force(gpu, k, chunk_size, block_size):
    rng = np.random.default_rng(3)
    Q = rng.normal(size=(9, 12)).astype(np.float32)
    D = rng.normal(size=(150, 12)).astype(np.float32)
    D[[4, 77]] = 0  # zero rows score 0
    idx, sim = gpu.cosine_topk(Q, D, k, chunk_size=chunk_size, block_size=block_size)
    S = _cosine(Q, D)
    expected = np.argsort(-S, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(sim, np.take_along_axis(S, expected, axis=1), atol=1e-6)
    assert idx.dtype == np.int64 and sim.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cosine_topk_kernel_ties_and_inner_product(gpu, dtype):
    rng = np.random.default_rng(4)
    D = rng.integers(-1, 2, size=(90, 3)).astype(dtype)  # many duplicate rows
    Q = rng.integers(-1, 2, size=(9, 3)).astype(dtype)
    idx, sim = gpu.cosine_topk(Q, D, 10, normalize=False, block_size=13)
    S = Q.astype(np.float64) @ D.T.astype(np.float64)
    expected = np.argsort(-S, axis=1, kind="stable")[:, :10]  # equal scores: lower row first
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_array_equal(sim, np.take_along_axis(S, expected, axis=1))
    assert sim.dtype == dtype
    assert gpu.cosine_topk(Q, D, 65) is NotImplemented


def _histogram_reference(labels, offsets, n_bins, weights=None):
    labels = labels.reshape(len(labels), -1)
    w = np.ones(labels.shape) if weights is None else weights.reshape(labels.shape)
    seg = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    out = np.zeros((len(offsets) - 1, n_bins))
    np.add.at(out, (np.repeat(seg, labels.shape[1]), labels.ravel()), w.ravel())
    return out


@pytest.mark.parametrize("chunk_size", [None, 7])
def test_segment_histogram_kernel(gpu, chunk_size):
    rng = np.random.default_rng(5)
    offsets = np.array([0, 4, 4, 4, 30, 31, 60])  # empty samples inside
    hard = rng.integers(0, 9, size=60)
    hist = gpu.segment_histogram(hard, offsets, 9, chunk_size=chunk_size)
    np.testing.assert_array_equal(hist, _histogram_reference(hard, offsets, 9))
    assert hist.dtype == np.float32
    soft = rng.integers(0, 9, size=(60, 3))
    weights = rng.random((60, 3))
    weights[rng.random((60, 3)) < 0.3] = 0
    hist = gpu.segment_histogram(soft, offsets, 9, weights=weights, chunk_size=chunk_size)
    np.testing.assert_allclose(hist, _histogram_reference(soft, offsets, 9, weights))
    assert hist.dtype == np.float64
    empty = gpu.segment_histogram(hard[:0], np.zeros(3, np.int64), 9)
    assert empty.shape == (2, 9) and not empty.any()


def _residual_reference(X, offsets, labels, centers, weights=None):
    labels = labels.reshape(len(labels), -1)
    w = np.ones(labels.shape) if weights is None else weights.reshape(labels.shape)
    R = np.zeros((len(offsets) - 1, len(centers), X.shape[1]))
    Q = np.zeros_like(R)
    for i in range(len(offsets) - 1):
        for j in range(offsets[i], offsets[i + 1]):
            for lab, wt in zip(labels[j], w[j], strict=True):
                diff = X[j].astype(np.float64) - centers[lab]
                R[i, lab] += wt * diff
                Q[i, lab] += wt * diff ** 2
    return R, Q


@pytest.mark.parametrize("chunk_size", [None, 9])
def test_segment_residuals_kernel(gpu, chunk_size):
    rng = np.random.default_rng(6)
    offsets = np.array([0, 5, 5, 21, 40])
    X = rng.normal(size=(40, 37)).astype(np.float32)  # 37 features: a partial warp
    centers = rng.normal(size=(6, 37)).astype(np.float32)
    hard = rng.integers(0, 6, size=40)
    R = gpu.segment_residuals(X, offsets, hard, centers, chunk_size=chunk_size)
    np.testing.assert_allclose(R, _residual_reference(X, offsets, hard, centers)[0],
                               rtol=1e-5, atol=1e-5)
    # Fisher-vector layout: every row votes for every center (broadcast labels)
    posteriors = rng.random((40, 6)).astype(np.float32)
    posteriors[posteriors < 0.4] = 0
    labels = np.broadcast_to(np.arange(6), posteriors.shape)
    R, Q = gpu.segment_residuals(X, offsets, labels, centers, weights=posteriors,
                                 return_squares=True, chunk_size=chunk_size)
    R_ref, Q_ref = _residual_reference(X, offsets, labels, centers, posteriors)
    np.testing.assert_allclose(R, R_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(Q, Q_ref, rtol=1e-5, atol=1e-5)
    assert R.dtype == Q.dtype == np.float32
    # mixed precision is promoted like the CPU kernel
    R64 = gpu.segment_residuals(X, offsets, labels, centers,
                                weights=posteriors.astype(np.float64), chunk_size=chunk_size)
    assert R64.dtype == np.float64
    np.testing.assert_allclose(R64, R_ref, rtol=1e-6, atol=1e-6)


def test_launch_configurations(gpu):
    """Every launch is within the grid cap and uses whole warps where it shuffles."""
    launches = gpu.launcher.launches
    assert {name for name, _, _ in launches} == set(gpu.KERNEL_NAMES)
    assert all(1 <= grid <= 3 for _, grid, _ in launches)
    assert all(block % 32 == 0 for name, _, block in launches if name == "mmfuse_argmin_rows")
    threads = set(dict(gpu._TOPK_BUILDS).values())
    assert all(block in threads for name, _, block in launches if name == "mmfuse_topk_rows")


# -- the kernels' dispatch and the encoders on the GPU code path --------------------------

def _descriptor_sets(rng, n_sets=12, d=8):
    sizes = rng.integers(0, 40, size=n_sets)
    sizes[3] = 0
    return [rng.normal(size=(int(n), d)).astype(np.float32) for n in sizes]


def test_dispatch_routes_through_gpu_kernels(routed):
    from mmfuse.backend import assign_nearest, cosine_topk

    rng = np.random.default_rng(7)
    X = rng.normal(size=(50, 6)).astype(np.float32)
    C = rng.normal(size=(80, 6)).astype(np.float32)
    before = len(routed.launcher.launches)
    labels = assign_nearest(X, C, return_distances=False)
    assert routed.launcher.launches[before][0] == "mmfuse_argmin_rows"
    np.testing.assert_array_equal(labels, cdist(X, C, "sqeuclidean").argmin(axis=1))
    # wider than the selection kernel: the generic code runs instead
    before = len(routed.launcher.launches)
    idx, _ = cosine_topk(X, C, 70)
    assert len(routed.launcher.launches) == before
    np.testing.assert_array_equal(idx[:, :5], np.argsort(-_cosine(X, C), axis=1)[:, :5])


def _encoders():
    from mmfuse.encoding import VLAD, BagOfWords, FisherVector

    return [
        BagOfWords(n_words=6, random_state=0),
        BagOfWords(n_words=6, assignment="soft", n_nearest=3, tfidf=True, norm="power",
                   random_state=0),
        VLAD(n_words=5, random_state=0),
        VLAD(n_words=5, mass_norm=True, random_state=0),
        FisherVector(n_words=4, random_state=0, max_iter=20),
    ]


@pytest.mark.parametrize("encoder", _encoders(), ids=lambda e: repr(e)[:60])
def test_encoders_on_the_gpu_path_match_cpu(routed, encoder, monkeypatch):
    rng = np.random.default_rng(8)
    sets = _descriptor_sets(rng)
    from mmfuse.backend import kernels

    with monkeypatch.context() as mp:
        mp.setattr(kernels, "_gpu_kernels", lambda xp: None)
        expected = encoder.fit(sets).transform(sets)
    before = len(routed.launcher.launches)
    codes = encoder.transform(sets)
    assert len(routed.launcher.launches) > before
    np.testing.assert_allclose(codes, expected, rtol=1e-4, atol=1e-5)


def test_spatial_pyramid_on_the_gpu_path_matches_cpu(routed, monkeypatch):
    from mmfuse.backend import kernels
    from mmfuse.descriptors import DescriptorSet
    from mmfuse.encoding import VLAD, SpatialPyramid

    rng = np.random.default_rng(9)
    sets = _descriptor_sets(rng, n_sets=6)
    values = np.concatenate(sets)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])])
    ds = DescriptorSet(values, offsets, positions=rng.random((len(values), 2)) * 32,
                       extents=np.full((len(sets), 2), 32.0))
    pyramid = SpatialPyramid(VLAD(n_words=3, random_state=0), levels=(1, 2))
    with monkeypatch.context() as mp:
        mp.setattr(kernels, "_gpu_kernels", lambda xp: None)
        expected = pyramid.fit(ds).transform(ds)
    np.testing.assert_allclose(pyramid.transform(ds), expected, rtol=1e-4, atol=1e-5)


def test_crossmodal_index_on_the_gpu_path_matches_cpu(routed, monkeypatch):
    from mmfuse.backend import kernels
    from mmfuse.crossmodal import CrossModalIndex

    rng = np.random.default_rng(10)
    index = CrossModalIndex()
    index.add(rng.normal(size=(120, 10)), ids=np.arange(120) + 1000)
    queries = rng.normal(size=(7, 10))
    with monkeypatch.context() as mp:
        mp.setattr(kernels, "_gpu_kernels", lambda xp: None)
        expected = index.search(queries, k=12)
    scores, ids = index.search(queries, k=12)
    np.testing.assert_array_equal(ids, expected[1])
    np.testing.assert_allclose(scores, expected[0], rtol=1e-5, atol=1e-6)


def test_kmeans_on_the_gpu_path_matches_sklearn(routed):
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs

    from mmfuse.backend import kmeans_codebook

    X, _ = make_blobs(400, n_features=5, centers=8, cluster_std=1.5, random_state=0)
    X = X.astype(np.float32)
    before = len(routed.launcher.launches)
    centers, inertia, n_iter = kmeans_codebook(X, 6, random_state=3)
    assert len(routed.launcher.launches) > before
    km = KMeans(6, n_init=1, random_state=3).fit(X)
    assert n_iter == km.n_iter_
    np.testing.assert_allclose(centers, km.cluster_centers_, rtol=1e-4, atol=1e-4)
    assert inertia == pytest.approx(km.inertia_, rel=1e-5)
