"""Early (feature-level) fusion: per-modality pipelines, normalised, weighted, concatenated."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.multioutput import MultiOutputClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from mmfuse._config import resolve_verbose
from mmfuse.blocks import Blocks
from mmfuse.fusion._base import (
    ModalityComposition,
    as_frame,
    check_block_names,
    check_modalities,
    select_modality,
)
from mmfuse.fusion._blocks import BlockNormalizer, ModalityBlock

_NORMS = {"l2", "l1", "standard", "power"}


class EarlyFusion(TransformerMixin, ModalityComposition):
    """Concatenate per-modality feature blocks, each normalised and weighted.

    Like :class:`sklearn.compose.ColumnTransformer`, each modality is a
    ``(name, transformer, columns)`` triple. Every block is then scaled by
    :class:`BlockNormalizer` so that a wide block (thousands of TF-IDF
    terms) cannot drown a narrow one (a 64-word histogram), multiplied by
    its weight, and the blocks are concatenated.

    Missing modalities: a sample lacks a modality when all its cells in that
    modality's columns are ``None``/NaN (:func:`missing_modality_mask`). With
    ``missing="transformer"`` (the default) the modality's own transformer
    encodes such cells (mmfuse transformers give an all-zero row, which stays
    zero after normalisation). With ``missing="zero"`` or ``"mean"`` each
    block is learned from the samples that have the modality only, absent
    samples get zeros or the mean block, and ``add_indicator=True`` appends
    a presence column ``<name>__present`` per block.

    Parameters
    ----------
    modalities : list of (str, transformer, column(s)) tuples
        ``name`` names the block (and prefixes feature names); ``transformer``
        is any sklearn transformer or ``"passthrough"``; ``columns`` selects
        the input as in ColumnTransformer (a single column name gives the
        transformer a 1-D column, as media transformers expect).
    norm : {"l2", "l1", "standard", "power"}, None or dict, default="l2"
        Block normalisation applied after each transformer (see
        :class:`BlockNormalizer`); a dict gives one per block name (absent
        names get ``"l2"``).
    weights : dict of {str: float}, "balanced", "cv" or None, default=None
        Multiplier per block. A dict fixes them (absent names get 1.0).
        ``"balanced"``: ``sqrt(mean_width / width)`` per block, so that with
        features on a common scale (e.g. ``norm=None`` after standardising)
        every block has the same expected squared norm. ``"cv"``: learned by
        cross-validating ``weight_estimator`` on the fused features, one
        coordinate-ascent sweep over ``weight_grid`` per block (needs ``y``;
        the block transformers are fitted once on all the training data).
    missing : {"transformer", "zero", "mean"}, default="transformer"
        Missing-modality policy, see above.
    add_indicator : bool, default=False
        Append a presence column per block (needs ``missing`` "zero"/"mean").
    weight_estimator : classifier or None, default=None
        Scored by ``weights="cv"``; None means ``LogisticRegression(max_iter=1000)``.
    weight_grid : sequence of float, default=(0.25, 0.5, 1.0, 2.0, 4.0)
        Candidate weights for ``weights="cv"``.
    weight_scoring : str, callable or None, default=None
        Score maximised by ``weights="cv"`` (sklearn scorer). None: log-loss
        (``"neg_log_loss"``, smoother than accuracy on small data) when the
        estimator has ``predict_proba`` and ``y`` is single-output, else the
        estimator's ``score``.
    cv : int or cross-validation generator, default=3
        Folds for ``weights="cv"``.
    sparse_threshold : float, default=0.3
        As in ColumnTransformer: the output is sparse when the overall
        density is below this threshold and some block is sparse.
    n_jobs : int or None, default=None
        Blocks fitted in parallel (joblib).
    verbose : bool or None, default=False
        Print the time each block takes (None: the global ``verbose``).

    Attributes
    ----------
    column_transformer_ : ColumnTransformer
        The fitted ColumnTransformer doing the work.
    named_blocks_ : dict
        Fitted ``Pipeline(features, normalizer)`` per modality (wrapped in a
        :class:`ModalityBlock` when ``missing`` is not "transformer").
    block_slices_ : dict of {str: slice}
        Columns of each block in the output.
    weights_ : dict of {str: float}
        The weight applied to each block.
    weight_scores_ : dict or None
        With ``weights="cv"``: mean CV score of each tried ``(block, weight)``.
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

    A missing modality (here the ``right`` block of the last sample) imputed
    by the block mean, with presence indicators:

    >>> df.loc[2, "c"] = float("nan")
    >>> EarlyFusion([("left", "passthrough", ["a", "b"]), ("right", "passthrough", ["c"])],
    ...             missing="mean", add_indicator=True).fit_transform(df).round(3)
    array([[1.   , 0.   , 1.   , 1.   , 1.   ],
           [0.196, 0.981, 1.   , 1.   , 1.   ],
           [0.148, 0.989, 1.   , 1.   , 0.   ]])
    """

    _parameter_constraints = {
        "modalities": [list],
        "norm": [StrOptions(_NORMS), dict, None],
        "weights": [dict, StrOptions({"balanced", "cv"}), None],
        "missing": [StrOptions({"transformer", "zero", "mean"})],
        "add_indicator": ["boolean"],
        "weight_estimator": [HasMethods(["fit", "score"]), None],
        "weight_grid": ["array-like"],
        "weight_scoring": [str, callable, None],
        "cv": ["cv_object"],
        "sparse_threshold": [Interval(Real, 0, 1, closed="both")],
        "n_jobs": [Integral, None],
        "verbose": ["verbose", None],
    }

    def __init__(self, modalities, *, norm="l2", weights=None, missing="transformer",
                 add_indicator=False, weight_estimator=None,
                 weight_grid=(0.25, 0.5, 1.0, 2.0, 4.0), weight_scoring=None, cv=3,
                 sparse_threshold=0.3,
                 n_jobs=None, verbose=False):
        self.modalities = modalities
        self.norm = norm
        self.weights = weights
        self.missing = missing
        self.add_indicator = add_indicator
        self.weight_estimator = weight_estimator
        self.weight_grid = weight_grid
        self.weight_scoring = weight_scoring
        self.cv = cv
        self.sparse_threshold = sparse_threshold
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _names(self) -> list[str]:
        return [m[0] for m in check_modalities(self.modalities, owner="EarlyFusion")]

    def _check_names(self, option, value, names) -> None:
        if isinstance(value, dict):
            unknown = set(value) - set(names)
            if unknown:
                raise ValueError(f"{option} name unknown modalities {sorted(unknown)}; "
                                 f"known: {names}")

    def _build(self, X=None):
        modalities = check_modalities(self.modalities, owner="EarlyFusion")
        names = [m[0] for m in modalities]
        self._check_names("weights", self.weights, names)
        self._check_names("norm", self.norm, names)
        if isinstance(self.norm, dict):
            bad = {v for v in self.norm.values() if v is not None and v not in _NORMS}
            if bad:
                raise ValueError(f"norm values must be one of {sorted(_NORMS)} or None, "
                                 f"got {sorted(map(str, bad))}")
        if self.add_indicator and self.missing == "transformer":
            raise ValueError("add_indicator=True needs missing='zero' or 'mean': with "
                             "missing='transformer' the transformers see every sample")
        blocks = []
        for name, transformer, columns in modalities:
            norm = self.norm.get(name, "l2") if isinstance(self.norm, dict) else self.norm
            steps = [] if _is_passthrough(transformer) else [("features", clone(transformer))]
            steps.append(("normalize", BlockNormalizer(norm=norm)))
            block = Pipeline(steps)
            if self.missing != "transformer":
                block = ModalityBlock(block, modality=name, fill=self.missing,
                                      add_indicator=self.add_indicator)
            blocks.append((name, block, columns))
        if isinstance(X, Blocks):
            return _BlocksConcatenator(blocks, sparse_threshold=self.sparse_threshold,
                                       n_jobs=self.n_jobs)
        return ColumnTransformer(
            blocks, sparse_threshold=self.sparse_threshold, n_jobs=self.n_jobs,
            verbose=bool(resolve_verbose(self.verbose)), verbose_feature_names_out=True,
        )

    def fit(self, X, y=None):
        """Fit every modality pipeline and its normaliser (and learn weights).

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like
            One row per sample; columns as referenced in ``modalities``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Passed to each modality's transformer; required by ``weights="cv"``.

        Returns
        -------
        self
        """
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit all blocks and return the fused features.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like
        y : array-like, default=None

        Returns
        -------
        X_fused : {ndarray, sparse matrix} of shape (n_samples, n_features_out)
        """
        self._validate_params()
        X = as_frame(X)
        if len(getattr(X, "shape", ())) == 2 and X.shape[1] == 0:
            raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                             "of 1 is required by EarlyFusion.")
        self.column_transformer_ = self._build(X)
        Xt = self.column_transformer_.fit_transform(X, y)
        self._store_fitted(X)
        self.weight_scores_ = None
        if self.weights == "balanced":
            widths = {name: sl.stop - sl.start for name, sl in self.block_slices_.items()}
            mean_width = np.mean(list(widths.values()))
            self.weights_ = {name: float(np.sqrt(mean_width / w)) if w else 1.0
                             for name, w in widths.items()}
        elif self.weights == "cv":
            self.weights_ = self._cv_weights(Xt, y)
        else:
            self.weights_ = {name: float((self.weights or {}).get(name, 1.0))
                             for name in self.block_slices_}
        self.column_transformer_.transformer_weights = dict(self.weights_)
        return self._scale_blocks(Xt, self.weights_)

    def _scale_blocks(self, Xt, weights):
        factors = np.ones(Xt.shape[1])
        for name, sl in self.block_slices_.items():
            factors[sl] = weights[name]
        if np.all(factors == 1.0):
            return Xt
        if sp.issparse(Xt):
            return sp.csr_matrix(Xt @ sp.diags(factors))
        return Xt * factors

    def _cv_weights(self, Xt, y) -> dict:
        if y is None:
            raise ValueError("weights='cv' learns the block weights from y: pass y to fit")
        estimator = (LogisticRegression(max_iter=1000) if self.weight_estimator is None
                     else self.weight_estimator)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            estimator = MultiOutputClassifier(estimator)
        grid = [float(w) for w in self.weight_grid]
        if not grid or min(grid) < 0:
            raise ValueError(f"weight_grid must hold non-negative weights, got {grid}")
        weights = dict.fromkeys(self.block_slices_, 1.0)
        scores = {}

        scoring = self.weight_scoring
        if scoring is None:
            scoring = "neg_log_loss" if hasattr(estimator, "predict_proba") and y.ndim == 1 \
                else None

        def score(trial):
            return cross_val_score(clone(estimator), self._scale_blocks(Xt, trial), y,
                                   cv=self.cv, scoring=scoring).mean()

        best = score(weights)
        for name in self.block_slices_:
            for w in grid:
                if w == weights[name]:
                    continue
                trial = {**weights, name: w}
                scores[(name, w)] = s = score(trial)
                if s > best + 1e-12:
                    best, weights = s, trial
        self.weight_scores_ = scores
        return weights

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
        tags.input_tags.sparse = self._modalities_accept_sparse()
        tags.requires_fit = True
        return tags

    @property
    def n_blocks_(self) -> int:
        check_is_fitted(self, "column_transformer_")
        return len(self.block_slices_)


