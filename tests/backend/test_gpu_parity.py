"""CPU vs GPU parity of every backend kernel and encoder (needs CuPy and a GPU).

Marked ``gpu``: ``tests/conftest.py`` skips them where CuPy or a device is
missing. Each test runs the same random data through the NumPy kernels and
through CuPy (the fused CUDA kernels) and compares the results; labels must
agree except at float near-ties, where the chosen center must be as close.
"""

from __future__ import annotations

import numpy as np
import pytest

import mmfuse
from mmfuse.backend import (
    assign_nearest,
    cosine_topk,
    get_namespace,
    gmm_fisher_statistics,
    gmm_posteriors,
    kmeans_codebook,
    lloyd_kmeans,
    segment_histogram,
    segment_residuals,
    soft_assign,
    to_numpy,
)

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cp():
    import cupy

    return cupy


def _data(seed=0, n=20_000, k=300, d=64, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)).astype(dtype), rng.normal(size=(k, d)).astype(dtype))


def _offsets(rng, n, n_samples):
    cuts = np.sort(rng.integers(0, n, size=n_samples - 1))
    return np.concatenate([[0], cuts, [n]]).astype(np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_assign_nearest_parity(cp, dtype):
    X, C = _data(dtype=dtype)
    lab_cpu, d_cpu = assign_nearest(X, C)
    lab_gpu, d_gpu = assign_nearest(cp.asarray(X), cp.asarray(C))
    assert isinstance(lab_gpu, cp.ndarray) and lab_gpu.dtype == np.int64
    lab_gpu, d_gpu = cp.asnumpy(lab_gpu), cp.asnumpy(d_gpu)
    assert (lab_gpu == lab_cpu).mean() > 0.999
    # where they differ (near-ties), the GPU's center is as close
    differ = np.flatnonzero(lab_gpu != lab_cpu)
    chosen = ((X[differ] - C[lab_gpu[differ]]).astype(np.float64) ** 2).sum(axis=1)
    np.testing.assert_allclose(chosen, d_cpu[differ], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(d_gpu, d_cpu, rtol=1e-4, atol=1e-3)
    assert cp.asnumpy(assign_nearest(cp.asarray(X), cp.asarray(C), chunk_size=999,
                                     return_distances=False)).tolist() == lab_gpu.tolist()


@pytest.mark.parametrize("n_nearest", [1, 5, 64, 80])  # 80: the generic fallback
def test_soft_assign_parity(cp, n_nearest):
    X, C = _data(1, n=5000, k=200)
    lab_cpu, w_cpu = soft_assign(X, C, n_nearest=n_nearest, bandwidth=4.0)
    lab_gpu, w_gpu = soft_assign(cp.asarray(X), cp.asarray(C), n_nearest=n_nearest,
                                 bandwidth=4.0)
    lab_gpu, w_gpu = cp.asnumpy(lab_gpu), cp.asnumpy(w_gpu)
    assert (lab_gpu == lab_cpu).mean() > 0.999
    np.testing.assert_allclose(w_gpu, w_cpu, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("soft", [False, True])
def test_segment_histogram_parity(cp, soft):
    rng = np.random.default_rng(2)
    n, n_bins = 50_000, 97
    offsets = _offsets(rng, n, 300)
    labels = rng.integers(0, n_bins, size=(n, 4) if soft else n)
    weights = rng.random(labels.shape).astype(np.float32) if soft else None
    cpu = segment_histogram(labels, offsets, n_bins, weights=weights)
    gpu = segment_histogram(cp.asarray(labels), cp.asarray(offsets), n_bins,
                            weights=None if weights is None else cp.asarray(weights))
    assert gpu.dtype == cpu.dtype
    np.testing.assert_allclose(cp.asnumpy(gpu), cpu, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fisher", [False, True])
def test_segment_residuals_parity(cp, fisher):
    rng = np.random.default_rng(3)
    X, C = _data(3, n=30_000, k=32, d=48)
    offsets = _offsets(rng, len(X), 200)
    if fisher:
        weights = rng.random((len(X), 32)).astype(np.float32)
        weights[weights < 0.8] = 0
        labels = np.broadcast_to(np.arange(32), weights.shape)
        args = dict(weights=weights, return_squares=True)
        dev = dict(weights=cp.asarray(weights), return_squares=True)
        dev_labels = cp.broadcast_to(cp.arange(32), weights.shape)
    else:
        labels = assign_nearest(X, C, return_distances=False)
        args, dev, dev_labels = {}, {}, cp.asarray(labels)
    cpu = segment_residuals(X, offsets, labels, C, **args)
    gpu = segment_residuals(cp.asarray(X), cp.asarray(offsets), dev_labels, cp.asarray(C), **dev)
    for a, b in zip(cpu if fisher else [cpu], gpu if fisher else [gpu], strict=True):
        np.testing.assert_allclose(cp.asnumpy(b), a, rtol=1e-4, atol=1e-3)


def test_gmm_posteriors_parity(cp):
    rng = np.random.default_rng(4)
    X, means = _data(4, n=10_000, k=16, d=20)
    var = rng.uniform(0.5, 2, size=means.shape).astype(np.float32)
    w = np.full(16, 1 / 16, np.float32)
    cpu = gmm_posteriors(X, means, var, w, threshold=1e-6)
    gpu = gmm_posteriors(*(cp.asarray(a) for a in (X, means, var, w)), threshold=1e-6)
    np.testing.assert_allclose(cp.asnumpy(gpu), cpu, rtol=1e-3, atol=1e-6)


def test_gmm_fisher_statistics_parity(cp):
    rng = np.random.default_rng(4)
    X, means = _data(4, n=10_000, k=16, d=20)
    var = rng.uniform(0.5, 2, size=means.shape).astype(np.float32)
    w = np.full(16, 1 / 16, np.float32)
    offsets = np.array([0, 0, 3000, 9000, 9000])
    rows = rng.permutation(10_000)[:9000]
    cpu = gmm_fisher_statistics(X, offsets, means, var, w, rows=rows, threshold=1e-6)
    gpu = gmm_fisher_statistics(*(cp.asarray(a) for a in (X, offsets, means, var, w)),
                                rows=cp.asarray(rows), threshold=1e-6)
    for a, b in zip(cpu, gpu, strict=True):
        np.testing.assert_allclose(cp.asnumpy(b), a, rtol=1e-3, atol=1e-2)


@pytest.mark.parametrize("k", [1, 10, 64, 100])  # 100: the generic fallback
@pytest.mark.parametrize("normalize", [True, False])
def test_cosine_topk_parity(cp, k, normalize):
    rng = np.random.default_rng(5)
    D = rng.normal(size=(40_000, 32)).astype(np.float32)
    Q = rng.normal(size=(300, 32)).astype(np.float32)
    idx_cpu, sim_cpu = cosine_topk(Q, D, k, normalize=normalize)
    idx_gpu, sim_gpu = cosine_topk(cp.asarray(Q), cp.asarray(D), k, normalize=normalize,
                                   block_size=7000)
    idx_gpu, sim_gpu = cp.asnumpy(idx_gpu), cp.asnumpy(sim_gpu)
    np.testing.assert_allclose(sim_gpu, sim_cpu, rtol=1e-5, atol=1e-5)
    assert (idx_gpu == idx_cpu).mean() > 0.999
    assert np.all(np.diff(sim_gpu, axis=1) <= 0)


def test_kmeans_parity(cp):
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(20_000, n_features=16, centers=40, random_state=0)
    X = X.astype(np.float32)
    init = X[:32]
    c_cpu, lab_cpu, inertia_cpu, it_cpu = lloyd_kmeans(X, init, max_iter=100)
    c_gpu, lab_gpu, inertia_gpu, it_gpu = lloyd_kmeans(cp.asarray(X), cp.asarray(init),
                                                       max_iter=100)
    assert it_gpu == it_cpu
    np.testing.assert_allclose(cp.asnumpy(c_gpu), c_cpu, rtol=1e-4, atol=1e-4)
    assert inertia_gpu == pytest.approx(inertia_cpu, rel=1e-5)
    centers, inertia, _ = kmeans_codebook(X, 32, random_state=0, device="gpu")
    km = KMeans(32, n_init=1, random_state=0).fit(X)
    np.testing.assert_allclose(centers, km.cluster_centers_, rtol=1e-3, atol=1e-3)
    assert inertia == pytest.approx(km.inertia_, rel=1e-4)


def _sets(seed=6, n_sets=40, d=16):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(n), d)).astype(np.float32)
            for n in rng.integers(0, 300, size=n_sets)]


def _encoders():
    from mmfuse.encoding import VLAD, BagOfWords, FisherVector, SpatialPyramid

    return [
        BagOfWords(n_words=32, random_state=0),
        BagOfWords(n_words=32, assignment="soft", n_nearest=4, tfidf=True, norm="power",
                   random_state=0),
        VLAD(n_words=16, random_state=0),
        VLAD(n_words=16, mass_norm=True, random_state=0),
        FisherVector(n_words=8, random_state=0),
        SpatialPyramid(BagOfWords(n_words=16, random_state=0), levels=(1, 2)),
    ]


@pytest.mark.parametrize("encoder", _encoders(), ids=lambda e: type(e).__name__)
def test_encoder_parity(cp, encoder):
    sets = _sets()
    if type(encoder).__name__ == "SpatialPyramid":
        from mmfuse.descriptors import DescriptorSet

        rng = np.random.default_rng(7)
        ds = DescriptorSet.from_arrays(sets)
        sets = DescriptorSet(ds.values, ds.offsets, positions=rng.random((len(ds.values), 2)),
                             extents=np.ones((ds.n_samples, 2)))
    encoder.fit(sets)
    cpu = encoder.transform(sets)
    with mmfuse.config_context(device="gpu"):
        gpu = encoder.transform(sets)
        assert isinstance(gpu, np.ndarray)  # array_output="numpy" by default
        with mmfuse.config_context(array_output="device"):
            on_device = encoder.transform(sets)
    assert isinstance(on_device, cp.ndarray)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(cp.asnumpy(on_device), gpu, rtol=1e-5, atol=1e-6)


def test_codebook_learned_on_gpu_matches_cpu(cp):
    from mmfuse.encoding import BagOfWords

    sets = _sets(8)
    cpu = BagOfWords(n_words=24, codebook="kmeans", random_state=0).fit(sets)
    with mmfuse.config_context(device="gpu"):
        gpu = BagOfWords(n_words=24, codebook="kmeans", random_state=0).fit(sets)
    assert gpu.codebook_estimator_ is None
    np.testing.assert_allclose(gpu.cluster_centers_, cpu.cluster_centers_, rtol=1e-3, atol=1e-3)


def test_crossmodal_index_parity(cp):
    from mmfuse.crossmodal import CrossModalIndex

    rng = np.random.default_rng(9)
    index = CrossModalIndex()
    index.add(rng.normal(size=(5000, 24)))
    queries = rng.normal(size=(50, 24))
    scores_cpu, ids_cpu = index.search(queries, k=10)
    with mmfuse.config_context(device="gpu"):
        scores_gpu, ids_gpu = index.search(queries, k=10)
    np.testing.assert_allclose(to_numpy(scores_gpu), scores_cpu, rtol=1e-5, atol=1e-6)
    assert (np.asarray(ids_gpu) == ids_cpu).mean() > 0.999


def test_auto_uses_the_gpu(cp):
    assert get_namespace("auto")[1] == "gpu"
    assert get_namespace("auto")[0] is cp
