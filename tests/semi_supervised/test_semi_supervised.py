"""Semi-supervised learning across views, against scikit-learn and a known generative truth."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.semi_supervised import LabelSpreading
from sklearn.utils.estimator_checks import parametrize_with_checks

from mmfuse.blocks import Blocks
from mmfuse.crossmodal import CCA
from mmfuse.semi_supervised import (
    CCAClassifier,
    CoTrainingClassifier,
    MultiviewLabelSpreading,
    median_gamma,
)


def two_views(n=600, n_classes=2, separation=0.9, width=(10, 30), seed=0):
    """Two views independent given the class: each view's mean moves with the class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    views = []
    for d in width:
        centres = rng.normal(size=(n_classes, d)) * separation
        views.append(centres[y] + rng.normal(size=(n, d)))
    return views[0], views[1], y


def hide_labels(y, fraction, seed=0):
    """Keep ``fraction`` of the labels (at least two per class), -1 elsewhere."""
    rng = np.random.default_rng(seed)
    keep = np.zeros(y.size, bool)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        keep[rng.choice(rows, max(2, round(fraction * rows.size)), replace=False)] = True
    return np.where(keep, y, -1)


@parametrize_with_checks([MultiviewLabelSpreading(),
                          MultiviewLabelSpreading(views=[("a", slice(0, 1)),
                                                         ("b", slice(0, None))]),
                          CoTrainingClassifier(views=[("a", slice(0, 1)),
                                                      ("b", slice(0, None))],
                                               max_rounds=3, random_state=0),
                          CCAClassifier(views=[("a", slice(0, 1)), ("b", slice(0, None))],
                                        random_state=0)],
                         expected_failed_checks=lambda estimator: {
                             "check_classifiers_classes": "-1 marks unlabelled samples, as in "
                             "sklearn.semi_supervised, so it cannot be a class label"})
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_label_spreading_equals_sklearn_on_the_precomputed_fused_kernel():
    image, text, y = two_views(n=200, n_classes=3)
    partial = hide_labels(y, 0.1)
    gammas, weights = [0.05, 0.02], np.array([0.7, 0.3])
    model = MultiviewLabelSpreading(n_neighbors=None, combine="mean", gamma=gammas,
                                    view_weights=[7, 3], alpha=0.3).fit(
        {"image": image, "text": text}, partial)
    # the fused kernel written out, handed to sklearn as a lookup by row index
    K = weights[0] * rbf_kernel(image, gamma=0.05) + weights[1] * rbf_kernel(text, gamma=0.02)
    rows = np.arange(200, dtype=float)[:, None]
    reference = LabelSpreading(kernel=lambda A, B: K[np.ix_(A[:, 0].astype(int),
                                                            B[:, 0].astype(int))],
                               alpha=0.3).fit(rows, partial)
    np.testing.assert_allclose(model.label_distributions_, reference.label_distributions_,
                               atol=1e-10)
    np.testing.assert_array_equal(model.transduction_, reference.transduction_)
    np.testing.assert_allclose(model.predict_proba({"image": image[:20], "text": text[:20]}),
                               reference.predict_proba(rows[:20]), atol=1e-10)


def test_knn_graph_equals_sklearn_on_the_sparsified_fused_kernel():
    image, text, y = two_views(n=150, n_classes=3, seed=2)
    partial = hide_labels(y, 0.1, seed=2)
    model = MultiviewLabelSpreading(n_neighbors=6, gamma=[0.05, 0.02]).fit(
        {"image": image, "text": text}, partial)
    K = rbf_kernel(image, gamma=0.05) * rbf_kernel(text, gamma=0.02)  # combine="product"
    # brute force: each sample's 6 most similar training samples (itself included)
    nearest = np.argsort(-K, axis=1, kind="stable")[:, :6]
    graph = np.zeros_like(K)
    np.put_along_axis(graph, nearest, np.take_along_axis(K, nearest, 1), axis=1)

    def kernel(A, B):
        a, b = A[:, 0].astype(int), B[:, 0].astype(int)
        if A is B:
            return graph[np.ix_(a, b)]
        return graph[np.ix_(b, a)].T  # new samples (columns) keep their neighbours

    rows = np.arange(150, dtype=float)[:, None]
    reference = LabelSpreading(kernel=kernel).fit(rows, partial)
    np.testing.assert_allclose(model.label_distributions_, reference.label_distributions_,
                               atol=1e-10)
    np.testing.assert_allclose(model.predict_proba({"image": image[:30], "text": text[:30]}),
                               reference.predict_proba(rows[:30]), atol=1e-10)


