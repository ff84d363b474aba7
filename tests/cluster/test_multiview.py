"""Multiview clustering against single-view k-means on a known cluster truth."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans, SpectralClustering
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.utils.estimator_checks import parametrize_with_checks

from mmfuse.blocks import Blocks
from mmfuse.cluster import MultiviewKMeans, MultiviewSpectralClustering


def crossed_views(n=400, seed=0, noise_columns=0):
    """Four clusters: view a tells {0, 1} from {2, 3}, view b {0, 2} from {1, 3}."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, n)
    a = np.c_[3.0 * (truth >= 2), 3.0 * (truth >= 2)] + rng.normal(size=(n, 2))
    b = np.c_[3.0 * (truth % 2), 3.0 * (truth % 2)] + rng.normal(size=(n, 2))
    if noise_columns:
        b = np.c_[b, rng.normal(size=(n, noise_columns))]
    return a, b, truth


@parametrize_with_checks([MultiviewSpectralClustering(2, random_state=0),
                          MultiviewSpectralClustering(2, combine="product", random_state=0),
                          MultiviewKMeans(2, random_state=0),
                          MultiviewKMeans(2, views=[("a", slice(0, 1)), ("b", slice(0, None))],
                                          random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("model", [
    MultiviewSpectralClustering(4, combine="product", random_state=0),
    MultiviewKMeans(4, random_state=0)])
def test_multiview_beats_every_single_view_kmeans(model):
    for seed in range(3):
        a, b, truth = crossed_views(seed=seed)
        single = [adjusted_rand_score(truth, KMeans(4, n_init="auto",
                                                    random_state=0).fit_predict(v))
                  for v in (a, b)]
        fused = adjusted_rand_score(truth, model.fit_predict({"a": a, "b": b}))
        assert max(single) < 0.4 and fused > 0.8, (seed, single, fused)


def test_spectral_equals_sklearn_on_the_fused_affinity():
    a, b, truth = crossed_views(n=150)
    model = MultiviewSpectralClustering(4, gamma=[0.2, 0.3], combine="mean",
                                        random_state=0).fit({"a": a, "b": b})
    K = (rbf_kernel(a, gamma=0.2) + rbf_kernel(b, gamma=0.3)) / 2
    np.testing.assert_allclose(model.affinity_matrix_, K, atol=1e-12)
    reference = SpectralClustering(4, affinity="precomputed", random_state=0).fit(K)
    np.testing.assert_array_equal(model.labels_, reference.labels_)
    product = MultiviewSpectralClustering(4, gamma=[0.2, 0.3], combine="product",
                                          random_state=0).fit(
        {"a": a, "b": b})
    np.testing.assert_allclose(product.affinity_matrix_,
                               rbf_kernel(a, gamma=0.2) * rbf_kernel(b, gamma=0.3), atol=1e-12)


def test_kmeans_scales_views_to_equal_weight():
    a, b, truth = crossed_views()
    loud = 1000 * b  # the same information at a thousand times the scale
    ours = MultiviewKMeans(4, random_state=0).fit({"a": a, "b": loud})
    plain = KMeans(4, n_init="auto", random_state=0).fit(np.c_[a, loud])
    assert adjusted_rand_score(truth, ours.labels_) > 0.8
    assert adjusted_rand_score(truth, plain.labels_) < 0.4
    # predict: the scaled space of fit
    np.testing.assert_array_equal(ours.predict({"a": a, "b": loud}), ours.labels_)


def test_missing_views_are_clustered_on_the_views_they_have():
    a, b, truth = crossed_views(n=400, seed=4)
    b_missing = b.copy()
    b_missing[:40] = np.nan  # 10% without view b
    for model in (MultiviewSpectralClustering(4, combine="product", random_state=0),
                  MultiviewKMeans(4, random_state=0)):
        labels = model.fit_predict({"a": a, "b": b_missing})
        assert adjusted_rand_score(truth[40:], labels[40:]) > 0.75
    spectral = MultiviewSpectralClustering(4, combine="product", random_state=0).fit(
        {"a": a, "b": b_missing})
    # a pair that shares only view a is compared on view a alone
    expected = rbf_kernel(a[:2], gamma=spectral.gammas_[0])[0, 1]
    assert spectral.affinity_matrix_[0, 1] == pytest.approx(expected ** 2)
    with pytest.raises(ValueError, match="every view missing"):
        MultiviewKMeans(4).fit({"a": np.where(np.arange(400)[:, None] < 40, np.nan, a),
                                "b": b_missing})
    partial_nan = b.copy()
    partial_nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="samples \\[3\\]"):
        MultiviewKMeans(4).fit({"a": a, "b": partial_nan})


def test_blocks_and_sparse_views():
    a, b, truth = crossed_views(n=200)
    X = Blocks({"a": sp.csr_matrix(np.maximum(a, 0)), "b": b})
    for model in (MultiviewSpectralClustering(4, combine="product", random_state=0),
                  MultiviewKMeans(4, random_state=0)):
        assert model.fit_predict(X).shape == (200,)
