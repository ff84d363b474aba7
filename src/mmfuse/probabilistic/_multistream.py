"""Multi-stream HMM classification: two (or more) frame streams, fused early or late."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from numbers import Integral

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names, check_is_fitted, column_or_1d
from tqdm.auto import tqdm

from mmfuse._config import resolve_verbose
from mmfuse.descriptors import DescriptorSet
from mmfuse.probabilistic._hmm import HMMClassifier
from mmfuse.utils import is_missing_cell

_MAX_WEIGHT_CANDIDATES = 2000


class MultiStreamHMMClassifier(ClassifierMixin, BaseEstimator):
    """Classify samples made of several frame streams (audio and video, ...) with HMMs.

    Each sample has one sequence of frames per stream, e.g. MFCC frames of
    the audio and lip-shape features of the video of a spoken digit. Two
    classic ways to combine them (Potamianos et al., audio-visual speech
    recognition):

    - ``fusion="early"`` (feature fusion): the streams' frames are aligned
      in time and concatenated, and one :class:`HMMClassifier` models the
      joint frames. Streams of different frame rates are aligned by
      repeating frames of the slower ones (nearest earlier frame) up to the
      length of the longest.
    - ``fusion="late"`` (the multi-stream HMM, decision fusion): one
      :class:`HMMClassifier` per stream, and the class score combines the
      streams' log-likelihoods with stream weights::

          score(c) = log p(c) + sum_s  w_s * log p(x_s | c)

      Weights of 1 assume the streams independent given the class; weights
      summing to 1 (``stream_weights="cv"``) trade a reliable stream against a
      noisy one, as the stream exponents of multi-stream HMMs do.

    A missing stream (a None/NaN cell, or a sequence with no frames) adds
    nothing to the late score, so the sample is classified from the streams
    it has (and gets the prior with none). Early fusion cannot do that: a
    sample with a missing stream raises an error naming it.

    Parameters
    ----------
    streams : list of str or None, default=None
        Columns of ``X`` holding the streams (None: all columns).
    fusion : {"late", "early"}, default="late"
        See above.
    estimator : HMMClassifier, dict of {str: HMMClassifier} or None, default=None
        Template of the per-stream models (late) or the joint model (early);
        a dict gives one per stream (late fusion only). None means
        ``HMMClassifier(n_states=3)``.
    stream_weights : dict of {str: float}, "cv" or None, default=None
        Late fusion only. A dict fixes the weights (absent streams get 1);
        None gives every stream weight 1. ``"cv"``: the weights, on a grid
        over the simplex (``weight_grid`` values per stream, summing to 1),
        that give the best accuracy of the fused out-of-fold log-likelihoods
        (ties broken by log-loss).
    weight_grid : int, default=11
        Grid values per stream for ``"cv"`` (11: steps of 0.1).
    cv : int or cross-validation generator, default=3
        Folds for ``stream_weights="cv"``.
    verbose : int, bool or None, default=None
        Progress bar over streams (None: the global ``verbose``).

    Attributes
    ----------
    estimators_ : dict of {str: HMMClassifier}
        Fitted per-stream models (late) or ``{"early": model}``.
    stream_weights_ : ndarray of shape (n_streams,)
        Weights used by late fusion.
    cv_scores_ : pandas DataFrame
        With ``"cv"``: every weight candidate with its accuracy and log-loss.
    streams_ : list of str
    stream_dims_ : dict of {str: int}
        Frame dimension of each stream.
    classes_ : ndarray
    class_log_prior_ : ndarray
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from mmfuse.probabilistic import HMMClassifier, MultiStreamHMMClassifier
    >>> rng = np.random.default_rng(0)
    >>> def stream(level, noise, n):
    ...     return rng.normal(level, noise, size=(n, 2))
    >>> y = np.repeat([0, 1], 15)
    >>> X = pd.DataFrame({"audio": [stream(c, 3.0, 30) for c in y],    # noisy
    ...                   "video": [stream(c, 0.5, 10) for c in y]})   # clean, slower
    >>> clf = MultiStreamHMMClassifier(estimator=HMMClassifier(n_states=1, random_state=0),
    ...                                stream_weights="cv").fit(X, y)
    >>> clf.stream_weights_[1] >= 0.5   # the clean video stream weighs more
    np.True_
    >>> X_no_video = X.assign(video=None)
    >>> clf.predict_proba(X_no_video[:1]).round(2).shape   # audio alone still decides
    (1, 2)
    """

    _parameter_constraints = {
        "streams": [list, None],
        "fusion": [StrOptions({"late", "early"})],
        "estimator": [HasMethods(["fit", "decision_function"]), dict, None],
        "stream_weights": [dict, StrOptions({"cv"}), None],
        "weight_grid": [Interval(Integral, 2, None, closed="left")],
        "cv": ["cv_object"],
        "verbose": ["verbose", None],
    }

    def __init__(self, streams=None, *, fusion="late", estimator=None, stream_weights=None,
                 weight_grid=11, cv=3, verbose=None):
        self.streams = streams
        self.fusion = fusion
        self.estimator = estimator
        self.stream_weights = stream_weights
        self.weight_grid = weight_grid
        self.cv = cv
        self.verbose = verbose

    # -- input -------------------------------------------------------------------------
    def _table(self, X, *, reset: bool) -> dict:
        """The streams of X as ``{name: list of (n_frames, d) arrays or None}``."""
        if isinstance(X, Mapping) and not isinstance(X, pd.DataFrame):
            X = pd.DataFrame({k: (list(v) if not isinstance(v, DescriptorSet)
                                  else [v[i] if not v.missing[i] else None
                                        for i in range(v.n_samples)])
                              for k, v in X.items()})
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{type(self).__name__}: X must be a pandas DataFrame or a mapping "
                            f"with one column of frame sequences per stream, got "
                            f"{type(X).__name__}")
        if X.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}: found an input with 0 samples")
        _check_feature_names(self, X, reset=reset)
        if reset:
            self.n_features_in_ = X.shape[1]
            names = list(X.columns) if self.streams is None else list(self.streams)
            if len(names) == 0:
                raise ValueError(f"{type(self).__name__}: no stream to model")
            for name in names:
                if name not in X.columns:
                    raise ValueError(f"{type(self).__name__}: stream {name!r} is not a column "
                                     f"of X; columns are {list(X.columns)}")
        else:
            names = self.streams_
            absent = [n for n in names if n not in X.columns]
            if absent:
                raise ValueError(f"{type(self).__name__}: X lacks the stream column(s) "
                                 f"{absent} seen in fit")
        out = {}
        for name in names:
            cells = []
            for i, cell in enumerate(X[name].tolist()):
                if cell is None or (np.ndim(cell) == 0 and is_missing_cell(cell)):
                    cells.append(None)
                    continue
                frames = np.asarray(cell, dtype=np.float64)
                if frames.ndim == 1:
                    frames = frames.reshape(-1, 1)
                if frames.ndim != 2:
                    raise ValueError(f"{type(self).__name__}: sample {i}, stream {name!r}: "
                                     f"expected a (n_frames, n_features) array, got shape "
                                     f"{frames.shape}")
                cells.append(frames if frames.shape[0] else None)
            out[name] = cells
        return out

    def _stream_dims(self, table) -> dict:
        dims = {}
        for name, cells in table.items():
            shapes = {c.shape[1] for c in cells if c is not None}
            if not shapes:
                raise ValueError(f"{type(self).__name__}: stream {name!r} has no frames in any "
                                 f"training sample")
            if len(shapes) > 1:
                first = next(i for i, c in enumerate(cells) if c is not None)
                bad = next(i for i, c in enumerate(cells)
                           if c is not None and c.shape[1] != cells[first].shape[1])
                raise ValueError(f"{type(self).__name__}: stream {name!r}: sample {bad} has "
                                 f"{cells[bad].shape[1]} features per frame, sample {first} "
                                 f"has {cells[first].shape[1]}")
            dims[name] = shapes.pop()
        return dims

    def _sequences(self, cells, dim, name, *, check=True) -> list:
        out = []
        for i, cell in enumerate(cells):
            if cell is None:
                out.append(np.zeros((0, dim)))
            else:
                if check and cell.shape[1] != dim:
                    raise ValueError(f"{type(self).__name__}: sample {i}, stream {name!r} has "
                                     f"{cell.shape[1]} features per frame, {dim} in fit")
                out.append(cell)
        return out

    def _early_sequences(self, table) -> list:
        """Per sample, all streams aligned to the longest and concatenated frame by frame."""
        out = []
        n = len(next(iter(table.values())))
        for i in range(n):
            parts = []
            for name in self.streams_:
                cell = table[name][i]
                if cell is None:
                    raise ValueError(f"{type(self).__name__}: sample {i} lacks stream {name!r}; "
                                     "early fusion needs every stream (use fusion='late', which "
                                     "classifies from the streams present)")
                if cell.shape[1] != self.stream_dims_[name]:
                    raise ValueError(f"{type(self).__name__}: sample {i}, stream {name!r} has "
                                     f"{cell.shape[1]} features per frame, "
                                     f"{self.stream_dims_[name]} in fit")
                parts.append(cell)
            length = max(p.shape[0] for p in parts)
            aligned = [p[(np.arange(length) * p.shape[0]) // length] for p in parts]
            out.append(np.hstack(aligned))
        return out

    def _template(self, name):
        estimator = self.estimator
        if isinstance(estimator, dict):
            if self.fusion == "early":
                raise ValueError(f"{type(self).__name__}: early fusion has one model; give one "
                                 "estimator, not a dict")
            estimator = estimator.get(name)
        return HMMClassifier(n_states=3) if estimator is None else estimator

    # -- fitting -----------------------------------------------------------------------
    def fit(self, X, y):
        """Fit the per-stream (late) or joint (early) HMM classifiers.

        Parameters
        ----------
        X : pandas DataFrame or mapping of columns
            One column per stream; each cell an array of shape
            ``(n_frames, n_features)`` (a 1-D array is one feature per frame),
            or None/NaN for a missing stream.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : MultiStreamHMMClassifier
        """
        self._validate_params()
        table = self._table(X, reset=True)
        self.streams_ = list(table)
        y = column_or_1d(y, warn=True)
        n = len(next(iter(table.values())))
        if len(y) != n:
            raise ValueError(f"X has {n} samples but y has {len(y)} labels")
        check_classification_targets(y)
        self.stream_dims_ = self._stream_dims(table)
        if self.stream_weights is not None and self.fusion == "early":
            raise ValueError(f"{type(self).__name__}: stream_weights apply to late fusion only")
        verbose = resolve_verbose(self.verbose)
        if self.fusion == "early":
            model = clone(self._template("early")).fit(self._early_sequences(table), y)
            self.estimators_ = {"early": model}
            self.stream_weights_ = np.ones(1)
        else:
            sequences = {s: self._sequences(table[s], self.stream_dims_[s], s)
                         for s in self.streams_}
            if self.stream_weights == "cv":
                self.stream_weights_ = self._cv_weights(sequences, y, verbose)
            else:
                given = self.stream_weights or {}
                unknown = set(given) - set(self.streams_)
                if unknown:
                    raise ValueError(f"{type(self).__name__}: stream_weights name unknown "
                                     f"stream(s) {sorted(unknown)}; streams are {self.streams_}")
                self.stream_weights_ = np.array([float(given.get(s, 1.0))
                                                 for s in self.streams_])
                if np.any(self.stream_weights_ < 0):
                    raise ValueError(f"{type(self).__name__}: stream weights must be >= 0, got "
                                     f"{given}")
            self.estimators_ = {}
            for s in tqdm(self.streams_, desc="MultiStreamHMMClassifier.fit",
                          disable=verbose < 1):
                self.estimators_[s] = clone(self._template(s)).fit(sequences[s], y)
        first = next(iter(self.estimators_.values()))
        self.classes_ = first.classes_
        self.class_log_prior_ = first.class_log_prior_
        return self

    def _cv_weights(self, sequences, y, verbose) -> np.ndarray:
        splitter = check_cv(self.cv, y, classifier=True)
        classes, codes = np.unique(y, return_inverse=True)
        log_prior = np.log(np.bincount(codes) / len(codes))
        out_of_fold = []
        for s in tqdm(self.streams_, desc="out-of-fold stream scores", disable=verbose < 1):
            out_of_fold.append(cross_val_predict(clone(self._template(s)), sequences[s], y,
                                                 cv=splitter, method="decision_function"))
        scores = np.stack(out_of_fold)  # (n_streams, n_samples, n_classes)
        rows = []
        for weights in _simplex_grid(len(self.streams_), self.weight_grid):
            joint = np.einsum("s,snk->nk", weights, scores) + log_prior
            log_post = joint - logsumexp(joint, axis=1, keepdims=True)
            accuracy = float(np.mean(np.argmax(joint, axis=1) == codes))
            log_loss = float(-np.mean(log_post[np.arange(len(codes)), codes]))
            rows.append((*weights, accuracy, log_loss))
        table = pd.DataFrame(rows, columns=[*self.streams_, "accuracy", "log_loss"])
        self.cv_scores_ = table
        best = table.sort_values(["accuracy", "log_loss"], ascending=[False, True],
                                 kind="stable").index[0]
        return table.loc[best, self.streams_].to_numpy(dtype=float)

    # -- prediction --------------------------------------------------------------------
    def decision_function(self, X):
        """Fused class log-likelihoods, ``sum_s w_s log p(x_s | c)`` (late) or ``log p(x | c)``.

        Parameters
        ----------
        X : pandas DataFrame or mapping of columns
            As in :meth:`fit`.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes)
            0 for a sample without any stream (late fusion).
        """
        check_is_fitted(self, "estimators_")
        table = self._table(X, reset=False)
        if self.fusion == "early":
            return self.estimators_["early"].decision_function(self._early_sequences(table))
        total = 0.0
        for weight, s in zip(self.stream_weights_, self.streams_, strict=True):
            scores = self.estimators_[s].decision_function(
                self._sequences(table[s], self.stream_dims_[s], s))
            total = total + weight * scores
        return total

    def stream_log_likelihoods(self, X) -> dict:
        """Each stream's class log-likelihoods ``log p(x_s | c)`` (late fusion).

        Parameters
        ----------
        X : pandas DataFrame or mapping of columns

        Returns
        -------
        scores : dict of {str: ndarray of shape (n_samples, n_classes)}
        """
        check_is_fitted(self, "estimators_")
        if self.fusion == "early":
            raise ValueError("stream_log_likelihoods needs fusion='late'")
        table = self._table(X, reset=False)
        return {s: self.estimators_[s].decision_function(
            self._sequences(table[s], self.stream_dims_[s], s)) for s in self.streams_}

    def predict_log_proba(self, X):
        """Log posterior of each class (fused scores plus the log prior, normalised).

        Parameters
        ----------
        X : pandas DataFrame or mapping of columns

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        joint = self.decision_function(X) + self.class_log_prior_
        return joint - logsumexp(joint, axis=1, keepdims=True)

    def predict_proba(self, X):
        """Posterior probability of each class.

        Parameters
        ----------
        X : pandas DataFrame or mapping of columns

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Class of highest posterior.

        Parameters
        ----------
        X : pandas DataFrame or mapping of columns

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores + self.class_log_prior_, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.allow_nan = True
        return tags


def _simplex_grid(n_streams: int, n_values: int):
    """Weight vectors with ``n_values`` levels per stream (0, 1/(g-1), ..., 1) summing to 1."""
    steps = n_values - 1
    count = 0
    for combo in itertools.product(range(steps + 1), repeat=n_streams - 1):
        if sum(combo) <= steps:
            count += 1
            if count > _MAX_WEIGHT_CANDIDATES:
                raise ValueError(f"stream_weights='cv' would try more than "
                                 f"{_MAX_WEIGHT_CANDIDATES} weight vectors; lower weight_grid")
            yield np.array([*combo, steps - sum(combo)], dtype=float) / steps
