"""Late (decision-level) fusion: one classifier per modality, probabilities combined."""

from __future__ import annotations

import itertools
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted
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

COMBINE_RULES = ("auto", "mean", "product", "max", "vote", "stacking")
_FIXED_RULES = ("mean", "product", "max", "vote")
# combine="auto": "product" when it beats "mean" on the held-out fold by this many standard
# deviations of McNemar's statistic (one-sided, about p < 0.025), else "mean".
_AUTO_Z = 2.0
# Floor for probabilities under the product rule, so that one modality's hard
# zero lowers a class's score by a bounded amount instead of vetoing it.
_PROBA_FLOOR = 1e-12
_MAX_WEIGHT_CANDIDATES = 2000


def combine_probabilities(probas, rule="mean", *, weights=None, present=None, prior=None):
    """Combine per-modality class probabilities with a fixed rule.

    Parameters
    ----------
    probas : array-like of shape (n_modalities, n_samples, n_classes)
        Each modality's probabilities (rows of absent modalities are ignored).
    rule : {"mean", "product", "max", "vote"}, default="mean"
        ``"mean"``: weighted mean. ``"product"``: normalised weighted product
        ``prod_m p_m ** w_m`` (computed in log space; probabilities floored at
        1e-12). ``"max"``: per class the largest ``w_m * p_m``, normalised.
        ``"vote"``: each modality votes for its most probable class with
        weight ``w_m``; the result is the share of the votes (ties go to the
        lowest class index).
    weights : array-like of shape (n_modalities,), default=None
        Non-negative modality weights (None: all 1).
    present : array-like of bool, shape (n_modalities, n_samples), default=None
        Which modalities each sample has (None: all). A sample is decided by
        the modalities it has; one with none gets ``prior``.
    prior : array-like of shape (n_classes,), default=None
        Probabilities for samples without any modality (None: uniform).

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        Rows sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.fusion import combine_probabilities
    >>> p = np.array([[[0.8, 0.2]], [[0.4, 0.6]]])
    >>> combine_probabilities(p, "mean")
    array([[0.6, 0.4]])
    >>> combine_probabilities(p, "product").round(3)   # 0.32 / (0.32 + 0.12)
    array([[0.727, 0.273]])
    >>> combine_probabilities(p, "mean", present=[[True], [False]])
    array([[0.8, 0.2]])
    """
    probas = np.asarray(probas, dtype=np.float64)
    if probas.ndim != 3:
        raise ValueError(f"probas must have shape (n_modalities, n_samples, n_classes), "
                         f"got {probas.shape}")
    n_modalities, n_samples, n_classes = probas.shape
    weights = np.ones(n_modalities) if weights is None else np.asarray(weights, dtype=float)
    if weights.shape != (n_modalities,) or np.any(weights < 0):
        raise ValueError(f"weights must be {n_modalities} non-negative numbers, got {weights}")
    present = (np.ones((n_modalities, n_samples), dtype=bool) if present is None
               else np.asarray(present, dtype=bool))
    prior = (np.full(n_classes, 1.0 / n_classes) if prior is None
             else np.asarray(prior, dtype=float))
    w = weights[:, None] * present  # (M, n): a missing modality has weight 0
    total = w.sum(axis=0)
    if rule == "mean":
        scores = np.einsum("mn,mnk->nk", w, probas)
    elif rule == "product":
        logp = np.log(np.clip(probas, _PROBA_FLOOR, 1.0))
        log_scores = np.einsum("mn,mnk->nk", w, logp)
        log_scores -= log_scores.max(axis=1, keepdims=True)
        scores = np.exp(log_scores)
    elif rule == "max":
        scores = np.where(present[:, :, None], weights[:, None, None] * probas, 0.0).max(axis=0)
    elif rule == "vote":
        votes = np.argmax(probas, axis=2)  # (M, n)
        scores = np.zeros((n_samples, n_classes))
        for m in range(n_modalities):
            np.add.at(scores, (np.arange(n_samples), votes[m]), w[m])
    else:
        raise ValueError(f"rule must be one of {_FIXED_RULES}, got {rule!r}")
    sums = scores.sum(axis=1, keepdims=True)
    decided = (total > 0) & (sums[:, 0] > 0)
    out = np.tile(prior, (n_samples, 1))
    out[decided] = scores[decided] / sums[decided]
    return out


