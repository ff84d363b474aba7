import numpy as np
import pytest
from scipy.spatial.distance import cdist

from mmfuse import config_context
from mmfuse.backend import (
    DeviceUnavailableError,
    assign_nearest,
    chunk_rows,
    cupy_available,
    get_namespace,
    segment_histogram,
    segment_ids,
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_size", [None, 1, 7, 1000])
def test_assign_nearest_matches_brute_force(dtype, chunk_size):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(523, 16)).astype(dtype)
    C = rng.normal(size=(37, 16)).astype(dtype)
    labels, d2 = assign_nearest(X, C, chunk_size=chunk_size)
    full = cdist(X.astype(np.float64), C.astype(np.float64), "sqeuclidean")
    expected = full.argmin(axis=1)
    # Rounding may flip exact near-ties; the chosen center must be as close.
    chosen = full[np.arange(len(X)), labels]
    np.testing.assert_allclose(chosen, full.min(axis=1), rtol=1e-4, atol=1e-4)
    assert (labels == expected).mean() > 0.99
    np.testing.assert_allclose(d2, full.min(axis=1), rtol=1e-4, atol=1e-3)
    assert labels.dtype == np.int64 and d2.dtype == dtype


def test_assign_nearest_empty_and_errors():
    C = np.ones((3, 4), np.float32)
    labels, d2 = assign_nearest(np.zeros((0, 4), np.float32), C)
    assert labels.shape == (0,) and d2.shape == (0,)
    assert assign_nearest(np.zeros((2, 4), np.float32), C, return_distances=False).shape == (2,)
    with pytest.raises(ValueError, match="same number of columns"):
        assign_nearest(np.zeros((2, 5), np.float32), C)
    with pytest.raises(ValueError, match="empty"):
        assign_nearest(np.zeros((2, 4), np.float32), np.zeros((0, 4), np.float32))


def test_assign_nearest_memory_is_bounded_by_chunk(monkeypatch):
    # The temporary block is (chunk, n_centers); record the largest matmul output.
    import mmfuse.backend.kernels as kernels

    seen = []
    real = np.matmul

    class Spy:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def matmul(a, b, out=None):
            seen.append(out.shape)
            return real(a, b, out=out)

    monkeypatch.setattr(kernels, "_namespace_of", lambda x: Spy())
    rng = np.random.default_rng(1)
    C = rng.normal(size=(64, 8)).astype(np.float32)
    for n in (1_000, 20_000):
        seen.clear()
        with config_context(working_memory=1):  # 1 MiB -> 4096 rows of 64 float32
            assign_nearest(rng.normal(size=(n, 8)).astype(np.float32), C)
        assert max(s[0] for s in seen) <= 4096
    assert chunk_rows(20_000, 64 * 4, working_memory=1) == 4096


def test_segment_histogram_matches_loop():
    rng = np.random.default_rng(2)
    lengths = np.array([5, 0, 17, 1, 0, 30])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    labels = rng.integers(0, 9, size=offsets[-1])
    weights = rng.random(offsets[-1])
    hist = segment_histogram(labels, offsets, 9)
    whist = segment_histogram(labels, offsets, 9, weights=weights)
    for i in range(len(lengths)):
        seg = slice(offsets[i], offsets[i + 1])
        np.testing.assert_array_equal(hist[i], np.bincount(labels[seg], minlength=9))
        np.testing.assert_allclose(whist[i], np.bincount(labels[seg], weights[seg], minlength=9))
    assert segment_ids(offsets).tolist() == np.repeat(np.arange(6), lengths).tolist()
    with pytest.raises(ValueError, match="labels"):
        segment_histogram(labels[:-1], offsets, 9)


def test_device_selection_without_gpu():
    xp, where = get_namespace("cpu")
    assert xp is np and where == "cpu"
    if cupy_available():
        pytest.skip("a GPU is present; the no-GPU paths are not reachable")
    with pytest.raises(DeviceUnavailableError, match="device='gpu'"):
        get_namespace("gpu")
    xp, where = get_namespace("auto")
    assert xp is np and where == "cpu"
    with config_context(device="auto"):
        assert get_namespace()[1] == "cpu"


@pytest.mark.gpu
def test_kernels_gpu_parity():
    import cupy

    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 32)).astype(np.float32)
    C = rng.normal(size=(50, 32)).astype(np.float32)
    lab_cpu, d_cpu = assign_nearest(X, C)
    lab_gpu, d_gpu = assign_nearest(cupy.asarray(X), cupy.asarray(C))
    assert (cupy.asnumpy(lab_gpu) == lab_cpu).mean() > 0.999
    np.testing.assert_allclose(cupy.asnumpy(d_gpu), d_cpu, rtol=1e-4, atol=1e-3)


def test_segment_moments_match_loops():
    from mmfuse.backend import gmm_segment_statistics, segment_moments

    rng = np.random.default_rng(3)
    lengths = [5, 0, 1, 17, 0, 9]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    X = rng.normal(size=(offsets[-1], 4)).astype(np.float32) * 3 + 10
    W = rng.dirichlet(np.ones(3), size=offsets[-1]).astype(np.float32)
    means = rng.normal(size=(3, 4)).astype(np.float32) + 10
    S0, S1, S2 = segment_moments(X, offsets, W)
    mass, first, second = gmm_segment_statistics(X, offsets, W, means)
    for i in range(len(lengths)):
        x = X[offsets[i]:offsets[i + 1]].astype(np.float64)
        w = W[offsets[i]:offsets[i + 1]].astype(np.float64)
        np.testing.assert_allclose(S0[i], w.sum(0), rtol=1e-5, atol=1e-6)
        for k in range(3):
            np.testing.assert_allclose(S1[i, k], (w[:, k, None] * x).sum(0), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(S2[i, k], (w[:, k, None] * x**2).sum(0), rtol=1e-5,
                                       atol=1e-4)
            r = x - means[k]
            np.testing.assert_allclose(first[i, k], (w[:, k, None] * r).sum(0), rtol=1e-4,
                                       atol=1e-3)
            np.testing.assert_allclose(second[i, k], (w[:, k, None] * r**2).sum(0), rtol=1e-3,
                                       atol=1e-2)
        np.testing.assert_allclose(mass[i], w.sum(0), rtol=1e-5, atol=1e-6)
