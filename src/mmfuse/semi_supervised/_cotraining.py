"""Co-training: two views label confident samples for each other (Blum & Mitchell, 1998)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from mmfuse._views import check_targets, checked_two_views, checked_views, labelled_classes

_PROBA_FLOOR = 1e-12


class CoTrainingClassifier(ClassifierMixin, BaseEstimator):
    """Co-training over two views (Blum & Mitchell, 1998).

    Each round, one classifier per view is fitted on the labelled samples of
    its view; from a pool of unlabelled samples, each classifier picks, for
    every class, the ``n_per_class`` samples it assigns to that class with
    the highest probability and labels them for both (a class it assigns no
    pool sample to gets none that round). The pool is refilled from the unlabelled
    rest and the rounds go on until ``max_rounds`` or no unlabelled sample
    is left. It pays when each view alone suffices to classify and the views
    are roughly independent given the class: one view's confident labels
    are then new, informative examples for the other. Prediction multiplies
    the two views' class probabilities (their naive-Bayes combination) and
    renormalises.

    Unlabelled samples are marked ``-1`` in ``y``, as in
    :mod:`sklearn.semi_supervised`.

    Parameters
    ----------
    estimator : classifier with predict_proba or None, default=None
        Cloned for each view; None uses ``LogisticRegression(max_iter=1000)``.
    views : list or None, default=None
        Exactly two views: with :class:`~mmfuse.blocks.Blocks` or a mapping,
        two block names (None: its two blocks); with a 2-D array, two
        ``(name, columns)`` pairs.
    n_per_class : int, default=1
        Samples each view labels per class and round (Blum & Mitchell's
        ``p`` and ``n``).
    pool_size : int, default=75
        Unlabelled samples the classifiers choose from each round (their
        ``u'``).
    min_confidence : float in [0, 1], default=0.99
        A classifier only labels a sample whose probability for the class is
        at least this. Blum & Mitchell label the most confident samples
        whatever their confidence (0); with ten classes and a few labels
        those labels are often wrong and the views teach each other their
        mistakes: with 5% of the labels, test accuracy 0.51 / 0.59 on
        audio-visual digits and 0.32 / 0.29 on Wikipedia (two draws) at 0,
        against 0.71 / 0.68 and 0.38 / 0.40 at 0.99 (``benchmarks/few_labels.py``
        settings). When no sample is that sure, co-training adds nothing and
        the model is the two views' classifiers on the given labels.
    max_rounds : int, default=30
        Rounds of co-training.
    random_state : int, RandomState instance or None, default=None
        Draws the pool.

    Attributes
    ----------
    estimators_ : list of two classifiers
        Fitted on each view's labelled samples after the last round.
    classes_ : ndarray
    labeled_iter_ : ndarray of shape (n_samples,)
        Round in which each sample got its label: 0 for the given labels,
        ``-1`` for samples never labelled (as
        :class:`~sklearn.semi_supervised.SelfTrainingClassifier`).
    transduction_ : ndarray of shape (n_samples,)
        The labels used for the final fit (``-1`` where none).
    n_rounds_ : int
        Rounds run.
    view_names_ : list of str
    view_widths_ : list of int
    n_features_in_ : int
        Columns of a 2-D array input (not set for named blocks).

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.semi_supervised import CoTrainingClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 100)
    >>> image = rng.normal(size=(200, 10)) + 0.8 * y[:, None]
    >>> text = rng.normal(size=(200, 10)) + 0.8 * y[:, None]
    >>> kept = [0, 1, 2, 3, 100, 101, 102, 103]
    >>> partial = np.full(200, -1); partial[kept] = y[kept]
    >>> model = CoTrainingClassifier(random_state=0).fit({"image": image, "text": text},
    ...                                                  partial)
    >>> model.n_rounds_, int((model.labeled_iter_ > 0).sum())
    (30, 65)
    >>> bool(model.score({"image": image, "text": text}, y) > 0.85)
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "views": [list, None],
        "n_per_class": [Interval(Integral, 1, None, closed="left")],
        "pool_size": [Interval(Integral, 1, None, closed="left")],
        "min_confidence": [Interval(Real, 0, 1, closed="both")],
        "max_rounds": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, views=None, n_per_class=1, pool_size=75,
                 min_confidence=0.99, max_rounds=30, random_state=None):
        self.estimator = estimator
        self.views = views
        self.n_per_class = n_per_class
        self.min_confidence = min_confidence
        self.pool_size = pool_size
        self.max_rounds = max_rounds
        self.random_state = random_state

    def _fit_views(self, parts, y, labelled):
        base = LogisticRegression(max_iter=1000) if self.estimator is None else self.estimator
        return [clone(base).fit(block[labelled], y[labelled]) for _, block in parts]

    def fit(self, X, y):
        """Co-train the two views' classifiers from the labelled samples (``y != -1``).

        Parameters
        ----------
        X : Blocks, mapping of {str: 2-D array or sparse matrix}, or 2-D array
        y : array-like of shape (n_samples,)
            Class labels, ``-1`` for unlabelled samples.

        Returns
        -------
        self
        """
        self._validate_params()
        parts = checked_two_views(self, X, reset=True)
        y = check_targets(self, y, parts[0][1].shape[0]).copy()
        labelled = y != -1
        self.classes_ = labelled_classes(self, y)
        rng = check_random_state(self.random_state)
        rest = list(rng.permutation(np.flatnonzero(~labelled)))
        pool, rest = rest[:self.pool_size], rest[self.pool_size:]
        self.labeled_iter_ = np.where(labelled, 0, -1)
        self.n_rounds_ = 0
        for round_ in range(1, self.max_rounds + 1):
            if not pool:
                break
            estimators = self._fit_views(parts, y, labelled)
            pool_rows = np.asarray(pool)
            chosen: dict[int, object] = {}
            for estimator, (_, block) in zip(estimators, parts, strict=True):
                proba = estimator.predict_proba(block[pool_rows])
                best = np.argmax(proba, axis=1)
                for column, label in enumerate(estimator.classes_):
                    # the samples it is surest of among those it assigns to the class
                    order = np.argsort(-proba[:, column], kind="stable")
                    picked = [pool_rows[i] for i in order
                              if best[i] == column and pool_rows[i] not in chosen
                              and proba[i, column] >= self.min_confidence]
                    for row in picked[:self.n_per_class]:
                        chosen[int(row)] = label
            for row, label in chosen.items():
                y[row] = label
                labelled[row] = True
                self.labeled_iter_[row] = round_
            pool = [row for row in pool if row not in chosen]
            refill = 2 * self.n_per_class * len(self.classes_)
            pool, rest = pool + rest[:refill], rest[refill:]
            self.n_rounds_ = round_
        self.estimators_ = self._fit_views(parts, y, labelled)
        self.transduction_ = np.where(labelled, y, -1)
        self.view_names_ = [n for n, _ in parts]
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def predict_proba(self, X):
        """Product of the two views' class probabilities, renormalised.

        Parameters
        ----------
        X : same form as in :meth:`fit`

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "estimators_")
        parts = checked_views(self, X, reset=False)
        log_proba = np.zeros((parts[0][1].shape[0], len(self.classes_)))
        for estimator, (_, block) in zip(self.estimators_, parts, strict=True):
            proba = np.zeros_like(log_proba)
            columns = np.searchsorted(self.classes_, estimator.classes_)
            proba[:, columns] = estimator.predict_proba(block)
            log_proba += np.log(np.maximum(proba, _PROBA_FLOOR))
        log_proba -= log_proba.max(axis=1, keepdims=True)
        proba = np.exp(log_proba)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class of each sample.

        Parameters
        ----------
        X : same form as in :meth:`fit`

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
