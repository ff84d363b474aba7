"""HMMClassifier against known generating HMMs and a brute-force forward algorithm."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from hmmlearn import hmm
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score

from mmfuse.descriptors import DescriptorSet
from mmfuse.probabilistic import HMMClassifier

N_STATES = 3


def true_model(means, seed):
    """A left-right Gaussian HMM with known parameters (2-D emissions)."""
    model = hmm.GaussianHMM(n_components=N_STATES, covariance_type="diag", random_state=seed)
    model.startprob_ = np.array([1.0, 0.0, 0.0])
    model.transmat_ = np.array([[0.85, 0.15, 0.0], [0.0, 0.85, 0.15], [0.0, 0.0, 1.0]])
    model.means_ = np.asarray(means, dtype=float)
    model.covars_ = np.full((N_STATES, 2), 0.6)
    return model


# Three "words" sharing sounds in different orders: the order tells them apart.
TRUE_MEANS = {
    "a": [[0, 0], [3, 0], [0, 3]],
    "b": [[0, 3], [3, 0], [0, 0]],
    "c": [[3, 0], [0, 0], [3, 3]],
}


def sample(n_per_class, seed):
    """Sequences of each word: every state visited in order for a geometric number of frames
    (the left-right model's durations, run to its end), emissions from the state Gaussian.
    Lengths vary from 3 to about 60 frames. Frames are float32, as DescriptorSets store them."""
    rng = np.random.default_rng(seed)
    models = {label: true_model(means, seed) for label, means in TRUE_MEANS.items()}
    X, y = [], []
    for label, model in models.items():
        for _ in range(n_per_class):
            durations = rng.geometric(1 - model.transmat_[0, 0], size=N_STATES)
            frames = np.vstack([
                rng.normal(model.means_[k], np.sqrt(0.6), size=(durations[k], 2))
                for k in range(N_STATES)])
            X.append(frames.astype(np.float32).astype(np.float64))
            y.append(label)
    return X, np.array(y), models


@pytest.fixture(scope="module")
def data():
    X_train, y_train, models = sample(30, seed=0)
    X_test, y_test, _ = sample(40, seed=1)
    return X_train, y_train, X_test, y_test, models


@pytest.fixture(scope="module")
def fitted(data):
    X_train, y_train, *_ = data
    return HMMClassifier(n_states=N_STATES, covariance_type="diag",
                         random_state=0).fit(X_train, y_train)


def test_recovers_classes_and_posteriors_of_known_hmms(data, fitted):
    _, _, X_test, y_test, models = data
    labels = np.array(sorted(models))
    true_ll = np.array([[models[c].score(x) for c in labels] for x in X_test])
    bayes = labels[true_ll.argmax(axis=1)]  # equal priors: the optimal classifier
    predicted = fitted.predict(X_test)
    assert np.mean(predicted == bayes) >= 0.95
    assert np.mean(predicted == y_test) >= np.mean(bayes == y_test) - 0.03

    true_posterior = np.exp(true_ll - logsumexp(true_ll, axis=1, keepdims=True))
    proba = fitted.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(np.abs(proba - true_posterior)) < 0.05

    # the learned states are the true ones (left-right: in order, no permutation)
    for c, label in enumerate(fitted.classes_):
        means = fitted.models_[c].means_ * fitted.scale_ + fitted.mean_
        np.testing.assert_allclose(means, TRUE_MEANS[label], atol=0.35)
        assert np.allclose(np.tril(fitted.models_[c].transmat_, -1), 0)


@pytest.mark.parametrize("params", [
    dict(topology="ergodic"),
    dict(n_mix=2, n_iter=10),
    dict(covariance_type="full"),
    dict(covariance_type="spherical", standardize=False),
    dict(covariance_type="tied", topology="ergodic"),
])
def test_other_model_families_classify(data, params):
    X_train, y_train, X_test, y_test, models = data
    labels = np.array(sorted(models))
    bayes = labels[np.argmax([[models[c].score(x) for c in labels] for x in X_test], axis=1)]
    clf = HMMClassifier(n_states=N_STATES, random_state=0, **params).fit(X_train, y_train)
    assert np.mean(clf.predict(X_test) == bayes) >= 0.9
    expected_type = hmm.GMMHMM if params.get("n_mix", 1) > 1 else hmm.GaussianHMM
    assert all(isinstance(m, expected_type) for m in clf.models_)


def brute_force_log_likelihood(model, frames):
    """Forward algorithm in log space, written out for a diagonal-covariance GaussianHMM."""
    covars = model.covars_  # (n_states, n_features, n_features) from hmmlearn's property
    emission = np.column_stack([
        multivariate_normal(model.means_[k], covars[k]).logpdf(frames)
        for k in range(model.n_components)])
    emission = emission.reshape(frames.shape[0], -1)
    with np.errstate(divide="ignore"):
        log_start, log_trans = np.log(model.startprob_), np.log(model.transmat_)
    alpha = log_start + emission[0]
    for t in range(1, frames.shape[0]):
        alpha = logsumexp(alpha[:, None] + log_trans, axis=0) + emission[t]
    return logsumexp(alpha)


def test_lengths_of_very_different_sequences(data, monkeypatch):
    """Each class model is fitted on its own sequences with their exact lengths, and
    every sequence is scored on its own, whatever its neighbours."""
    rng = np.random.default_rng(5)
    lengths = [2, 500, 7, 1, 63, 3, 250]
    X = [(rng.normal(size=(n, 2)) + (i % 2) * 2).astype(np.float32).astype(np.float64)
         for i, n in enumerate(lengths)]
    y = np.array([i % 2 for i in range(len(lengths))])

    seen = []
    original_fit = hmm.GaussianHMM.fit

    def spy(self, frames, lengths=None):
        seen.append((frames.copy(), None if lengths is None else np.asarray(lengths).copy()))
        return original_fit(self, frames, lengths)

    monkeypatch.setattr(hmm.GaussianHMM, "fit", spy)
    clf = HMMClassifier(n_states=2, random_state=0).fit(X, y)
    assert len(seen) == 2
    for label, (frames, passed_lengths) in zip((0, 1), seen, strict=True):
        members = [x for x, c in zip(X, y, strict=True) if c == label]
        assert passed_lengths.tolist() == [len(x) for x in members]
        standardised = (np.vstack(members) - clf.mean_) / clf.scale_
        np.testing.assert_allclose(frames, standardised)

    ll = clf.decision_function(X)
    log_jacobian = np.log(clf.scale_).sum()
    for i, x in enumerate(X):
        z = (x - clf.mean_) / clf.scale_
        for c, model in enumerate(clf.models_):
            expected = brute_force_log_likelihood(model, z) - len(x) * log_jacobian
            np.testing.assert_allclose(ll[i, c], expected, rtol=1e-8)
    # scoring a sequence alone or in a batch gives the same numbers
    for i in (1, 3):
        np.testing.assert_allclose(clf.decision_function([X[i]])[0], ll[i])


def test_decision_function_is_a_density_of_the_raw_frames(data):
    """With the log-Jacobian added back, standardising changes no log-likelihood:
    compare with the same model fitted on raw frames and scored directly."""
    X_train, y_train, X_test, *_ = data
    clf = HMMClassifier(n_states=N_STATES, covariance_type="diag",
                        random_state=0).fit(X_train, y_train)
    for c in range(len(clf.classes_)):
        model = clf.models_[c]
        raw = hmm.GaussianHMM(n_components=N_STATES, covariance_type="diag")
        raw.startprob_, raw.transmat_ = model.startprob_, model.transmat_
        raw.means_ = model.means_ * clf.scale_ + clf.mean_
        raw.covars_ = np.diagonal(model.covars_, axis1=1, axis2=2) * clf.scale_**2
        expected = [raw.score(x) for x in X_test[:5]]
        np.testing.assert_allclose(clf.decision_function(X_test[:5])[:, c], expected, rtol=1e-8)


def test_posteriors_follow_bayes_rule_with_priors(data):
    X_train, y_train, X_test, *_ = data
    prior = np.array([0.7, 0.2, 0.1])
    clf = HMMClassifier(n_states=N_STATES, class_prior=prior * 10, random_state=0)
    clf.fit(X_train, y_train)
    np.testing.assert_allclose(np.exp(clf.class_log_prior_), prior)
    ll = clf.decision_function(X_test)
    joint = ll + np.log(prior)
    expected = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X_test), expected, rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[joint.argmax(axis=1)])
    np.testing.assert_allclose(clf.score_samples(X_test), logsumexp(joint, axis=1))
    assert clf.score(X_test, clf.predict(X_test)) == 1.0

    uniform = HMMClassifier(n_states=N_STATES, class_prior="uniform").fit(X_train, y_train)
    np.testing.assert_allclose(np.exp(uniform.class_log_prior_), 1 / 3)
    with pytest.raises(ValueError, match="class_prior must hold 3"):
        HMMClassifier(class_prior=[0.5, 0.5]).fit(X_train, y_train)


def test_empty_sequences_get_the_prior(data):
    X_train, y_train, X_test, *_ = data
    X = list(X_train) + [np.zeros((0, 2))]
    y = np.append(y_train, "a")
    with pytest.warns(UserWarning, match=r"1 training sample\(s\) without frames.*\[90\]"):
        clf = HMMClassifier(n_states=N_STATES, random_state=0).fit(X, y)
    assert clf.n_empty_ == 1
    ds = DescriptorSet.from_arrays([X_test[0], None, np.zeros((0, 2))])
    proba = clf.predict_proba(ds)
    np.testing.assert_allclose(proba[1], np.exp(clf.class_log_prior_))
    np.testing.assert_allclose(proba[2], np.exp(clf.class_log_prior_))
    np.testing.assert_array_equal(clf.decision_function(ds)[1:], 0.0)
    assert clf.decode(ds)[1].size == 0


def test_degenerate_class_with_constant_frames(data):
    """A class whose frames never vary has a zero variance: min_covar keeps it fittable."""
    X_train, y_train, X_test, *_ = data
    constant = [np.full((n, 2), 5.0) for n in (6, 9, 12)]
    X = list(X_train) + constant
    y = np.append(y_train, ["const"] * 3)
    clf = HMMClassifier(n_states=N_STATES, random_state=0).fit(X, y)
    assert all(np.all(np.isfinite(m.covars_)) for m in clf.models_)
    assert clf.predict([np.full((7, 2), 5.0)])[0] == "const"
    assert "const" not in set(clf.predict(X_test))


def test_failed_fits_are_retried_with_a_warning(data, monkeypatch):
    X_train, y_train, *_ = data
    calls = {"n": 0}
    original_fit = hmm.GaussianHMM.fit

    def flaky(self, frames, lengths=None):
        calls["n"] += 1
        if calls["n"] == 2:  # the second class model fails once
            raise ValueError("simulated: covars must be symmetric, positive-definite")
        return original_fit(self, frames, lengths)

    monkeypatch.setattr(hmm.GaussianHMM, "fit", flaky)
    with pytest.warns(UserWarning, match=r"class 'b' needed 1 retry.*positive-definite"):
        clf = HMMClassifier(n_states=N_STATES, random_state=0).fit(X_train, y_train)
    assert clf.models_[1].min_covar == pytest.approx(1e-2)  # 10x on the retry

    def broken(self, frames, lengths=None):
        self.means_ = np.full_like(self.means_, np.nan)
        return self

    monkeypatch.setattr(hmm.GaussianHMM, "fit", broken)
    with pytest.raises(RuntimeError, match=r"class 'a' in 3 attempt\(s\).*non-finite means_"):
        HMMClassifier(n_states=N_STATES, max_retries=2).fit(X_train, y_train)


def test_left_right_decoding_moves_forward(fitted, data):
    _, _, X_test, y_test, _ = data
    paths = fitted.decode(X_test[:10], y_test[:10])
    for path, frames in zip(paths, X_test[:10], strict=True):
        assert path.shape == (frames.shape[0],) and path[0] == 0
        assert np.all(np.diff(path) >= 0)
    with pytest.raises(ValueError, match="unknown class 'z'"):
        fitted.decode(X_test[:1], ["z"])


def test_bad_input(fitted, data):
    X_train, y_train, *_ = data
    bad = [x.copy() for x in X_train[:4]]
    bad[2][1, 0] = np.nan
    with pytest.raises(ValueError, match=r"samples \[2\] contain NaN"):
        HMMClassifier().fit(bad, y_train[:4])
    with pytest.raises(ValueError, match="90 sequences but y has 3"):
        HMMClassifier().fit(X_train, y_train[:3])
    with pytest.raises(ValueError, match="3 features per frame.*fitted with 2"):
        fitted.predict([np.zeros((4, 3))])
    with pytest.raises(TypeError, match="DescriptorSet or a list"):
        fitted.predict(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="Unknown label type"):
        HMMClassifier().fit(X_train, np.linspace(0, 1, len(X_train)))
    with pytest.raises(NotFittedError):
        HMMClassifier().predict(X_train)


def test_sklearn_api(data, fitted):
    X_train, y_train, X_test, *_ = data
    assert clone(fitted).get_params() == fitted.get_params()
    assert not hasattr(clone(fitted), "models_")
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X_test), fitted.predict_proba(X_test))
    with joblib.parallel_config(backend="threading"):
        parallel = clone(fitted).set_params(n_jobs=2)
        parallel.fit(X_train, y_train)
        np.testing.assert_allclose(parallel.decision_function(X_test[:10]),
                                   fitted.decision_function(X_test[:10]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = cross_val_score(HMMClassifier(n_states=N_STATES, random_state=0),
                                 DescriptorSet.from_arrays(X_train), y_train, cv=3)
    assert scores.mean() > 0.8
    with pytest.raises(ValueError, match="topology"):
        HMMClassifier(topology="circular").fit(X_train, y_train)


@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
def test_batched_e_step_fits_what_hmmlearn_fits(covariance_type):
    """The frame-batched Baum-Welch reaches hmmlearn's own parameters from the same start."""
    from mmfuse.probabilistic._hmm import FrameBatchedGaussianHMM

    rng = np.random.default_rng(3)
    source = true_model(TRUE_MEANS["a"], seed=0)
    X, lengths = [], []
    for seed in range(25):
        frames, _ = source.sample(int(rng.integers(1, 30)), random_state=seed)
        X.append(frames @ rng.normal(size=(2, 2)))  # correlated features for full/tied
        lengths.append(frames.shape[0])
    X = np.vstack(X)
    models = []
    for cls in (hmm.GaussianHMM, FrameBatchedGaussianHMM):
        model = cls(n_components=N_STATES, covariance_type=covariance_type, n_iter=15, tol=0,
                    random_state=0, init_params="stmc", params="stmc")
        models.append(model.fit(X, lengths))
    stock, batched = models
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        np.testing.assert_allclose(getattr(batched, name), getattr(stock, name),
                                   rtol=1e-7, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(batched.monitor_.history, stock.monitor_.history, rtol=1e-10)


def test_batched_scores_equal_hmmlearn_score_per_sequence(fitted, data):
    from mmfuse.probabilistic._hmm import _score_sequences

    X_test = data[2]
    sequences = [np.zeros((0, 2))] + [(x - fitted.mean_) / fitted.scale_ for x in X_test[:20]]
    for model in fitted.models_:
        expected = [0.0] + [model.score(x) for x in sequences[1:]]
        lengths = np.array([x.shape[0] for x in sequences])
        np.testing.assert_allclose(_score_sequences(model, np.concatenate(sequences), lengths),
                                   expected, rtol=1e-10)


def test_auto_covariance_follows_the_frames_per_gaussian(data):
    """"auto": full covariances from 10 * n_features frames per Gaussian in the smallest
    class, diagonal ones below; the models are those of the explicit setting."""
    X_train, y_train, X_test, *_ = data
    smallest = min(sum(x.shape[0] for x, label in zip(X_train, y_train, strict=True)
                       if label == c) for c in np.unique(y_train))
    enough = smallest // (10 * 2)  # Gaussians that 10 frames per feature can feed
    for n_states, n_mix, expected in [(enough, 1, "full"), (enough + 1, 1, "diag"),
                                      (enough // 2, 2, "full"), (enough // 2 + 1, 2, "diag")]:
        clf = HMMClassifier(n_states=n_states, n_mix=n_mix, n_iter=2, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X_train, y_train)
            explicit = clone(clf).set_params(covariance_type=expected).fit(X_train, y_train)
        assert clf.covariance_type_ == expected
        assert all(m.covariance_type == expected for m in clf.models_)
        np.testing.assert_allclose(clf.decision_function(X_test[:5]),
                                   explicit.decision_function(X_test[:5]))
    # the smallest class decides: with 3 sequences of class "a", n_states are too many for it
    keep = np.r_[0:3, 30:len(X_train)]
    frames_a = sum(X_train[i].shape[0] for i in range(3))
    n_states = frames_a // (10 * 2) + 1
    assert n_states * 10 * 2 <= smallest  # enough for the other classes
    clf = HMMClassifier(n_states=n_states, n_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit([X_train[i] for i in keep], y_train[keep])
    assert clf.covariance_type_ == "diag"
