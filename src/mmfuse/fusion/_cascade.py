"""Cascade (sequential) fusion: cheap modalities first, costly ones only when needed."""

from __future__ import annotations

import time
from numbers import Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted
from tqdm.auto import tqdm

from mmfuse._config import resolve_verbose
from mmfuse.fusion._base import (
    FusionClassifierMixin,
    ModalityComposition,
    aligned_proba,
    check_modalities,
    clone_for_outputs,
    codes_for_fit,
    missing_modality_mask,
    select_modality,
    take_rows,
)
from mmfuse.fusion._blocks import BlockNormalizer, ModalityBlock

_COST_PROBE_ROWS = 50


class CascadeFusionClassifier(ClassifierMixin, FusionClassifierMixin, ModalityComposition):
    """Sequential fusion: add modalities one at a time until the model is confident.

    Modalities are given in order of cost, cheapest first. Stage ``k``
    classifies the early fusion of modalities ``0..k`` (each block
    normalised, missing blocks zero with a presence column). At predict time
    every sample starts at stage 0 and stops at the first stage whose
    confidence — the largest class probability (the smallest over outputs
    for multi-output ``y``) — reaches ``threshold``; only the samples still
    undecided have the next modality computed (their later cells are never
    read, so bad values there go unnoticed). The last stage decides
    everything left. :meth:`cascade_report` tells what fraction of the
    samples needed each stage and how much feature-extraction compute the
    cascade saved.

    Parameters
    ----------
    modalities : list of (str, transformer or "passthrough", column(s)) tuples
        In the order the cascade adds them.
    estimator : classifier or None, default=None
        Cloned for every stage; must have ``predict_proba``. None means
        ``LogisticRegression(max_iter=1000)``.
    threshold : float or sequence of float, default=0.9
        Confidence needed to stop after a stage: one value for every stage,
        or one per stage but the last.
    norm : {"l2", "l1", "standard", "power"} or None, default="l2"
        Block normalisation (see :class:`BlockNormalizer`).
    costs : dict of {str: float} or None, default=None
        Cost of computing each modality for one sample. None measures the
        seconds per sample of each block's ``transform`` on up to 50
        training samples during ``fit``.
    verbose : int, bool or None, default=None
        Progress bar over stages during fit (None: the global ``verbose``).

    Attributes
    ----------
    blocks_ : list of ModalityBlock
        Fitted feature block per modality.
    estimators_ : list of classifiers
        Fitted classifier per stage.
    thresholds_ : ndarray of shape (n_modalities - 1,)
    costs_ : ndarray of shape (n_modalities,)
        Cost per sample of each modality (given or measured).
    classes_, n_outputs_, n_features_in_ :
        As usual.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.fusion import CascadeFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 50)
    >>> X = rng.normal(size=(100, 4)) + y[:, None] * [3, 3, 1, 1]
    >>> cascade = CascadeFusionClassifier([("cheap", "passthrough", [0, 1]),
    ...                                    ("costly", "passthrough", [2, 3])],
    ...                                   norm=None, threshold=0.95,
    ...                                   costs={"cheap": 1.0, "costly": 10.0}).fit(X, y)
    >>> report = cascade.cascade_report(X, y)
    >>> list(report.table.columns)
    ['reached', 'decided', 'accuracy', 'cost']
    >>> 0 < report.saved_compute < 1
    True
    """

    _parameter_constraints = {
        "modalities": [list],
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "threshold": [Real, "array-like"],
        "norm": [StrOptions({"l2", "l1", "standard", "power"}), None],
        "costs": [dict, None],
        "verbose": ["verbose", None],
    }

    def __init__(self, modalities, *, estimator=None, threshold=0.9, norm="l2", costs=None,
                 verbose=None):
        self.modalities = modalities
        self.estimator = estimator
        self.threshold = threshold
        self.norm = norm
        self.costs = costs
        self.verbose = verbose

    def fit(self, X, y):
        """Fit each modality's block and one classifier per stage.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        self._validate_params()
        modalities = check_modalities(self.modalities, owner=type(self).__name__)
        names = [m[0] for m in modalities]
        n_stages = len(modalities)
        thresholds = np.atleast_1d(np.asarray(self.threshold, dtype=float))
        if thresholds.size == 1:
            thresholds = np.repeat(thresholds, max(n_stages - 1, 0))
        if thresholds.size != n_stages - 1 or np.any((thresholds < 0) | (thresholds > 1)):
            raise ValueError(f"threshold must be one value in [0, 1] or {n_stages - 1} values "
                             f"(one per stage but the last), got {self.threshold!r}")
        if self.costs is not None:
            missing_costs = set(names) - set(self.costs)
            if missing_costs or set(self.costs) - set(names):
                raise ValueError(f"costs must name every modality exactly: {names}, "
                                 f"got {sorted(self.costs)}")
        X = self._validate_table(X, reset=True)
        Y = self._validate_targets(X, y)
        estimator = LogisticRegression(max_iter=1000) if self.estimator is None \
            else self.estimator

        self.blocks_, self.estimators_, features, measured = [], [], [], []
        for name, transformer, cols in tqdm(modalities, disable=not resolve_verbose(self.verbose),
                                            desc="cascade: stages"):
            steps = [] if isinstance(transformer, str) and transformer == "passthrough" \
                else [("features", transformer)]
            steps.append(("normalize", BlockNormalizer(norm=self.norm)))
            block = ModalityBlock(Pipeline(steps), modality=name, fill="zero",
                                  add_indicator=True)
            cells = select_modality(X, cols, name)
            features.append(block.fit_transform(cells, codes_for_fit(Y)))
            self.blocks_.append(block)
            if self.costs is None:
                measured.append(_seconds_per_sample(block, cells))
            stage = clone_for_outputs(estimator, self.n_outputs_)
            stage.fit(_hstack(features), codes_for_fit(Y))
            self.estimators_.append(stage)
        self.thresholds_ = thresholds
        self.costs_ = (np.asarray(measured) if self.costs is None
                       else np.array([float(self.costs[n]) for n in names]))
        self.modality_names_ = np.asarray(names, dtype=object)
        return self

    def _cascade(self, X):
        """Run the cascade: probabilities, deciding stage and per-stage compute counts."""
        check_is_fitted(self, "estimators_")
        X = self._validate_table(X, reset=False)
        n = X.shape[0]
        n_classes = [len(c) for c in self._classes_list]
        probas = [np.zeros((n, k)) for k in n_classes]
        stage_of = np.full(n, -1)
        computed = np.zeros(len(self.blocks_), dtype=int)
        remaining = np.arange(n)
        acc = None
        for k, ((name, _, cols), block, stage) in enumerate(zip(
                self.modalities, self.blocks_, self.estimators_, strict=True)):
            cells = take_rows(select_modality(X, cols, name), remaining)
            computed[k] = int(np.sum(~missing_modality_mask(cells)))
            Z = block.transform(cells)
            acc = Z if acc is None else _hstack([acc, Z])
            stage_proba = aligned_proba(stage, acc, n_classes)
            confidence = np.min([p.max(axis=1) for p in stage_proba], axis=0)
            last = k == len(self.blocks_) - 1
            decided = np.ones(len(remaining), bool) if last else confidence >= self.thresholds_[k]
            for full, p in zip(probas, stage_proba, strict=True):
                full[remaining[decided]] = p[decided]
            stage_of[remaining[decided]] = k
            remaining = remaining[~decided]
            acc = acc[np.flatnonzero(~decided)]
            if remaining.size == 0:
                break
        return probas, stage_of, computed, X

    def _predict_proba_list(self, X):
        return self._cascade(X)[0]

    def predict_proba(self, X):
        """Probabilities from the stage that decided each sample.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), or a list of them
        """
        return self._format_proba(self._predict_proba_list(X))

    def decision_stage(self, X) -> np.ndarray:
        """Index of the stage that decided each sample.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like

        Returns
        -------
        stage : ndarray of int, shape (n_samples,)
        """
        return self._cascade(X)[1]

    def cascade_report(self, X, y=None) -> Bunch:
        """How far samples went through the cascade, and the compute it saved.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like
        y : array-like, default=None
            With ``y``, the accuracy of the samples decided at each stage
            (exact match over outputs for multi-output ``y``).

        Returns
        -------
        report : sklearn.utils.Bunch
            ``table``: DataFrame indexed by modality with ``reached`` (fraction
            of samples that needed the stage), ``decided`` (fraction decided
            there), ``accuracy`` (with ``y``) and ``cost`` (per sample);
            ``relative_compute``: feature-extraction cost of the cascade over
            that of computing every modality for every sample (absent
            modalities cost nothing in both); ``saved_compute``: 1 minus that.
        """
        probas, stage_of, computed, X = self._cascade(X)
        n = len(stage_of)
        n_stages = len(self.blocks_)
        reached = np.array([np.mean(stage_of >= k) for k in range(n_stages)])
        decided = np.array([np.mean(stage_of == k) for k in range(n_stages)])
        table = {"reached": reached, "decided": decided}
        if y is not None:
            y = np.asarray(y)
            pred = self.predict(X)
            correct = (pred == y) if y.ndim == 1 else np.all(pred == y, axis=1)
            table["accuracy"] = [correct[stage_of == k].mean() if np.any(stage_of == k)
                                 else np.nan for k in range(n_stages)]
        table["cost"] = self.costs_
        full = sum(cost * np.sum(~missing_modality_mask(select_modality(X, cols, name)))
                   for cost, (name, _, cols) in zip(self.costs_, self.modalities, strict=True))
        used = float(np.dot(self.costs_, computed))
        relative = float(used / full) if full > 0 else 1.0
        return Bunch(table=pd.DataFrame(table, index=pd.Index(self.modality_names_,
                                                               name="stage")),
                     relative_compute=relative, saved_compute=1.0 - relative, n_samples=n)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._modalities_accept_sparse()
        tags.target_tags.multi_output = True
        return tags


def _hstack(blocks):
    if any(sp.issparse(b) for b in blocks):
        return sp.hstack(blocks, format="csr")
    return np.hstack(blocks)


def _seconds_per_sample(block, cells) -> float:
    rows = np.arange(min(_COST_PROBE_ROWS, _num_samples(cells)))
    probe = take_rows(cells, rows)
    start = time.perf_counter()
    block.transform(probe)
    return (time.perf_counter() - start) / max(len(rows), 1)


__all__ = ["CascadeFusionClassifier"]
