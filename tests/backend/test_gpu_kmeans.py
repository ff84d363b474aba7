"""Lloyd's k-means of the GPU codebook path, checked on NumPy against scikit-learn.

``lloyd_kmeans`` / ``kmeans_codebook`` are written against the array
namespace, so the same code that runs on CuPy runs here on NumPy (the CUDA
kernels themselves are covered by test_gpu_emulated.py and test_gpu_parity.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from mmfuse.backend import kmeans_codebook, lloyd_kmeans


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(2000, n_features=6, centers=15, cluster_std=2.0, random_state=0)
    return X.astype(np.float32)


@pytest.mark.parametrize("tol", [0.0, 1e-4, 1e-2])
def test_lloyd_matches_sklearn_from_the_same_init(blobs, tol):
    init = blobs[::137][:12]
    centers, labels, inertia, n_iter = lloyd_kmeans(blobs, init, max_iter=60, tol=tol)
    km = KMeans(12, init=init, n_init=1, max_iter=60, tol=tol, algorithm="lloyd").fit(blobs)
    assert n_iter == km.n_iter_
    np.testing.assert_allclose(centers, km.cluster_centers_, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(labels, km.labels_)
    assert inertia == pytest.approx(km.inertia_, rel=1e-5)
    assert centers.dtype == np.float32 and labels.dtype == np.int64


def test_max_iter_stops_early_like_sklearn(blobs):
    init = blobs[:10]
    centers, labels, _, n_iter = lloyd_kmeans(blobs, init, max_iter=2, tol=0)
    km = KMeans(10, init=init, n_init=1, max_iter=2, tol=0).fit(blobs)
    assert n_iter == km.n_iter_ == 2
    np.testing.assert_allclose(centers, km.cluster_centers_, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(labels, km.labels_)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_codebook_reproduces_sklearn_kmeans(blobs, seed):
    centers, inertia, n_iter = kmeans_codebook(blobs, 10, random_state=seed)
    km = KMeans(10, n_init=1, random_state=seed).fit(blobs)
    assert n_iter == km.n_iter_
    np.testing.assert_allclose(centers, km.cluster_centers_, rtol=1e-4, atol=1e-4)
    assert inertia == pytest.approx(km.inertia_, rel=1e-5)


def test_empty_cluster_takes_the_farthest_point():
    # two far groups, and a third initial center where no point is nearest
    X = np.array([[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [30, 30]], np.float32)
    init = np.array([[0, 0], [10, 10], [1000, 1000]], np.float32)
    centers, labels, inertia, _ = lloyd_kmeans(X, init, max_iter=10, tol=0)
    km = KMeans(3, init=init, n_init=1, max_iter=10, tol=0).fit(X)
    np.testing.assert_allclose(centers, km.cluster_centers_, atol=1e-5)
    np.testing.assert_array_equal(labels, km.labels_)
    assert np.bincount(labels, minlength=3).min() >= 1  # no cluster left empty
    assert inertia == pytest.approx(km.inertia_, rel=1e-6)


def test_errors():
    X = np.zeros((5, 2), np.float32)
    with pytest.raises(ValueError, match="init"):
        lloyd_kmeans(X, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="samples for"):
        lloyd_kmeans(X, np.zeros((6, 2)))
    with pytest.raises(ValueError, match="non-empty"):
        lloyd_kmeans(X[:0], np.zeros((1, 2)))