def test_fused_graph_separates_what_no_view_separates_alone():
    # four classes: the image view tells {0, 1} from {2, 3}, the text view {0, 2}
    # from {1, 3}; only together do they tell all four apart
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, size=600)
    image = np.c_[3.0 * (y >= 2), np.zeros(600)] + rng.normal(size=(600, 2))
    text = np.c_[3.0 * (y % 2), np.zeros(600)] + rng.normal(size=(600, 2))
    partial = hide_labels(y, 0.05, seed=1)
    unlabelled = partial == -1
    both = MultiviewLabelSpreading().fit({"image": image, "text": text}, partial)
    alone = [MultiviewLabelSpreading().fit({"v": view}, partial) for view in (image, text)]
    accuracy = [np.mean(m.transduction_[unlabelled] == y[unlabelled]) for m in alone]
    assert max(accuracy) < 0.6
    assert np.mean(both.transduction_[unlabelled] == y[unlabelled]) > 0.75


def test_median_gamma_is_one_over_the_median_squared_distance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)) * 10
    d2 = ((X[:, None] - X[None]) ** 2).sum(-1)[np.triu_indices(50, 1)]
    assert median_gamma(X) == pytest.approx(1 / np.median(d2))


def test_cotraining_with_five_percent_of_labels_beats_the_supervised_model():
    gains = []
    for seed in range(4):
        image, text, y = two_views(n=1000, separation=0.3, width=(50, 50), seed=seed)
        train, test = np.arange(800), np.arange(800, 1000)
        partial = hide_labels(y[train], 0.05, seed=seed)
        X = {"image": image[train], "text": text[train]}
        X_test = {"image": image[test], "text": text[test]}
        model = CoTrainingClassifier(n_per_class=5, max_rounds=40, random_state=seed).fit(
            X, partial)
        labelled = partial != -1
        supervised = LogisticRegression(max_iter=1000).fit(
            np.hstack([image[train], text[train]])[labelled], partial[labelled])
        gains.append(model.score(X_test, y[test])
                     - supervised.score(np.hstack([image[test], text[test]]), y[test]))
    assert np.mean(gains) > 0.025, gains
    assert min(gains) > 0, gains


def test_cotraining_bookkeeping_and_errors():
    image, text, y = two_views(n=300, n_classes=3)
    partial = hide_labels(y, 0.05)
    model = CoTrainingClassifier(n_per_class=1, pool_size=30, max_rounds=5,
                                 random_state=0).fit({"a": image, "b": text}, partial)
    # each round each view labels one sample per class, never one already labelled
    new = model.labeled_iter_ > 0
    assert model.n_rounds_ == 5 and new.sum() <= 5 * 2 * 3
    assert np.all(model.labeled_iter_[partial != -1] == 0)
    assert np.all(model.transduction_[partial != -1] == partial[partial != -1])
    assert np.all(model.transduction_[~new & (partial == -1)] == -1)
    proba = model.predict_proba({"a": image, "b": text})
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    with pytest.raises(ValueError, match="exactly two views"):
        CoTrainingClassifier().fit({"a": image, "b": text, "c": text}, partial)
    with pytest.raises(ValueError, match="at least two classes"):
        CoTrainingClassifier().fit({"a": image, "b": text}, np.where(y == 0, 0, -1))
    with pytest.raises(ValueError, match="views .* have"):
        model.predict({"a": image[:, :3], "b": text})
    with pytest.raises(ValueError, match="media cells"):
        CoTrainingClassifier().fit({"a": ["x.jpg"] * 300, "b": text}, partial)


def test_blocks_sparse_views_pipeline_and_grid_search():
    image, text, y = two_views(n=240, seed=3)
    sparse_text = sp.csr_matrix(np.where(text > 1, text, 0))
    X = Blocks({"image": image, "text": sparse_text})
    partial = hide_labels(y, 0.2, seed=3)
    for model in (MultiviewLabelSpreading(), CoTrainingClassifier(max_rounds=5,
                                                                   random_state=0)):
        pipe = make_pipeline(FunctionTransformer(lambda Z: Z), model)
        assert pipe.fit(X, partial).predict(X.take(np.arange(10))).shape == (10,)
    search = GridSearchCV(MultiviewLabelSpreading(), {"alpha": [0.1, 0.5]}, cv=3).fit(X, y)
    assert search.best_params_["alpha"] in (0.1, 0.5)


