"""Per-block normalisation so blocks of different widths weigh the same."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone
from sklearn.preprocessing import StandardScaler, normalize
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from mmfuse.fusion._base import missing_modality_mask, take_rows


class BlockNormalizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale one modality's feature block to unit size per sample.

    Early fusion concatenates blocks of very different widths (a 1,000-term
    TF-IDF block beside a 64-word histogram). Without care the wide block
    dominates every distance and every regularised linear model. This step
    gives each block the same expected squared norm, 1, so block weights
    mean what they say.

    Parameters
    ----------
    norm : {"l2", "l1", "standard", "power"} or None, default="l2"
        ``"l2"``/``"l1"``: each row is scaled to unit norm (all-zero rows,
        e.g. a missing modality, stay zero). ``"standard"``: features are
        standardised (mean removed for dense input only) and divided by
        ``sqrt(n_features)`` so a row's expected squared norm is 1.
        ``"power"``: signed power ``sign(x) * |x| ** alpha`` then L2, the
        "improved Fisher vector" normalisation that tames bursty histograms.
        None: passthrough.
    alpha : float, default=0.5
        Exponent of the ``"power"`` normalisation (0.5: signed square root).

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
    >>> BlockNormalizer("power").fit_transform([[9.0, -16.0]])
    array([[ 0.6, -0.8]])
    """

    _parameter_constraints = {
        "norm": [StrOptions({"l2", "l1", "standard", "power"}), None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, norm="l2", *, alpha=0.5):
        self.norm = norm
        self.alpha = alpha

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
        if self.norm == "power":
            values = X.data if sp.issparse(X) else X
            values[...] = np.sign(values) * np.abs(values) ** self.alpha
            return normalize(X, norm="l2", copy=False)
        if self.norm == "standard":
            X = self.scaler_.transform(X)
            return X / np.sqrt(max(X.shape[1], 1))
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.requires_fit = True
        return tags


class ModalityBlock(TransformerMixin, BaseEstimator):
    """One modality's features, learned from the samples that have the modality.

    The wrapped transformer is fitted on, and applied to, only the samples
    whose modality is present (:func:`~mmfuse.fusion.missing_modality_mask`);
    absent samples get an imputed row — zeros, or the mean of the present
    rows' features — and, optionally, a last column ``present`` saying which
    is which. Fusion estimators build these blocks internally; use it
    directly to give any transformer a missing-modality policy.

    Parameters
    ----------
    transformer : transformer
        Maps the modality's cells to a feature block.
    modality : str, default="modality"
        Name used in error messages.
    fill : {"zero", "mean"}, default="zero"
        Row given to samples without the modality.
    add_indicator : bool, default=False
        Append a presence column (1.0 present, 0.0 absent).

    Attributes
    ----------
    transformer_ : transformer
        The fitted copy of ``transformer``.
    fill_value_ : ndarray of shape (n_block_features,)
        The imputed row.
    n_block_features_ : int
        Width of the block before the indicator.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> from mmfuse.fusion import ModalityBlock
    >>> X = np.array([[1.0, 2.0], [3.0, 6.0], [np.nan, np.nan]])
    >>> ModalityBlock(StandardScaler(), fill="mean", add_indicator=True).fit_transform(X)
    array([[-1., -1.,  1.],
           [ 1.,  1.,  1.],
           [ 0.,  0.,  0.]])
    """

    _parameter_constraints = {
        "transformer": [HasMethods(["fit", "transform"])],
        "modality": [str],
        "fill": [StrOptions({"zero", "mean"})],
        "add_indicator": ["boolean"],
    }

    def __init__(self, transformer, *, modality="modality", fill="zero", add_indicator=False):
        self.transformer = transformer
        self.modality = modality
        self.fill = fill
        self.add_indicator = add_indicator

    def fit(self, X, y=None):
        """Fit the transformer on the samples that have the modality.

        Parameters
        ----------
        X : column or table of the modality's cells
        y : array-like, default=None

        Returns
        -------
        self
        """
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit, then return the block for every sample (imputed where absent)."""
        self._validate_params()
        X = _as_cells(X)
        missing = missing_modality_mask(X)
        present = np.flatnonzero(~missing)
        if present.size == 0:
            raise ValueError(f"modality {self.modality!r} is missing for every one of the "
                             f"{len(missing)} training samples; drop it or supply it")
        self.transformer_ = clone(self.transformer)
        y_present = None if y is None else take_rows(_as_cells(y), present)
        Z = self.transformer_.fit_transform(take_rows(X, present), y_present)
        self.n_block_features_ = Z.shape[1]
        if self.fill == "mean":
            self.fill_value_ = np.asarray(Z.mean(axis=0), dtype=np.float64).ravel()
        else:
            self.fill_value_ = np.zeros(Z.shape[1])
        return self._assemble(Z, missing, present)

    def transform(self, X):
        """The block of every sample: features where present, the fill row where absent."""
        check_is_fitted(self, "transformer_")
        X = _as_cells(X)
        missing = missing_modality_mask(X)
        present = np.flatnonzero(~missing)
        if present.size:
            Z = self.transformer_.transform(take_rows(X, present))
        else:
            Z = np.zeros((0, self.n_block_features_))
        return self._assemble(Z, missing, present)

    def _assemble(self, Z, missing, present):
        n = len(missing)
        if sp.issparse(Z):
            scatter = sp.csr_matrix((np.ones(present.size), (present, np.arange(present.size))),
                                    shape=(n, present.size))
            out = scatter @ sp.csr_matrix(Z)
            if np.any(self.fill_value_):
                absent = sp.csr_matrix(missing.astype(np.float64).reshape(-1, 1))
                out = out + absent @ sp.csr_matrix(self.fill_value_.reshape(1, -1))
            if self.add_indicator:
                out = sp.hstack([out, sp.csr_matrix((~missing).astype(np.float64)[:, None])])
            return sp.csr_matrix(out)
        out = np.tile(self.fill_value_.astype(np.float64), (n, 1))
        out[present] = Z
        if self.add_indicator:
            out = np.hstack([out, (~missing).astype(np.float64)[:, None]])
        return out

    def get_feature_names_out(self, input_features=None):
        """The transformer's feature names, plus ``present`` with ``add_indicator``."""
        check_is_fitted(self, "transformer_")
        names = list(self.transformer_.get_feature_names_out(input_features))
        if self.add_indicator:
            names.append("present")
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True
        return tags


def _as_cells(X):
    """Array-likes that cannot be indexed by rows (e.g. array wrappers) become arrays."""
    if isinstance(X, (pd.DataFrame, pd.Series, np.ndarray, list, tuple)) or sp.issparse(X):
        return X
    return np.asarray(X)
