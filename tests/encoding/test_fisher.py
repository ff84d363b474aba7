import numpy as np
import pytest
from encoding_reference import l2, random_sets, seed_and_sample, ssr
from sklearn.mixture import GaussianMixture

from mmfuse.encoding import FisherVector
from mmfuse.utils.estimator_checks import check_media_transformer


def _fv_reference(sets, gmm, threshold, improved):
    """VLFeat's vl_fisher written out with sklearn's posteriors, in float64."""
    mu, var, w = gmm.means_, gmm.covariances_, gmm.weights_
    sigma = np.sqrt(var)
    n_words, d = mu.shape
    rows = []
    for s in sets:
        u = np.zeros((n_words, d))
        v = np.zeros((n_words, d))
        if len(s):
            post = gmm.predict_proba(s.astype(np.float64))
            post[post < threshold] = 0
            for k in range(n_words):
                z = (s - mu[k]) / sigma[k]
                u[k] = (post[:, k, None] * z).sum(axis=0) / (len(s) * np.sqrt(w[k]))
                v[k] = (post[:, k, None] * (z**2 - 1)).sum(axis=0) / (len(s) * np.sqrt(2 * w[k]))
        enc = np.concatenate([u.ravel(), v.ravel()])
        rows.append(l2(ssr(enc)) if improved else enc)
    return np.array(rows)


@pytest.mark.parametrize("improved, threshold", [(True, 1e-6), (False, 0.0), (True, 0.05)])
def test_fisher_matches_reference(improved, threshold):
    sets = random_sets(n_features=6, n_modes=4)
    fv = FisherVector(n_words=4, improved=improved, posterior_threshold=threshold,
                      random_state=2).fit(sets)
    seed, sample = seed_and_sample(sets, 2)
    sample = sample.astype(np.float64)
    # reg_covar="auto": 1e-3 of the mean per-dimension variance of the sample
    reg_covar = 1e-3 * np.mean([np.var(sample[:, j]) for j in range(sample.shape[1])])
    gmm = GaussianMixture(4, covariance_type="diag", reg_covar=reg_covar, random_state=seed)
    gmm.fit(sample)
    assert fv.reg_covar_ == pytest.approx(reg_covar, rel=1e-9)
    np.testing.assert_allclose(fv.cluster_centers_, gmm.means_, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fv.variances_, gmm.covariances_, rtol=1e-5, atol=1e-6)
    codes = fv.transform(sets)
    expected = _fv_reference(sets, gmm, threshold, improved)
    assert codes.dtype == np.float32 and codes.shape == (5, 2 * 4 * 6)
    np.testing.assert_allclose(codes, expected, rtol=1e-3, atol=2e-5)
    assert not codes[1].any()
    assert np.abs(codes[3]).sum() > 0  # a single descriptor still encodes


def test_fisher_media_conformance():
    check_media_transformer(FisherVector(n_words=2, random_state=0),
                            random_sets(lengths=(20, 0, 9, 1), n_features=4),
                            bad_inputs=[np.zeros((4, 4)), "x"])


def test_fisher_needs_enough_descriptors():
    with pytest.raises(ValueError, match="at least n_words=8"):
        FisherVector(n_words=8).fit(random_sets(lengths=(3, 2)))


def test_fisher_auto_pca_on_wide_descriptors_matches_pca_then_reference():
    from sklearn.decomposition import PCA

    sets = random_sets(n_features=80, n_modes=4, lengths=(60, 0, 40, 1, 90))
    fv = FisherVector(n_words=3, random_state=4).fit(sets)
    assert fv.n_components_ == 64 and fv.n_features_out_ == 2 * 3 * 64
    seed, sample = seed_and_sample(sets, 4)
    pca = PCA(n_components=64, whiten=True, random_state=seed).fit(sample)
    projected = [pca.transform(s).astype(np.float32) if len(s) else np.zeros((0, 64), np.float32)
                 for s in sets]
    sample64 = np.concatenate(projected).astype(np.float64)
    reg_covar = 1e-3 * sample64.var(axis=0).mean()
    gmm = GaussianMixture(3, covariance_type="diag", reg_covar=reg_covar,
                          random_state=seed).fit(sample64)
    np.testing.assert_allclose(fv.cluster_centers_, gmm.means_, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(fv.transform(sets), _fv_reference(projected, gmm, 1e-6, True),
                               rtol=1e-3, atol=1e-4)
    # narrow descriptors (MFCC frames, PCA-reduced SIFT): no projection
    narrow = FisherVector(n_words=3, random_state=4).fit(random_sets(n_features=6))
    assert narrow.pca_ is None and narrow.n_components_ == 6
    assert FisherVector(n_words=3, n_components=None, random_state=4).fit(sets).n_components_ \
        == 80
    with pytest.raises(ValueError, match="more than the 6 descriptor dimensions"):
        FisherVector(n_words=3, n_components=10).fit(random_sets(n_features=6))