def latent_views(n=1000, n_classes=4, seed=0, width=40, noise=3.0):
    """Two views sharing a 3-D latent code that holds the class; each view adds
    loud noise of its own in many more dimensions (CCA's generative model)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    latent = rng.normal(size=(n_classes, 3))[y] + 0.5 * rng.normal(size=(n, 3))
    views = []
    for _ in range(2):
        mixing = rng.normal(size=(3, width))
        views.append(latent @ mixing + noise * rng.normal(size=(n, width))
                     * rng.uniform(0.5, 2, size=width))
    return views[0], views[1], y


def test_cca_classifier_with_five_percent_of_labels_beats_the_supervised_model():
    gains = {"linear": [], "kernel": []}
    for seed in range(3):
        image, text, y = latent_views(seed=seed)
        train, test = np.arange(800), np.arange(800, 1000)
        partial = hide_labels(y[train], 0.05, seed=seed)
        labelled = partial != -1
        X = {"image": image[train], "text": text[train]}
        X_test = {"image": image[test], "text": text[test]}
        supervised = LogisticRegression(max_iter=1000).fit(
            np.hstack([image[train], text[train]])[labelled], partial[labelled]).score(
            np.hstack([image[test], text[test]]), y[test])
        for name, model in (("linear", CCAClassifier(CCA(n_components=3))),
                            ("kernel", CCAClassifier(random_state=seed))):
            gains[name].append(model.fit(X, partial).score(X_test, y[test]) - supervised)
    for name, values in gains.items():
        assert np.mean(values) > 0.05 and min(values) > 0, (name, values)


def test_cca_classifier_equals_the_hand_built_sklearn_pipeline():
    # sklearn's own CCA as the embedding: the same variates and classifier by hand
    from sklearn.cross_decomposition import CCA as SkCCA

    image, text, y = latent_views(n=300, seed=5)
    partial = hide_labels(y, 0.1, seed=5)
    labelled = partial != -1
    for combine in ("concatenate", "mean"):
        model = CCAClassifier(SkCCA(n_components=2), combine=combine).fit(
            {"a": image, "b": text}, partial)
        u, v = SkCCA(n_components=2).fit(image, text).transform(image, text)
        Z = np.hstack([u, v]) if combine == "concatenate" else (u + v) / 2
        reference = LogisticRegression(max_iter=1000).fit(Z[labelled], partial[labelled])
        np.testing.assert_allclose(np.hstack(model.embedding_.transform(image, text)),
                                   np.hstack([u, v]), atol=1e-10)
        np.testing.assert_allclose(model.predict_proba({"a": image, "b": text}),
                                   reference.predict_proba(Z), atol=1e-8)
        np.testing.assert_array_equal(model.predict({"a": image, "b": text}),
                                      reference.predict(Z))
    # the embedding is learnt from every row, labelled or not
    assert model.embedding_.n_features_in_ == image.shape[1]
    np.testing.assert_allclose(model.embedding_.x_weights_,
                               SkCCA(n_components=2).fit(image, text).x_weights_)


def test_cca_classifier_errors_pipeline_and_grid_search():
    image, text, y = latent_views(n=240, seed=3)
    partial = hide_labels(y, 0.2, seed=3)
    X = Blocks({"image": image, "text": text})
    with pytest.raises(ValueError, match="exactly two views"):
        CCAClassifier().fit({"a": image, "b": text, "c": text}, partial)
    with pytest.raises(ValueError, match="at least two classes"):
        CCAClassifier().fit({"a": image, "b": text}, np.where(y == 0, 0, -1))
    model = CCAClassifier(CCA(n_components=2)).fit({"a": image, "b": text}, partial)
    with pytest.raises(ValueError, match="views .* have"):
        model.predict({"a": image[:, :3], "b": text})
    assert not hasattr(CCAClassifier(estimator=_NoProba()), "predict_proba")
    pipe = make_pipeline(FunctionTransformer(lambda Z: Z), CCAClassifier(CCA(n_components=2)))
    assert pipe.fit(X, partial).predict(X.take(np.arange(10))).shape == (10,)
    search = GridSearchCV(CCAClassifier(CCA(n_components=2)),
                          {"combine": ["concatenate", "mean"]}, cv=3).fit(X, y)
    assert search.best_params_["combine"] in ("concatenate", "mean")


class _NoProba:
    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.zeros(len(X))

    def get_params(self, deep=True):
        return {}
