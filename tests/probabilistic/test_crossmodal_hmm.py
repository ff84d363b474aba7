"""CrossModalHMM against planted parameters and brute-force enumeration of state paths."""

import itertools
import pickle

import numpy as np
import pytest
from hmmlearn.hmm import GaussianHMM
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from mmfuse.probabilistic import CrossModalHMM

START = np.array([0.6, 0.3, 0.1])
TRANS = np.array([[0.85, 0.10, 0.05], [0.05, 0.85, 0.10], [0.10, 0.05, 0.85]])
X_MEANS = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
Y_MEANS = np.array([[-2.0], [1.0], [3.0]])
Y_STD = np.array([0.5, 0.8, 0.4])
Y_PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])


def planted(n_sequences=25, n_frames=100, seed=0):
    """X from a known Gaussian HMM; Y (Gaussian and categorical) from its states."""
    truth = GaussianHMM(3, covariance_type="diag")
    truth.startprob_, truth.transmat_ = START, TRANS
    truth.means_, truth.covars_ = X_MEANS, np.ones((3, 2))
    rng = np.random.default_rng(seed)
    X, Y_gauss, Y_symbols = [], [], []
    for i in range(n_sequences):
        x, z = truth.sample(n_frames, random_state=seed * 1000 + i)
        X.append(x)
        Y_gauss.append(Y_MEANS[z] + Y_STD[z, None] * rng.standard_normal((len(z), 1)))
        cumulative = np.cumsum(Y_PROBS[z], axis=1)
        Y_symbols.append(np.array(["lo", "mid", "hi"])[(cumulative < rng.random((len(z), 1)))
                                                       .sum(axis=1)])
    return X, Y_gauss, Y_symbols


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.fixture(scope="module")
def fitted(data):
    X, Y_gauss, Y_symbols = data
    return (CrossModalHMM(3, random_state=0).fit(X, Y_gauss),
            CrossModalHMM(3, random_state=0).fit(X, Y_symbols))


