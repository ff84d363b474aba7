"""Out-of-core codebook learning: partial_fit against MiniBatchKMeans fed the same batches,
incremental EM written out in NumPy/SciPy, and the generative truth of a mixture."""

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.cluster import MiniBatchKMeans
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state

from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding import VLAD, BagOfWords, FisherVector
from mmfuse.encoding._base import sample_descriptors


def _batches(n_batches=4, per_batch=5, dim=6, seed=0):
    """Batches of descriptor sets: samples of 10-40 descriptors around 5 centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4, size=(5, dim))
    batches = []
    for _ in range(n_batches):
        sets = [centres[rng.integers(5, size=n)] + rng.normal(size=(n, dim))
                for n in rng.integers(10, 40, size=per_batch)]
        batches.append(DescriptorSet.from_arrays(sets))
    return batches


def _seed(random_state):
    """The k-means / mixture seed an encoder draws from its random_state."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@pytest.mark.parametrize("Encoder", [BagOfWords, VLAD])
def test_kmeans_codebook_matches_minibatch_kmeans(Encoder):
    batches = _batches()
    encoder = Encoder(n_words=5, random_state=3)
    reference = MiniBatchKMeans(n_clusters=5, n_init=3, random_state=_seed(3))
    for batch in batches:
        assert encoder.partial_fit(batch) is encoder
        reference.partial_fit(batch.values)
        np.testing.assert_allclose(encoder.cluster_centers_, reference.cluster_centers_,
                                   rtol=1e-6, atol=1e-6)
    assert encoder.n_features_in_ == 6
    codes = encoder.transform(batches[0])
    assert codes.shape == (5, encoder._n_features_out)


def test_batches_over_max_descriptors_are_subsampled_as_in_fit():
    batches = _batches(n_batches=3, per_batch=8)
    encoder = BagOfWords(n_words=4, max_descriptors=60, random_state=7)
    rng = check_random_state(7)
    reference = MiniBatchKMeans(n_clusters=4, n_init=3, random_state=int(
        rng.randint(np.iinfo(np.int32).max)))
    for batch in batches:
        assert batch.values.shape[0] > 60
        encoder.partial_fit(batch)
        reference.partial_fit(sample_descriptors(batch, 60, rng)[0])
    np.testing.assert_allclose(encoder.cluster_centers_, reference.cluster_centers_,
                               rtol=1e-6, atol=1e-6)


def test_partial_fit_after_fit_starts_from_the_fitted_codebook():
    first, second = _batches(n_batches=2)
    encoder = BagOfWords(n_words=5, codebook="kmeans", random_state=0).fit(first)
    fitted = encoder.cluster_centers_.copy()
    encoder.partial_fit(second)
    reference = MiniBatchKMeans(n_clusters=5, init=fitted, n_init=1,
                                random_state=_seed(0)).partial_fit(second.values)
    np.testing.assert_allclose(encoder.cluster_centers_, reference.cluster_centers_,
                               rtol=1e-5, atol=1e-5)


def _log_gaussian(x, means, variances, weights):
    """log w_k + log N(x | mu_k, diag(var_k)), written out."""
    diff = x[:, None, :] - means[None]
    return (np.log(weights)[None]
            - 0.5 * np.sum(np.log(2 * np.pi * variances), axis=1)[None]
            - 0.5 * np.sum(diff ** 2 / variances[None], axis=2))


def test_fisher_incremental_em_matches_numpy_reference():
    batches = _batches(n_batches=4, per_batch=6)
    fv = FisherVector(n_words=3, reg_covar=1e-4, random_state=1)
    for batch in batches:
        fv.partial_fit(batch)

    # reference: EM on the first batch, then accumulated posterior sums + M-steps
    gmm = GaussianMixture(n_components=3, covariance_type="diag", reg_covar=1e-4,
                          max_iter=100, random_state=_seed(1)).fit(batches[0].values)
    means, variances, weights = gmm.means_, gmm.covariances_, gmm.weights_
    totals = np.zeros(3), np.zeros((3, 6)), np.zeros((3, 6))
    for i, batch in enumerate(batches):
        x = batch.values.astype(np.float64)
        log_p = _log_gaussian(x, means, variances, weights)
        post = np.exp(log_p - logsumexp(log_p, axis=1, keepdims=True))
        totals = (totals[0] + post.sum(0), totals[1] + post.T @ x, totals[2] + post.T @ x ** 2)
        if i > 0:
            count, s1, s2 = totals
            weights = count / count.sum()
            means = s1 / count[:, None]
            variances = s2 / count[:, None] - means ** 2 + 1e-4
    np.testing.assert_allclose(fv.cluster_centers_, means, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fv.variances_, variances, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fv.weights_, weights, rtol=1e-4, atol=1e-5)
    # the updated mixture is the one that encodes
    np.testing.assert_allclose(fv.codebook_estimator_.means_, means, rtol=1e-6)
    assert np.isfinite(fv.transform(batches[1])).all()


def test_fisher_partial_fit_recovers_the_generative_mixture():
    rng = np.random.default_rng(0)
    true_means = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    true_sd = np.array([[1.0, 0.5], [0.5, 1.0], [0.8, 0.8]])
    true_weights = np.array([0.5, 0.3, 0.2])
    fv = FisherVector(n_words=3, random_state=0)
    for _ in range(8):  # batches of 200 descriptors in 4 samples
        labels = rng.choice(3, size=200, p=true_weights)
        x = true_means[labels] + rng.normal(size=(200, 2)) * true_sd[labels]
        fv.partial_fit(list(x.reshape(4, 50, 2)))
    order = [int(np.argmin(((fv.cluster_centers_ - m) ** 2).sum(1))) for m in true_means]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(fv.cluster_centers_[order], true_means, atol=0.15)
    np.testing.assert_allclose(np.sqrt(fv.variances_[order]), true_sd, atol=0.1)
    np.testing.assert_allclose(fv.weights_[order], true_weights, atol=0.04)


def test_fit_after_partial_fit_starts_over():
    first, second = _batches(n_batches=2)
    fv = FisherVector(n_words=3, random_state=2).partial_fit(first).partial_fit(second)
    refit = FisherVector(n_words=3, random_state=2).fit(second)
    fv.fit(second)
    np.testing.assert_allclose(fv.cluster_centers_, refit.cluster_centers_)
    fv.partial_fit(first)  # statistics of the earlier partial fits are not reused
    assert fv._gmm_sums[0].sum() == pytest.approx(first.values.shape[0])


def test_partial_fit_errors():
    tiny = DescriptorSet.from_arrays([np.zeros((2, 4))])
    with pytest.raises(ValueError, match="at least n_words=5 descriptors"):
        BagOfWords(n_words=5).partial_fit(tiny)
    encoder = BagOfWords(n_words=2, random_state=0).partial_fit(_batches(1)[0])
    with pytest.raises(ValueError, match="fitted with 6"):
        encoder.partial_fit([np.zeros((3, 4))])