class _BlocksConcatenator:
    """ColumnTransformer's work for an input of named blocks (:class:`~mmfuse.blocks.Blocks`).

    Each ``(name, pipeline, block_name)`` is fitted on its block as it is
    (sparse stays sparse), and the outputs are concatenated under
    ColumnTransformer's rules: sparse when some output is sparse and the
    overall density is below ``sparse_threshold``, ``transformer_weights``
    applied on transform, feature names ``<name>__<feature>``. It exposes the
    attributes :class:`EarlyFusion` reads from a fitted ColumnTransformer.
    """

    def __init__(self, transformers, *, sparse_threshold, n_jobs):
        self.transformers = transformers
        self.sparse_threshold = sparse_threshold
        self.n_jobs = n_jobs
        self.transformer_weights = None

    def fit_transform(self, X: Blocks, y=None):
        check_block_names(self, X, reset=True)
        self.n_features_in_ = X.shape[1]
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_transform_one)(clone(t), select_modality(X, cols, name), y)
            for name, t, cols in self.transformers)
        self.named_transformers_ = {name: est for (name, _, _), (est, _) in
                                    zip(self.transformers, fitted, strict=True)}
        outputs = [out for _, out in fitted]
        self.output_indices_, start = {}, 0
        for (name, _, _), out in zip(self.transformers, outputs, strict=True):
            self.output_indices_[name] = slice(start, start + out.shape[1])
            start += out.shape[1]
        if any(sp.issparse(out) for out in outputs):
            nnz = sum(out.nnz if sp.issparse(out) else np.count_nonzero(out) for out in outputs)
            total = sum(np.prod(out.shape) for out in outputs)
            self.sparse_output_ = total > 0 and nnz / total < self.sparse_threshold
        else:
            self.sparse_output_ = False
        return self._hstack(outputs)

    def transform(self, X):
        if not isinstance(X, Blocks):
            raise ValueError("EarlyFusion was fitted on named blocks (a mapping of blocks); "
                             f"pass the same blocks to transform, got {type(X).__name__}")
        check_block_names(self, X, reset=False)
        outputs = Parallel(n_jobs=self.n_jobs)(
            delayed(self.named_transformers_[name].transform)(select_modality(X, cols, name))
            for name, _, cols in self.transformers)
        weights = self.transformer_weights or {}
        outputs = [out * weights[name] if weights.get(name, 1.0) != 1.0 else out
                   for (name, _, _), out in zip(self.transformers, outputs, strict=True)]
        return self._hstack(outputs)

    def _hstack(self, outputs):
        if self.sparse_output_:
            return sp.hstack([sp.csr_matrix(out) for out in outputs], format="csr")
        return np.hstack([out.toarray() if sp.issparse(out) else np.asarray(out)
                          for out in outputs])

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"{name}__{feature}" for name, _, _ in self.transformers
                           for feature in self.named_transformers_[name]
                           .get_feature_names_out()], dtype=object)


def _fit_transform_one(transformer, block, y):
    return transformer, transformer.fit_transform(block, y)


def _is_passthrough(transformer) -> bool:
    return isinstance(transformer, str) and transformer == "passthrough"


__all__ = ["EarlyFusion", "as_frame"]
