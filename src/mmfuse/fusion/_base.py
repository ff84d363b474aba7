"""What every fusion estimator shares.

The modality helpers (a modality is a ``(name, transformer_or_estimator,
columns)`` triple; :func:`missing_modality_mask` decides whether a sample has
it) live in :mod:`mmfuse._modalities`, below every model floor, and are
re-exported here. Fusion classifiers also share target handling: single- or
multi-output ``y`` (scikit-learn's multi-output conventions), encoded per
output.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning
from sklearn.multioutput import MultiOutputClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_array,
    check_consistent_length,
)

from mmfuse._modalities import (  # noqa: F401  (re-exported for the fusion modules)
    ModalityComposition,
    _well_formed,
    as_frame,
    as_table,
    check_block_names,
    check_modalities,
    column_positions,
    missing_modality_mask,
    select_modality,
    take_rows,
)
from mmfuse.blocks import Blocks


class FusionClassifierMixin:
    """Input validation and single/multi-output targets for fusion classifiers.

    Subclasses implement ``_predict_proba_list(X)`` returning one
    ``(n_samples, n_classes_o)`` array per output; ``predict`` and
    ``predict_proba`` follow scikit-learn's multi-output conventions
    (``classes_`` and ``predict_proba`` are lists when ``y`` has several
    columns).
    """

    def _validate_table(self, X, *, reset: bool):
        X = as_table(X)
        if X.shape[0] == 0 or X.shape[1] == 0:
            # Same wording as sklearn's check_array.
            raise ValueError(f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} "
                             f"feature(s) (shape={X.shape}) while a minimum of 1 is required "
                             f"by {type(self).__name__}.")
        if isinstance(X, Blocks):
            check_block_names(self, X, reset=reset)
        else:
            _check_feature_names(self, X, reset=reset)
        _check_n_features(self, X, reset=reset)
        return X

    def _validate_targets(self, X, y) -> np.ndarray:
        """Encode ``y`` as (n_samples, n_outputs) ints; set classes_, n_outputs_, class_prior_."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             "y is None")
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y",
                        ensure_all_finite=True)
        check_consistent_length(X, y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected. Please "
                          "change the shape of y to (n_samples,), for example using ravel().",
                          DataConversionWarning, stacklevel=3)
            y = y[:, 0]
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        check_classification_targets(y)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        classes, codes = [], np.empty(Y.shape, dtype=np.intp)
        for j in range(Y.shape[1]):
            classes_j, codes[:, j] = np.unique(Y[:, j], return_inverse=True)
            classes.append(classes_j)
        self.n_outputs_ = Y.shape[1]
        self.classes_ = classes[0] if y.ndim == 1 else classes
        self.class_prior_ = [np.bincount(codes[:, j], minlength=len(c)) / len(codes)
                             for j, c in enumerate(classes)]
        if y.ndim == 1:
            self.class_prior_ = self.class_prior_[0]
        return codes

    @property
    def _classes_list(self) -> list:
        return self.classes_ if isinstance(self.classes_, list) else [self.classes_]

    @property
    def _prior_list(self) -> list:
        return self.class_prior_ if isinstance(self.class_prior_, list) else [self.class_prior_]

    def _single_output(self) -> bool:
        return not isinstance(self.classes_, list)

    def predict(self, X):
        """Predicted class of each sample (one column per output for multi-output ``y``).

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like
            One row per sample; columns as referenced in ``modalities``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        probas = self._predict_proba_list(X)
        columns = [classes[np.argmax(p, axis=1)]
                   for classes, p in zip(self._classes_list, probas, strict=True)]
        return columns[0] if self._single_output() else np.column_stack(columns)

    def _format_proba(self, probas: list):
        return probas[0] if self._single_output() else probas


def codes_for_fit(Y: np.ndarray):
    """Encoded targets as the base estimators see them: 1-D for a single output."""
    return Y[:, 0] if Y.shape[1] == 1 else Y


def clone_for_outputs(estimator, n_outputs: int):
    """A fresh copy of ``estimator``, wrapped in MultiOutputClassifier for several outputs."""
    estimator = clone(estimator)
    return estimator if n_outputs == 1 else MultiOutputClassifier(estimator)


def aligned_proba(estimator, X, n_classes: list[int], classes_seen=None) -> list[np.ndarray]:
    """``estimator.predict_proba(X)`` as one array per output over *all* encoded classes.

    A base estimator fitted on a subset of the samples (those having its
    modality) may not have seen every class; its columns are put in place and
    the unseen classes get probability 0.
    """
    proba = estimator.predict_proba(X)
    proba = proba if isinstance(proba, list) else [proba]
    seen = classes_seen if classes_seen is not None else _classes_of(estimator, len(proba))
    out = []
    for p, k, cls in zip(proba, n_classes, seen, strict=True):
        full = np.zeros((p.shape[0], k))
        full[:, np.asarray(cls, dtype=np.intp)] = p
        out.append(full)
    return out


def _classes_of(estimator, n_outputs: int) -> list:
    classes = estimator.classes_
    return list(classes) if n_outputs > 1 else [classes]


__all__ = [
    "FusionClassifierMixin",
    "ModalityComposition",
    "aligned_proba",
    "as_frame",
    "as_table",
    "check_modalities",
    "clone_for_outputs",
    "codes_for_fit",
    "column_positions",
    "missing_modality_mask",
    "select_modality",
    "take_rows",
]
