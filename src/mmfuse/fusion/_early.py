"""Early (feature-level) fusion: per-modality pipelines, normalised, weighted, concatenated."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from mmfuse.fusion._blocks import BlockNormalizer


def as_frame(X) -> pd.DataFrame | object:
    """Turn a mapping of modality columns into a DataFrame, checking lengths."""
    if sp.issparse(X):
        # ColumnTransformer indexes columns, which only CSR/CSC support.
        return X.tocsr()
    if isinstance(X, Mapping):
        lengths = {name: len(col) for name, col in X.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{name!r}: {n}" for name, n in lengths.items())
            raise ValueError(
                f"modality columns have different numbers of samples ({detail}); every "
                "modality needs one cell per sample (use None for a missing cell)"
            )
        return pd.DataFrame({name: list(col) for name, col in X.items()})
    if isinstance(X, pd.Series) or (isinstance(X, np.ndarray) and X.ndim == 1) or (
            isinstance(X, list) and len(X) > 0 and np.isscalar(X[0])):
        raise ValueError(
            "Expected a 2-D table (DataFrame, mapping of columns or 2-D array) with one row "
            "per sample, got 1-D input. Reshape your data, e.g. df[[column]] or "
            "X.reshape(-1, 1)."
        )
    return X


class EarlyFusion(TransformerMixin, BaseEstimator):
    """Concatenate per-modality feature blocks, each normalised and weighted.

    Like :class:`sklearn.compose.ColumnTransformer`, each modality is a
    ``(name, transformer, columns)`` triple. Every block is then scaled by
    :class:`BlockNormalizer` so that a wide block (thousands of TF-IDF
    terms) cannot drown a narrow one (a 64-word histogram), multiplied by
    its weight, and the blocks are concatenated.

    Missing modalities: a ``None``/NaN cell is encoded by the modality's own
    transformer (mmfuse transformers give an all-zero row, which stays zero
    after normalisation), so the sample is represented by the modalities it
    has.

    Parameters
    ----------
    modalities : list of (str, transformer, column(s)) tuples
        ``name`` names the block (and prefixes feature names); ``transformer``
        is any sklearn transformer or ``"passthrough"``; ``columns`` selects
        the input as in ColumnTransformer (a single column name gives the
        transformer a 1-D column, as media transformers expect).
    norm : {"l2", "l1", "standard"} or None, default="l2"
        Block normalisation applied after each transformer.
    weights : dict of {str: float} or None, default=None
        Multiplier per block name (missing names get 1.0).
    sparse_threshold : float, default=0.3
        As in ColumnTransformer: the output is sparse when the overall
        density is below this threshold and some block is sparse.
    n_jobs : int or None, default=None
        Blocks fitted in parallel (joblib).
    verbose : bool, default=False
        Print the time each block takes.

    Attributes
    ----------
    column_transformer_ : ColumnTransformer
        The fitted ColumnTransformer doing the work.
    named_blocks_ : dict
        Fitted ``Pipeline(features, normalizer)`` per modality.
    block_slices_ : dict of {str: slice}
        Columns of each block in the output.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names of the input DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from mmfuse.fusion import EarlyFusion
    >>> df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 10.0, 20.0], "c": [5.0, 5.0, 6.0]})
    >>> fusion = EarlyFusion([("left", "passthrough", ["a", "b"]),
    ...                       ("right", "passthrough", ["c"])], weights={"right": 0.5})
    >>> fusion.fit_transform(df).round(3)
    array([[1.   , 0.   , 0.5  ],
           [0.196, 0.981, 0.5  ],
           [0.148, 0.989, 0.5  ]])
    >>> fusion.get_feature_names_out().tolist()
    ['left__a', 'left__b', 'right__c']
    """

    _parameter_constraints = {
        "modalities": [list],
        "norm": [StrOptions({"l2", "l1", "standard"}), None],
        "weights": [dict, None],
        "sparse_threshold": [float, int],
        "n_jobs": [int, None],
        "verbose": ["verbose"],
    }

    def __init__(self, modalities, *, norm="l2", weights=None, sparse_threshold=0.3,
                 n_jobs=None, verbose=False):
        self.modalities = modalities
        self.norm = norm
        self.weights = weights
        self.sparse_threshold = sparse_threshold
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _build(self) -> ColumnTransformer:
        names = [m[0] for m in self.modalities]
        if len(set(names)) != len(names):
            raise ValueError(f"modality names must be unique, got {names}")
        if not names:
            raise ValueError("EarlyFusion needs at least one modality")
        unknown = set(self.weights or {}) - set(names)
        if unknown:
            raise ValueError(f"weights name unknown modalities {sorted(unknown)}; known: {names}")
        blocks = []
        for spec in self.modalities:
            if len(spec) != 3:
                raise ValueError(
                    f"each modality must be a (name, transformer, columns) triple, got {spec!r}"
                )
            name, transformer, columns = spec
            steps = [] if transformer == "passthrough" else [("features", clone(transformer))]
            steps.append(("normalize", BlockNormalizer(norm=self.norm)))
            blocks.append((name, Pipeline(steps), columns))
        weights = {name: float((self.weights or {}).get(name, 1.0)) for name in names}
        return ColumnTransformer(
            blocks, transformer_weights=weights, sparse_threshold=self.sparse_threshold,
            n_jobs=self.n_jobs, verbose=self.verbose, verbose_feature_names_out=True,
        )

    def fit(self, X, y=None):
        """Fit every modality pipeline and its normaliser.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like
            One row per sample; columns as referenced in ``modalities``.
        y : array-like of shape (n_samples,), default=None
            Passed to each modality's transformer.

        Returns
        -------
        self
        """
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit all blocks and return the fused features."""
        self._validate_params()
        X = as_frame(X)
        self.column_transformer_ = self._build()
        Xt = self.column_transformer_.fit_transform(X, y)
        self._store_fitted(X)
        return Xt

    def _store_fitted(self, X) -> None:
        ct = self.column_transformer_
        self.n_features_in_ = ct.n_features_in_
        if hasattr(ct, "feature_names_in_"):
            self.feature_names_in_ = ct.feature_names_in_
        self.named_blocks_ = dict(ct.named_transformers_)
        self.named_blocks_.pop("remainder", None)
        self.block_slices_ = dict(ct.output_indices_)
        self.block_slices_.pop("remainder", None)

    def transform(self, X):
        """Fused features of new samples.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like

        Returns
        -------
        X_fused : {ndarray, sparse matrix} of shape (n_samples, n_features_out)
        """
        check_is_fitted(self, "column_transformer_")
        return self.column_transformer_.transform(as_frame(X))

    def get_feature_names_out(self, input_features=None):
        """Output feature names, prefixed by modality name (``image__bagofwords0``)."""
        check_is_fitted(self, "column_transformer_")
        return self.column_transformer_.get_feature_names_out(input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.requires_fit = True
        return tags

    @property
    def n_blocks_(self) -> int:
        check_is_fitted(self, "column_transformer_")
        return len(self.block_slices_)


__all__ = ["EarlyFusion", "as_frame"]
