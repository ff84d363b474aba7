"""SemanticMatching / SemanticCorrelationMatching against their sklearn building blocks."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC

from mmfuse.crossmodal import (
    CCA,
    KernelCCA,
    SemanticCorrelationMatching,
    SemanticMatching,
)
from mmfuse.crossmodal._semantic import default_classifier
from mmfuse.crossmodal.metrics import mean_average_precision, relevance_from_labels


def _labelled_views(n=300, n_classes=4, noise=1.0, seed=0):
    """Both views are noisy functions of the class: a known generative truth."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, size=n)
    onehot = np.eye(n_classes)[labels]
    X = onehot @ rng.normal(size=(n_classes, 8)) + noise * rng.normal(size=(n, 8))
    Y = onehot @ rng.normal(size=(n_classes, 5)) + noise * rng.normal(size=(n, 5))
    return X, Y, labels


def test_sm_outputs_are_each_views_classifier_probabilities():
    X, Y, y = _labelled_views()
    sm = SemanticMatching().fit(X, Y, y)
    reference_x = default_classifier().fit(X, y)
    reference_y = default_classifier().fit(Y, y)
    np.testing.assert_allclose(sm.transform_x(X), reference_x.predict_proba(X), rtol=1e-10)
    np.testing.assert_allclose(sm.transform_y(Y), reference_y.predict_proba(Y), rtol=1e-10)
    np.testing.assert_array_equal(sm.classes_, np.arange(4))
    assert sm.get_feature_names_out().tolist() == ["proba_0", "proba_1", "proba_2", "proba_3"]


def test_sm_separate_classifiers_and_sparse_views():
    X, Y, y = _labelled_views()
    sm = SemanticMatching(GaussianNB(), LogisticRegression(max_iter=1000))
    sm.fit(X, sp.csr_matrix(np.abs(Y)), y)
    assert isinstance(sm.classifier_x_, GaussianNB)
    np.testing.assert_allclose(
        sm.transform_y(sp.csr_matrix(np.abs(Y))),
        LogisticRegression(max_iter=1000).fit(np.abs(Y), y).predict_proba(np.abs(Y)),
        rtol=1e-6, atol=1e-8)
    # The default classifier does not centre sparse input.
    default = SemanticMatching().fit(X, sp.csr_matrix(np.abs(Y)), y)
    assert default.classifier_y_.steps[0][1].with_mean is False


def test_scm_is_sm_on_the_correlation_projections():
    X, Y, y = _labelled_views(seed=1)
    scm = SemanticCorrelationMatching(CCA(n_components=3)).fit(X, Y, y)
    cca = CCA(n_components=3).fit(X, Y)
    sm = SemanticMatching().fit(cca.transform_x(X), cca.transform_y(Y), y)
    np.testing.assert_allclose(scm.transform_x(X), sm.transform_x(cca.transform_x(X)),
                               rtol=1e-8)
    np.testing.assert_allclose(scm.transform_y(Y), sm.transform_y(cca.transform_y(Y)),
                               rtol=1e-8)
    # Default correlation: CCA with every canonical pair.
    default = SemanticCorrelationMatching().fit(X, Y, y)
    assert default.correlation_.n_components_ == 5
    other = SemanticCorrelationMatching(KernelCCA(n_components=2, n_approx_components=50,
                                                  random_state=0)).fit(X, Y, y)
    assert other.transform_x(X).shape == (300, 4)


def test_semantic_spaces_retrieve_better_than_chance():
    X, Y, y = _labelled_views(n=400, seed=2)
    X_test, Y_test, y_test = X[200:], Y[200:], y[200:]  # held out
    X, Y, y = X[:200], Y[:200], y[:200]
    relevance = relevance_from_labels(y_test, y_test)
    rng = np.random.default_rng(0)
    chance = mean_average_precision(rng.random((200, 200)), relevance)
    for method in (SemanticMatching(), SemanticCorrelationMatching()):
        method.fit(X, Y, y)
        P_x, P_y = method.transform(X_test, Y_test)
        P_x = P_x / np.linalg.norm(P_x, axis=1, keepdims=True)
        P_y = P_y / np.linalg.norm(P_y, axis=1, keepdims=True)
        assert mean_average_precision(P_x @ P_y.T, relevance) > chance + 0.2


def test_conformance_clone_pickle_not_fitted():
    X, Y, y = _labelled_views(n=80)
    for method in (SemanticMatching(), SemanticCorrelationMatching(CCA(n_components=2))):
        with pytest.raises(NotFittedError):
            method.transform_x(X)
        fitted = clone(method).fit(X, Y, y)
        assert not hasattr(clone(fitted), "classes_")
        restored = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_allclose(restored.transform_y(Y), fitted.transform_y(Y))
        again = clone(method).fit(X, Y, y)
        np.testing.assert_allclose(again.transform_x(X), fitted.transform_x(X))
        X_c, Y_c = clone(method).fit_transform(X, Y, y)
        assert X_c.shape == Y_c.shape == (80, 4)


@pytest.mark.parametrize("bad, error", [
    (lambda X, Y, y: SemanticMatching().fit(X, Y, None), "labels y are required"),
    (lambda X, Y, y: SemanticMatching().fit(X, Y, y[:-1]), "one label per row"),
    (lambda X, Y, y: SemanticMatching().fit(X, Y, np.zeros_like(y)), "at least 2 classes"),
    (lambda X, Y, y: SemanticMatching(LinearSVC()).fit(X, Y, y), "predict_proba"),
    (lambda X, Y, y: SemanticCorrelationMatching(LogisticRegression()).fit(X, Y, y),
     "transform_x"),
    (lambda X, Y, y: SemanticMatching().fit(X, Y[:-1], y), "paired row by row"),
])
def test_bad_input_clear_error(bad, error):
    X, Y, y = _labelled_views(n=60)
    with pytest.raises((ValueError, TypeError), match=error):
        bad(X, Y, y)
