"""The two-view estimator API shared by every cross-modal method.

A two-view estimator learns from paired rows ``X[i] <-> Y[i]`` (an image and
its text) and maps each view into a common space where the two can be
compared. The API follows scikit-learn's cross-decomposition estimators:
``fit(X, Y, y=None)`` (``y``: optional class labels), ``transform(X, Y=None)``
returning the X scores, or both scores when ``Y`` is given, plus
``transform_x(X)`` and ``transform_y(Y)`` to embed one view alone -- what a
retrieval system needs, since a query comes from one modality only.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

VIEW_NAMES = ("X", "Y")


def check_two_views(estimator, X, Y, *, reset, accept_sparse=False, dtype=np.float64):
    """Validate a pair of views: same number of rows, finite, at least 2 samples.

    ``X`` goes through :func:`sklearn.utils.validation.validate_data` (setting
    ``n_features_in_`` when ``reset``); ``Y`` may be 1-D (one column) and its
    width is kept in ``n_features_y_in_``.
    """
    name = type(estimator).__name__
    if Y is None:
        raise ValueError(
            f"{name} requires y to be passed, but the target y is None: the second view Y "
            "is required (fit(X, Y): row i of X is paired with row i of Y)"
        )
    X = validate_data(estimator, X, reset=reset, accept_sparse=accept_sparse, dtype=dtype,
                      ensure_min_samples=2 if reset else 1)
    Y = _check_y_view(estimator, Y, reset=reset, accept_sparse=accept_sparse, dtype=dtype,
                      ensure_min_samples=2 if reset else 1)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{name}: the views must be paired row by row, but X has {X.shape[0]} rows and "
            f"Y has {Y.shape[0]}"
        )
    return X, Y


def _check_y_view(estimator, Y, *, reset, accept_sparse=False, dtype=np.float64,
                  ensure_min_samples=1):
    Y = check_array(Y, accept_sparse=accept_sparse, dtype=dtype, ensure_2d=False,
                    ensure_min_samples=ensure_min_samples, input_name="Y")
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.ndim != 2:
        raise ValueError(f"Y must be 1-D or 2-D, got {Y.ndim} dimensions")
    if reset:
        estimator.n_features_y_in_ = Y.shape[1]
    elif Y.shape[1] != estimator.n_features_y_in_:
        raise ValueError(
            f"Y has {Y.shape[1]} features, but {type(estimator).__name__} was fitted with "
            f"{estimator.n_features_y_in_} features in Y"
        )
    return Y


def check_labels(y, n_samples, name, *, required):
    """Class labels for the rows, or None; a clear error on a length mismatch."""
    if y is None:
        if required:
            raise ValueError(f"{name}: class labels y are required (fit(X, Y, y))")
        return None
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise ValueError(
            f"{name}: y must hold one label per row pair ({n_samples}), got shape {y.shape}"
        )
    return y


def mean_of(X):
    """Column means of a dense or sparse matrix, as a 1-D float64 array."""
    return np.asarray(X.mean(axis=0), dtype=np.float64).ravel()


def centred_product(X, W, mean):
    """``(X - mean) @ W`` without densifying a sparse ``X``."""
    return np.asarray(X @ W) - mean @ W


class TwoViewTransformerMixin(TransformerMixin):
    """``transform``/``fit_transform``/``get_feature_names_out`` for two-view estimators.

    Subclasses implement ``fit(X, Y, y=None)``, ``_transform_x(X)`` and
    ``_transform_y(Y)`` on validated arrays, and the property
    ``_n_features_out``.
    """

    _feature_prefix = "component"
    _accept_sparse = False

    def transform_x(self, X):
        """Embed the first view alone (e.g. image queries).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_embedded : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse=self._accept_sparse,
                          dtype=np.float64)
        return self._transform_x(X)

    def transform_y(self, Y):
        """Embed the second view alone (e.g. text queries).

        Parameters
        ----------
        Y : array-like of shape (n_samples, n_features_y) or (n_samples,)

        Returns
        -------
        Y_embedded : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        Y = _check_y_view(self, Y, reset=False, accept_sparse=self._accept_sparse)
        return self._transform_y(Y)

    def transform(self, X, Y=None):
        """Embed X, or both views when Y is given (as sklearn's CCA does).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        Y : array-like of shape (n_samples, n_features_y), default=None

        Returns
        -------
        X_embedded : ndarray of shape (n_samples, n_components)
            When ``Y`` is None.
        (X_embedded, Y_embedded) : tuple of ndarrays
            When ``Y`` is given.
        """
        X_embedded = self.transform_x(X)
        if Y is None:
            return X_embedded
        Y_embedded = self.transform_y(Y)
        if Y_embedded.shape[0] != X_embedded.shape[0]:
            raise ValueError(
                f"X has {X_embedded.shape[0]} rows and Y has {Y_embedded.shape[0]}; "
                "they must be paired"
            )
        return X_embedded, Y_embedded

    def fit_transform(self, X, Y=None, y=None, **fit_params):
        """Fit on the paired views and return both embeddings.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        Y : array-like of shape (n_samples, n_features_y)
            Second view. When it is None, ``y`` is taken as the second view,
            as scikit-learn's cross-decomposition estimators (and tools that
            call ``fit_transform(X, y=...)``) pass it.
        y : array-like of shape (n_samples,), default=None
            Class labels, for the methods that use them.

        Returns
        -------
        (X_embedded, Y_embedded) : tuple of ndarrays
        """
        if Y is None:
            Y, y = y, None
        self.fit(X, Y, y, **fit_params)
        return self.transform(X, Y)

    def get_feature_names_out(self, input_features=None):
        """Names of the shared-space dimensions, e.g. ``cca0, cca1, ...``.

        Parameters
        ----------
        input_features : None
            Ignored; the output names do not depend on the input names.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return np.asarray([f"{self._feature_prefix}{i}" for i in range(self._n_features_out)],
                          dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = bool(self._accept_sparse)
        return tags


class TwoViewEstimator(TwoViewTransformerMixin, BaseEstimator):
    """Base class: a scikit-learn estimator over two paired views."""