class LateFusionClassifier(ClassifierMixin, FusionClassifierMixin, ModalityComposition):
    """Decision-level fusion: a classifier per modality, their probabilities combined.

    Each modality is a ``(name, classifier, columns)`` triple; the classifier
    is often a Pipeline of a feature extractor and a model. One without
    ``predict_proba`` but with ``decision_function`` (``LinearSVC``, often the
    strongest text model) is calibrated to probabilities by Platt scaling on
    3 internal folds (:class:`sklearn.calibration.CalibratedClassifierCV`,
    ``method="sigmoid"``; ``named_estimators_`` then holds the calibrated
    model). Its probabilities are combined with a fixed rule
    (:func:`combine_probabilities`) or by a stacking classifier trained on
    out-of-fold probabilities (:func:`sklearn.model_selection.cross_val_predict`).

    Missing modalities: a sample lacks a modality when all its cells in the
    modality's columns are ``None``/NaN. Each modality's classifier is fitted
    on the samples that have the modality, and at predict time a sample is
    decided by the modalities it has (a sample with none gets the class
    prior; under stacking an absent modality's probabilities are replaced by
    the class prior and presence indicators are added to the stacked
    features when some training sample lacked a modality).

    Multi-output ``y`` (one column per task): each classifier is wrapped in
    :class:`~sklearn.multioutput.MultiOutputClassifier` and every output is
    combined separately; ``classes_`` and ``predict_proba`` are then lists.

    Parameters
    ----------
    modalities : list of (str, classifier, column(s)) tuples
        One classifier per modality; columns as in ColumnTransformer.
    combine : {"auto", "mean", "product", "max", "vote", "stacking"}, default="auto"
        How probabilities are combined. ``"mean"`` with ``weights`` is the
        weighted mean; ``"product"`` is the naive-Bayes style normalised
        product (log space), the Bayes rule when the modalities are
        independent given the class and their probabilities calibrated, but
        a single overconfident modality can veto the others. ``"auto"``
        chooses between the two on held-out data: each modality's classifier
        is fitted once more without the first fold of `cv`, and
        ``"product"`` is taken when it makes fewer errors than ``"mean"`` on
        that fold by at least two standard deviations of McNemar's statistic
        (``b - c >= 2 * sqrt(b + c)`` for the ``b`` samples only the product
        gets right and the ``c`` only the mean gets right); otherwise
        ``"mean"``, the safer rule. With ``weights="cv"`` the out-of-fold
        probabilities of all folds decide instead. The choice is in
        `combine_`. It costs about one more fit of every modality (on
        ``(cv - 1) / cv`` of the rows). On audio-visual digits (independent
        modalities) it picks the product, 0.930 against 0.883 for the mean;
        on Wikipedia categories and MVSA Twitter the mean
        (``benchmarks/results/defaults.md``). ``"mean"`` was the default
        until 0.1.
    weights : dict of {str: float}, "cv" or None, default=None
        Modality weights for the fixed rules (absent names get 1.0).
        ``"cv"``: chosen on a grid over the simplex to minimise the number
        of errors of the combined out-of-fold probabilities (their log-loss
        breaks ties; uniform weights are tried first and kept unless beaten).
        Not used with ``"stacking"``.
    final_estimator : classifier or None, default=None
        Stacking classifier; None means ``LogisticRegression(max_iter=1000)``.
    cv : int or cross-validation generator, default=5
        Folds for out-of-fold probabilities (stacking, ``weights="cv"``).
    oof_refit : {"pipeline", "final_step"}, default="pipeline"
        What is refitted on every fold for the out-of-fold probabilities.
        ``"pipeline"``: each modality's whole classifier, as
        :class:`~sklearn.ensemble.StackingClassifier` does. ``"final_step"``:
        for a modality whose classifier is a :class:`~sklearn.pipeline.Pipeline`,
        its steps before the last (feature extraction, codebook, TF-IDF) are
        fitted once on all training rows, their output is computed once, and
        only the last step is refitted per fold; a last step without
        ``predict_proba`` is calibrated alone (not the whole pipeline). With
        SIFT and a codebook inside, stacking then costs about one extraction
        instead of ``cv + 1``. The steps before the last see the held-out
        folds' inputs (never their labels), so use it when they are
        unsupervised; a step that uses ``y`` (e.g. ``SelectKBest``) would leak
        labels into the out-of-fold probabilities.
    n_jobs : int or None, default=None
        Modalities fitted in parallel (joblib).
    verbose : int, bool or None, default=None
        Progress bar over modalities (None: the global ``verbose``).

    Attributes
    ----------
    estimators_ : list of classifiers
        Fitted classifier per modality.
    named_estimators_ : Bunch
        The same, by modality name.
    weights_ : ndarray of shape (n_modalities,)
        Weights used by the fixed rules.
    combine_ : str
        The rule in use: `combine`, with ``"auto"`` resolved.
    auto_counts_ : dict
        With ``combine="auto"``: ``only_product`` and ``only_mean``, the
        held-out samples that only the product (only the mean) classified
        correctly, summed over outputs.
    final_estimator_ : classifier
        Fitted stacking classifier (``combine="stacking"``).
    classes_ : ndarray or list of ndarray
    class_prior_ : ndarray or list of ndarray
        Training class frequencies.
    n_outputs_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mmfuse.fusion import LateFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> X = rng.normal(size=(40, 4)) + y[:, None]
    >>> late = LateFusionClassifier([("a", LogisticRegression(), [0, 1]),
    ...                              ("b", LogisticRegression(), [2, 3])], combine="product")
    >>> late.fit(X, y).score(X, y) > 0.7
    True
    >>> X[0, 2:] = np.nan                      # sample 0 lacks modality "b"
    >>> late.predict_proba(X[:1]).round(3) == late.named_estimators_.a.predict_proba(
    ...     X[:1, :2]).round(3)
    array([[ True,  True]])
    """

    _parameter_constraints = {
        "modalities": [list],
        "combine": [StrOptions(set(COMBINE_RULES))],
        "weights": [dict, StrOptions({"cv"}), None],
        "final_estimator": [HasMethods(["fit", "predict_proba"]), None],
        "cv": ["cv_object"],
        "oof_refit": [StrOptions({"pipeline", "final_step"})],
        "n_jobs": [Integral, None],
        "verbose": ["verbose", None],
    }

    def __init__(self, modalities, *, combine="auto", weights=None, final_estimator=None, cv=5,
                 oof_refit="pipeline", n_jobs=None, verbose=None):
        self.modalities = modalities
        self.combine = combine
        self.weights = weights
        self.final_estimator = final_estimator
        self.cv = cv
        self.oof_refit = oof_refit
        self.n_jobs = n_jobs
        self.verbose = verbose

    def fit(self, X, y):
        """Fit one classifier per modality (on the samples that have it), then the combiner.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like
            One row per sample; columns as referenced in ``modalities``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        self._validate_params()
        modalities = check_modalities(self.modalities, owner=type(self).__name__)
        names = [m[0] for m in modalities]
        if isinstance(self.weights, dict):
            unknown = set(self.weights) - set(names)
            if unknown:
                raise ValueError(f"weights name unknown modalities {sorted(unknown)}; "
                                 f"known: {names}")
        if self.weights is not None and self.combine == "stacking":
            raise ValueError("weights are not used with combine='stacking' (the stacking "
                             "classifier learns how to weigh modalities); set weights=None")
        X = self._validate_table(X, reset=True)
        Y = self._validate_targets(X, y)
        n_classes = [len(c) for c in self._classes_list]
        blocks = [select_modality(X, cols, name) for name, _, cols in modalities]
        present = [~missing_modality_mask(b) for b in blocks]
        for name, mask in zip(names, present, strict=True):
            if not mask.any():
                raise ValueError(f"modality {name!r} is missing for every one of the "
                                 f"{len(mask)} training samples; drop it or supply it")

        verbose = resolve_verbose(self.verbose)
        jobs = tqdm(list(zip(modalities, blocks, present, strict=True)), disable=not verbose,
                    desc="late fusion: fitting modalities")
        need_oof = self.combine == "stacking" or self.weights == "cv"
        shared = need_oof and self.oof_refit == "final_step"
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_modality)(est, block, Y, mask, keep_features=shared)
            for (_, est, _), block, mask in jobs)
        self.estimators_ = [est for est, _, _ in fitted]
        self._seen_classes = [seen for _, seen, _ in fitted]
        self.named_estimators_ = Bunch(**dict(zip(names, self.estimators_, strict=True)))
        self.modality_names_ = np.asarray(names, dtype=object)

        if need_oof:
            oof = []
            for (_, est, _), block, mask, (_, _, features) in zip(modalities, blocks, present,
                                                                  fitted, strict=True):
                if features is not None:  # oof_refit="final_step": only the last step
                    oof.append(_oof_proba(est.steps[-1][1], features, Y, mask, n_classes,
                                          self.cv, block_has_rows_only=True))
                else:
                    oof.append(_oof_proba(est, block, Y, mask, n_classes, self.cv))
        if self.combine == "auto":
            self.combine_ = self._auto_rule(oof if self.weights == "cv" else None, modalities,
                                            blocks, present, Y, n_classes)
        else:
            self.combine_ = self.combine
        if self.weights == "cv":
            self.weights_ = self._learn_weights(oof, np.array(present), Y)
        else:
            self.weights_ = np.array([float((self.weights or {}).get(n, 1.0)) for n in names])
        if self.combine == "stacking":
            self.stack_indicators_ = not all(mask.all() for mask in present)
            features = self._stack_features(oof, present)
            self.final_estimator_ = clone_for_outputs(
                LogisticRegression(max_iter=1000) if self.final_estimator is None
                else self.final_estimator, self.n_outputs_)
            self.final_estimator_.fit(features, codes_for_fit(Y))
        return self

    def _auto_rule(self, oof, modalities, blocks, present, Y, n_classes) -> str:
        """``"product"`` or ``"mean"`` for ``combine="auto"``, from held-out probabilities:
        the out-of-fold ones when given, else those of the first fold of `cv`."""
        weights = (np.array([float(self.weights.get(name, 1.0)) for name, _, _ in modalities])
                   if isinstance(self.weights, dict) else None)
        if oof is not None:
            held, probas, held_present = np.arange(len(Y)), oof, np.array(present)
        else:
            splitter = check_cv(self.cv, codes_for_fit(Y), classifier=True)
            _, held = next(iter(splitter.split(np.zeros((len(Y), 1)), codes_for_fit(Y))))
            fit_rows = np.ones(len(Y), dtype=bool)
            fit_rows[held] = False
            probas, held_present = [], []
            for (_, est, _), block, mask in zip(modalities, blocks, present, strict=True):
                train = mask & fit_rows
                usable = mask[held] & train.any()
                if usable.any():
                    fitted, seen, _ = _fit_modality(est, block, Y, train)
                    probas.append(_proba_where(fitted, take_rows(block, held), usable,
                                               n_classes, seen))
                else:
                    probas.append([np.zeros((held.size, k)) for k in n_classes])
                held_present.append(usable)
            held_present = np.array(held_present)
        only_product = only_mean = 0
        for j, prior in enumerate(self._prior_list):
            stacked = np.stack([p[j] for p in probas])
            right = {rule: np.argmax(combine_probabilities(
                stacked, rule, weights=weights, present=held_present, prior=prior),
                axis=1) == Y[held, j] for rule in ("mean", "product")}
            only_product += int(np.sum(right["product"] & ~right["mean"]))
            only_mean += int(np.sum(right["mean"] & ~right["product"]))
        self.auto_counts_ = {"only_product": only_product, "only_mean": only_mean}
        if only_product - only_mean >= _AUTO_Z * np.sqrt(only_product + only_mean) > 0:
            return "product"
        return "mean"

    def _learn_weights(self, oof, present, Y) -> np.ndarray:
        candidates = _simplex_grid(len(oof), _MAX_WEIGHT_CANDIDATES) * len(oof)
        best, best_loss = None, (np.inf, np.inf)
        for weights in candidates:
            errors, log_loss = 0, 0.0
            for j, prior in enumerate(self._prior_list):
                probas = np.stack([o[j] for o in oof])
                combined = combine_probabilities(probas, self.combine_, weights=weights,
                                                 present=present, prior=prior)
                truth = combined[np.arange(len(Y)), Y[:, j]]
                errors += int(np.sum(np.argmax(combined, axis=1) != Y[:, j]))
                log_loss -= float(np.mean(np.log(np.clip(truth, _PROBA_FLOOR, 1.0))))
            # Out-of-fold errors first (what the weights are for), log-loss breaks ties.
            if (errors, log_loss) < (best_loss[0], best_loss[1] - 1e-12):
                best, best_loss = weights, (errors, log_loss)
        return best

    def _stack_features(self, probas, present) -> np.ndarray:
        """Stacked probabilities (absent modality: the class prior), plus presence columns."""
        columns = []
        for proba, mask in zip(probas, present, strict=True):
            for p, prior in zip(proba, self._prior_list, strict=True):
                columns.append(np.where(mask[:, None], p, prior[None, :]))
        if self.stack_indicators_:
            columns.append(np.column_stack(present).astype(np.float64))
        return np.hstack(columns)

    def _modality_probas(self, X):
        """Per modality: presence mask and aligned probabilities (list over outputs)."""
        n_classes = [len(c) for c in self._classes_list]
        probas, present = [], []
        for (name, _, cols), est, seen in zip(self.modalities, self.estimators_,
                                              self._seen_classes, strict=True):
            block = select_modality(X, cols, name)
            mask = ~missing_modality_mask(block)
            probas.append(_proba_where(est, block, mask, n_classes, seen))
            present.append(mask)
        return probas, present

    def _predict_proba_list(self, X):
        check_is_fitted(self, "estimators_")
        X = self._validate_table(X, reset=False)
        probas, present = self._modality_probas(X)
        if self.combine_ == "stacking":
            # Every encoded class occurs in the training targets, so the stacking
            # classifier's columns are already in class order.
            proba = self.final_estimator_.predict_proba(self._stack_features(probas, present))
            return proba if isinstance(proba, list) else [proba]
        present = np.array(present)
        return [combine_probabilities(np.stack([p[j] for p in probas]), self.combine_,
                                      weights=self.weights_, present=present, prior=prior)
                for j, prior in enumerate(self._prior_list)]

    def predict_proba(self, X):
        """Combined class probabilities.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), or a list of such arrays
            (one per output) for multi-output ``y``.
        """
        return self._format_proba(self._predict_proba_list(X))

    def modality_proba(self, X) -> dict:
        """Each modality's own probabilities (NaN rows where the modality is absent).

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like

        Returns
        -------
        probas : dict of {str: ndarray or list of ndarray}
        """
        check_is_fitted(self, "estimators_")
        X = self._validate_table(X, reset=False)
        probas, present = self._modality_probas(X)
        out = {}
        for name, proba, mask in zip(self.modality_names_, probas, present, strict=True):
            proba = [np.where(mask[:, None], p, np.nan) for p in proba]
            out[name] = self._format_proba(proba)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._modalities_accept_sparse()
        tags.target_tags.multi_output = True
        return tags


def with_probabilities(estimator):
    """``estimator``, or a classifier with only ``decision_function`` (a linear SVM)
    calibrated to probabilities: ``CalibratedClassifierCV(estimator, method="sigmoid",
    cv=3)`` (Platt scaling on 3 internal folds)."""
    if hasattr(estimator, "predict_proba"):
        return estimator
    if hasattr(estimator, "decision_function"):
        return CalibratedClassifierCV(estimator, method="sigmoid", cv=3)
    raise ValueError(f"{type(estimator).__name__} has neither predict_proba nor "
                     "decision_function; late fusion combines class probabilities")


def _proba_where(estimator, block, mask, n_classes, seen):
    """Per output: ``estimator``'s aligned probabilities on the rows of ``block`` where
    ``mask``, zeros on the others."""
    rows = np.flatnonzero(mask)
    out = [np.zeros((len(mask), k)) for k in n_classes]
    if rows.size:
        for full, p in zip(out, aligned_proba(estimator, take_rows(block, rows), n_classes,
                                              seen), strict=True):
            full[rows] = p
    return out


def _fit_modality(estimator, block, Y, present, keep_features=False):
    """Fit one modality's classifier on its rows; with ``keep_features`` and a
    Pipeline, fit the steps before the last once and return their output too
    (the last step alone made probabilistic), else ``features`` is None."""
    rows = np.flatnonzero(present)
    codes = Y[rows]
    seen = [np.unique(codes[:, j]) for j in range(Y.shape[1])]
    if keep_features and isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        pipeline = clone(estimator)
        # A slice shares the step objects, so fitting it fits them in ``pipeline``.
        features = pipeline[:-1].fit_transform(take_rows(block, rows), codes_for_fit(codes))
        name, last = pipeline.steps[-1]
        final = clone_for_outputs(with_probabilities(last), Y.shape[1])
        final.fit(features, codes_for_fit(codes))
        pipeline.steps[-1] = (name, final)
        return pipeline, seen, features
    est = clone_for_outputs(with_probabilities(estimator), Y.shape[1])
    est.fit(take_rows(block, rows), codes_for_fit(codes))
    return est, seen, None


def _oof_proba(estimator, block, Y, present, n_classes, cv, *, block_has_rows_only=False):
    """Out-of-fold probabilities of one modality over all samples (zeros where absent);
    ``block_has_rows_only``: ``block`` holds just the rows where ``present``."""
    rows = np.flatnonzero(present)
    codes = Y[rows]
    est = clone_for_outputs(with_probabilities(estimator), Y.shape[1])
    splitter = check_cv(cv, codes_for_fit(codes), classifier=True)
    data = block if block_has_rows_only else take_rows(block, rows)
    proba = cross_val_predict(est, data, codes_for_fit(codes), cv=splitter,
                              method="predict_proba")
    proba = proba if isinstance(proba, list) else [proba]
    out = []
    for j, (p, k) in enumerate(zip(proba, n_classes, strict=True)):
        full = np.zeros((len(present), k))
        full[np.ix_(rows, np.unique(codes[:, j]))] = p
        out.append(full)
    return out


def _simplex_grid(n_modalities: int, max_points: int) -> np.ndarray:
    """Weight vectors on the simplex with the finest step giving at most ``max_points``."""
    from math import comb

    resolution = 1
    while resolution < 20 and comb(resolution + 1 + n_modalities - 1,
                                   n_modalities - 1) <= max_points:
        resolution += 1
    points = []
    for bars in itertools.combinations(range(resolution + n_modalities - 1), n_modalities - 1):
        edges = (-1, *bars, resolution + n_modalities - 1)
        points.append([edges[i + 1] - edges[i] - 1 for i in range(n_modalities)])
    points = np.asarray(points, dtype=float) / resolution
    # Uniform weights first, so ties keep the plain rule.
    uniform = np.full(n_modalities, 1.0 / n_modalities)
    return np.vstack([uniform, points[points.sum(axis=1) > 0]])


__all__ = ["COMBINE_RULES", "LateFusionClassifier", "combine_probabilities"]