def state_order(model):
    """Match learned states to planted ones by their X means (Hungarian assignment)."""
    cost = ((model.means_[:, None, :] - X_MEANS[None]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    order = np.empty(3, dtype=int)
    order[cols] = rows
    return order  # order[k] = learned state playing planted state k


def test_recovers_planted_parameters(fitted):
    gauss, cat = fitted
    for model in (gauss, cat):
        order = state_order(model)
        np.testing.assert_allclose(model.means_[order], X_MEANS, atol=0.1)
        np.testing.assert_allclose(model.transmat_[np.ix_(order, order)], TRANS, atol=0.03)
    order = state_order(gauss)
    np.testing.assert_allclose(gauss.y_means_[order], Y_MEANS, atol=0.05)
    np.testing.assert_allclose(np.sqrt(gauss.y_covars_[order, 0]), Y_STD, atol=0.05)
    order = state_order(cat)
    assert cat.y_emission_ == "categorical"
    columns = [list(cat.y_symbols_).index(s) for s in ("lo", "mid", "hi")]
    np.testing.assert_allclose(cat.y_emissionprob_[np.ix_(order, columns)], Y_PROBS, atol=0.03)


def brute_force(model, x, y):
    """log P(x, y) and the state posteriors given x, by enumerating every state path."""
    K, T = model.n_states, len(x)
    log_b_x = np.column_stack([
        norm.logpdf(x, model.means_[k], np.sqrt(np.diag(model.covars_[k]))).sum(axis=1)
        for k in range(K)])
    if model.y_emission_ == "categorical":
        codes = np.searchsorted(model.y_symbols_, y)
        log_b_y = np.log(model.y_emissionprob_[:, codes]).T
    else:
        log_b_y = np.column_stack([
            norm.logpdf(y, model.y_means_[k], np.sqrt(model.y_covars_[k])).sum(axis=1)
            for k in range(K)])
    log_paths_xy, log_paths_x, paths = [], [], list(itertools.product(range(K), repeat=T))
    for path in paths:
        transitions = np.log(model.startprob_[path[0]]) + sum(
            np.log(model.transmat_[a, b]) for a, b in itertools.pairwise(path))
        emission_x = sum(log_b_x[t, k] for t, k in enumerate(path))
        log_paths_x.append(transitions + emission_x)
        log_paths_xy.append(transitions + emission_x + sum(log_b_y[t, k]
                                                           for t, k in enumerate(path)))
    log_paths_x = np.array(log_paths_x)
    weights = np.exp(log_paths_x - logsumexp(log_paths_x))
    gamma = np.zeros((T, K))
    for w, path in zip(weights, paths, strict=True):
        gamma[np.arange(T), path] += w
    return logsumexp(log_paths_xy), logsumexp(log_paths_x), gamma


def test_scores_and_predictions_equal_enumeration(fitted, data):
    X, Y_gauss, Y_symbols = data
    for model, Y in zip(fitted, (Y_gauss, Y_symbols), strict=True):
        x, y = X[0][:5], Y[0][:5]
        log_xy, log_x, gamma = brute_force(model, x, y)
        assert model.score_samples([x], [y])[0] == pytest.approx(log_xy, rel=1e-9)
        assert model.marginal_log_likelihood([x])[0] == pytest.approx(log_x, rel=1e-9)
        assert model.conditional_log_likelihood([x], [y])[0] == pytest.approx(log_xy - log_x,
                                                                               rel=1e-7)
        if model.y_emission_ == "gaussian":
            np.testing.assert_allclose(model.predict([x])[0], gamma @ model.y_means_, rtol=1e-7)
        else:
            proba = gamma @ model.y_emissionprob_
            np.testing.assert_allclose(model.predict_proba([x])[0], proba, rtol=1e-7)
            np.testing.assert_array_equal(model.predict([x])[0],
                                          model.y_symbols_[np.argmax(proba, axis=1)])
    gauss = fitted[0]
    assert gauss.score(X[:2], Y_gauss[:2]) == pytest.approx(
        gauss.score_samples(X[:2], Y_gauss[:2]).sum())


def test_pairs_score_higher_than_mismatched_pairs(fitted, data):
    X, Y_gauss, _ = data
    gauss = fitted[0]
    matched = gauss.conditional_log_likelihood(X[:10], Y_gauss[:10])
    shuffled = gauss.conditional_log_likelihood(X[:10], [y[::-1] for y in Y_gauss[:10]])
    assert np.all(matched > shuffled)


def test_sample_follows_the_model(fitted):
    gauss, cat = fitted
    x, y, states = cat.sample(2000, random_state=0)
    assert x.shape == (2000, 2) and y.shape == (2000,) and set(y) <= set(cat.y_symbols_)
    for k in range(3):  # symbol frequencies per state follow y_emissionprob_
        freq = np.array([np.mean(y[states == k] == s) for s in cat.y_symbols_])
        np.testing.assert_allclose(freq, cat.y_emissionprob_[k], atol=0.08)
    x, y, states = gauss.sample(50, random_state=0)
    assert y.shape == (50, 1)


def test_errors_clone_and_pickle(fitted, data):
    X, Y_gauss, Y_symbols = data
    with pytest.raises(NotFittedError):
        CrossModalHMM().predict(X[:1])
    with pytest.raises(ValueError, match="sequence 1: X has 100 frames but Y has 99"):
        CrossModalHMM(2).fit(X[:2], [Y_gauss[0], Y_gauss[1][:-1]])
    with pytest.raises(ValueError, match=r"symbol\(s\) \['zzz'\] not seen"):
        fitted[1].score_samples([X[0][:3]], [np.array(["lo", "zzz", "hi"])])
    with pytest.raises(ValueError, match="categorical Y"):
        fitted[0].predict_proba(X[:1])
    with pytest.raises(ValueError, match="sequence 0 of X contains NaN"):
        CrossModalHMM(2).fit([np.full((5, 2), np.nan)], [np.zeros(5)])
    restored = pickle.loads(pickle.dumps(fitted[0]))
    np.testing.assert_allclose(restored.score_samples(X[:2], Y_gauss[:2]),
                               fitted[0].score_samples(X[:2], Y_gauss[:2]))
    assert clone(fitted[0]).get_params() == fitted[0].get_params()
    assert not hasattr(clone(fitted[0]), "hmm_")


def test_y_from_x_posteriors_then_em_on_y(data):
    X, Y_gauss, _ = data
    X, Y = [x[:5] for x in X[:3]], [y[:5] for y in Y_gauss[:3]]
    only_x = CrossModalHMM(2, y_n_iter=0, random_state=0).fit(X, Y)
    # without refinement: posterior-weighted statistics under P(z | X), by enumeration
    gammas = [brute_force(only_x, x, y)[2] for x, y in zip(X, Y, strict=True)]
    gamma, y = np.vstack(gammas), np.vstack(Y)
    means = gamma.T @ y / gamma.sum(axis=0)[:, None]
    np.testing.assert_allclose(only_x.y_means_, means, rtol=1e-6)
    np.testing.assert_allclose(only_x.y_covars_,
                               gamma.T @ y ** 2 / gamma.sum(axis=0)[:, None] - means ** 2
                               + only_x.y_min_covar, rtol=1e-6)


def test_em_on_y_raises_conditional_likelihood_and_removes_the_blur(data):
    X, Y_gauss, _ = data
    X, Y = X[:8], Y_gauss[:8]
    only_x = CrossModalHMM(3, y_n_iter=0, n_init=1, random_state=0).fit(X, Y)
    refined = CrossModalHMM(3, y_n_iter=30, n_init=1, random_state=0).fit(X, Y)
    np.testing.assert_allclose(refined.transmat_, only_x.transmat_)  # P(X) is kept
    np.testing.assert_allclose(refined.means_, only_x.means_)
    assert refined.y_n_iter_ >= 1
    assert (refined.conditional_log_likelihood(X, Y).sum()
            > only_x.conditional_log_likelihood(X, Y).sum())
    # soft posteriors of X pull the Y means together; EM moves them back out
    spread = [np.ptp(model.y_means_) for model in (only_x, refined)]
    assert spread[0] < spread[1] <= np.ptp(Y_MEANS) + 0.2
