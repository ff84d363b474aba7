"""Semantic matching (SM) and semantic correlation matching (SCM), Rasiwasia et al. 2010."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from mmfuse.crossmodal._base import (
    TwoViewEstimator,
    TwoViewTransformerMixin,
    check_labels,
    check_two_views,
)
from mmfuse.crossmodal._cca import CCA


def default_classifier(sparse=False):
    """The per-view classifier used when none is given.

    Standardised features (no centring for sparse input) and multinomial
    logistic regression, the classifier of Rasiwasia et al. (2010).

    Examples
    --------
    >>> from mmfuse.crossmodal._semantic import default_classifier
    >>> default_classifier()
    Pipeline(steps=[('standardscaler', StandardScaler()),
                    ('logisticregression', LogisticRegression(max_iter=1000))])
    """
    return make_pipeline(StandardScaler(with_mean=not sparse), LogisticRegression(max_iter=1000))


def _check_probabilistic(classifier, name):
    if not hasattr(classifier, "predict_proba"):
        raise TypeError(
            f"{name} must be a probabilistic classifier with predict_proba, got "
            f"{type(classifier).__name__}"
        )


class SemanticMatching(TwoViewEstimator):
    """Map each view to the simplex of class probabilities (SM).

    One probabilistic classifier per view is trained on the shared class
    labels; an image and a text are then both represented by their vector of
    posterior class probabilities, a space where they are directly
    comparable (Rasiwasia et al., ACM MM 2010). Rank with the ``"cosine"``
    (normalised correlation), ``"correlation"`` or ``"kl"`` metric of
    :class:`CrossModalIndex`.

    Parameters
    ----------
    classifier : classifier with predict_proba, default=None
        Classifier for the first view; None uses :func:`default_classifier`
        (standardisation + multinomial logistic regression). It is cloned.
    classifier_y : classifier with predict_proba, default=None
        Classifier for the second view; None uses a clone of `classifier`.

    Attributes
    ----------
    classifier_x_, classifier_y_ : fitted classifiers
        One per view.
    classes_ : ndarray
        Class labels, the order of the output columns.
    n_features_in_, n_features_y_in_ : int
        Widths of the two views.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal import SemanticMatching
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 3, size=120)
    >>> X = np.eye(3)[labels] + 0.3 * rng.normal(size=(120, 3))
    >>> Y = np.eye(3)[labels] @ rng.normal(size=(3, 5)) + 0.3 * rng.normal(size=(120, 5))
    >>> sm = SemanticMatching().fit(X, Y, labels)
    >>> P_x, P_y = sm.transform(X, Y)
    >>> P_x.shape, bool(np.allclose(P_y.sum(axis=1), 1))
    ((120, 3), True)
    """

    _parameter_constraints = {
        "classifier": [HasMethods(["fit", "predict_proba"]), None],
        "classifier_y": [HasMethods(["fit", "predict_proba"]), None],
    }
    _feature_prefix = "proba"
    _accept_sparse = "csr"

    def __init__(self, classifier=None, classifier_y=None):
        self.classifier = classifier
        self.classifier_y = classifier_y

    def fit(self, X, Y, y):
        """Train one classifier per view on the shared labels.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        Y : array-like or sparse matrix of shape (n_samples, n_features_y)
            Paired with ``X`` row by row.
        y : array-like of shape (n_samples,)
            Class label of each pair (required).

        Returns
        -------
        self : SemanticMatching
        """
        self._validate_params()
        X, Y = check_two_views(self, X, Y, reset=True, accept_sparse=self._accept_sparse)
        y = check_labels(y, X.shape[0], type(self).__name__, required=True)
        classes = np.unique(y)
        if classes.size < 2:
            raise ValueError(f"{type(self).__name__}: needs at least 2 classes in y, got "
                             f"{classes.size}")
        base_x = (default_classifier(sp.issparse(X)) if self.classifier is None
                  else clone(self.classifier))
        if self.classifier_y is not None:
            base_y = clone(self.classifier_y)
        elif self.classifier is not None:
            base_y = clone(self.classifier)
        else:
            base_y = default_classifier(sp.issparse(Y))
        _check_probabilistic(base_x, "classifier")
        _check_probabilistic(base_y, "classifier_y")
        self.classifier_x_ = base_x.fit(X, y)
        self.classifier_y_ = base_y.fit(Y, y)
        self.classes_ = self.classifier_x_.classes_
        if not np.array_equal(self.classes_, self.classifier_y_.classes_):
            raise ValueError("the two classifiers disagree on the classes")
        return self

    @property
    def _n_features_out(self):
        return len(self.classes_)

    def _transform_x(self, X):
        return self.classifier_x_.predict_proba(X)

    def _transform_y(self, Y):
        return self.classifier_y_.predict_proba(Y)

    def get_feature_names_out(self, input_features=None):
        """``proba_<class>`` for each class, in ``classes_`` order.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return np.asarray([f"proba_{c}" for c in self.classes_], dtype=object)


