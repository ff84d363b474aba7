"""Per-block normalisation so blocks of different widths weigh the same."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.preprocessing import StandardScaler, normalize
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data


class BlockNormalizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale one modality's feature block to unit size per sample.

    Early fusion concatenates blocks of very different widths (a 1,000-term
    TF-IDF block beside a 64-word histogram). Without care the wide block
    dominates every distance and every regularised linear model. This step
    gives each block the same expected squared norm, 1, so block weights
    mean what they say.

    Parameters
    ----------
    norm : {"l2", "l1", "standard"} or None, default="l2"
        ``"l2"``/``"l1"``: each row is scaled to unit norm (all-zero rows,
        e.g. a missing modality, stay zero). ``"standard"``: features are
        standardised (mean removed for dense input only) and divided by
        ``sqrt(n_features)`` so a row's expected squared norm is 1. None:
        passthrough.

    Attributes
    ----------
    scaler_ : StandardScaler or None
        Fitted scaler when ``norm="standard"``.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.fusion import BlockNormalizer
    >>> X = np.array([[3.0, 4.0], [0.0, 0.0]])
    >>> BlockNormalizer().fit_transform(X)
    array([[0.6, 0.8],
           [0. , 0. ]])
    """

    _parameter_constraints = {"norm": [StrOptions({"l2", "l1", "standard"}), None]}

    def __init__(self, norm="l2"):
        self.norm = norm

    def fit(self, X, y=None):
        """Learn the standardisation (``norm="standard"``); otherwise stateless.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        X = validate_data(self, X, accept_sparse=("csr", "csc"),
                          dtype=(np.float64, np.float32), reset=True)
        if self.norm == "standard":
            self.scaler_ = StandardScaler(with_mean=not sp.issparse(X)).fit(X)
        else:
            self.scaler_ = None
        return self

    def transform(self, X):
        """Normalise the block.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        X_new : {ndarray, sparse matrix} of shape (n_samples, n_features)
        """
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, accept_sparse=("csr", "csc"),
                          dtype=(np.float64, np.float32), reset=False, copy=True)
        if self.norm in ("l1", "l2"):
            return normalize(X, norm=self.norm, copy=False)
        if self.norm == "standard":
            X = self.scaler_.transform(X)
            return X / np.sqrt(max(X.shape[1], 1))
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.requires_fit = True
        return tags