class SemanticCorrelationMatching(TwoViewTransformerMixin, BaseEstimator):
    """Semantic matching on top of a correlation space (SCM).

    First a correlation model (CCA by default) maps both views into a space
    where they are maximally correlated; then :class:`SemanticMatching`
    classifies the projections, so that each item becomes a vector of class
    probabilities computed from the part of its features that the other
    modality can predict (Rasiwasia et al., ACM MM 2010, where SCM beat CCA
    and SM in both directions).

    Parameters
    ----------
    correlation : two-view estimator, default=None
        Any estimator with ``fit(X, Y, y=None)``, ``transform_x`` and
        ``transform_y`` (:class:`CCA`, :class:`KernelCCA`, :class:`PLS`,
        :class:`RankingEmbedding`); cloned. None uses
        ``CCA(n_components=None)`` (all canonical pairs).
    classifier, classifier_y : classifiers with predict_proba, default=None
        As in :class:`SemanticMatching`, applied to the projections.

    Attributes
    ----------
    correlation_ : fitted two-view estimator
    semantic_ : fitted SemanticMatching
    classes_ : ndarray
    n_features_in_, n_features_y_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal import CCA, SemanticCorrelationMatching
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 3, size=150)
    >>> X = np.eye(3)[labels] @ rng.normal(size=(3, 6)) + 0.5 * rng.normal(size=(150, 6))
    >>> Y = np.eye(3)[labels] @ rng.normal(size=(3, 4)) + 0.5 * rng.normal(size=(150, 4))
    >>> scm = SemanticCorrelationMatching(CCA(n_components=2)).fit(X, Y, labels)
    >>> scm.transform_y(Y[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        "correlation": [HasMethods(["fit", "transform_x", "transform_y"]), None],
        "classifier": [HasMethods(["fit", "predict_proba"]), None],
        "classifier_y": [HasMethods(["fit", "predict_proba"]), None],
    }
    _feature_prefix = "proba"
    _accept_sparse = "csr"

    def __init__(self, correlation=None, classifier=None, classifier_y=None):
        self.correlation = correlation
        self.classifier = classifier
        self.classifier_y = classifier_y

    def fit(self, X, Y, y):
        """Fit the correlation model, then semantic matching on its projections.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        Y : array-like or sparse matrix of shape (n_samples, n_features_y)
        y : array-like of shape (n_samples,)
            Class labels (required).

        Returns
        -------
        self : SemanticCorrelationMatching
        """
        self._validate_params()
        X, Y = check_two_views(self, X, Y, reset=True, accept_sparse=self._accept_sparse)
        y = check_labels(y, X.shape[0], type(self).__name__, required=True)
        correlation = CCA(n_components=None) if self.correlation is None else clone(
            self.correlation)
        for method in ("fit", "transform_x", "transform_y"):
            if not hasattr(correlation, method):
                raise TypeError(f"correlation must be a two-view estimator with {method}(), "
                                f"got {type(correlation).__name__}")
        self.correlation_ = correlation.fit(X, Y, y)
        self.semantic_ = SemanticMatching(self.classifier, self.classifier_y).fit(
            self.correlation_.transform_x(X), self.correlation_.transform_y(Y), y)
        self.classes_ = self.semantic_.classes_
        return self

    @property
    def _n_features_out(self):
        return len(self.classes_)

    def _transform_x(self, X):
        return self.semantic_.transform_x(self.correlation_.transform_x(X))

    def _transform_y(self, Y):
        return self.semantic_.transform_y(self.correlation_.transform_y(Y))

    def get_feature_names_out(self, input_features=None):
        """``proba_<class>`` for each class, in ``classes_`` order.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return self.semantic_.get_feature_names_out()
