"""Kernel fusion: one kernel per modality, a weighted sum of kernels, an SVM on top."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics.pairwise import additive_chi2_kernel, chi2_kernel, rbf_kernel
from sklearn.multioutput import MultiOutputClassifier
from sklearn.svm import SVC, LinearSVC
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, check_is_fitted
from tqdm.auto import tqdm

from mmfuse._config import get_config, resolve_verbose
from mmfuse.backend import chunk_rows
from mmfuse.fusion._base import (
    FusionClassifierMixin,
    ModalityComposition,
    check_modalities,
    codes_for_fit,
    missing_modality_mask,
    select_modality,
    take_rows,
)

KERNELS = ("linear", "rbf", "chi2", "intersection", "hellinger")
_NON_NEGATIVE = {"chi2", "intersection", "hellinger"}


def modality_kernel(A, B=None, kernel="rbf", *, gamma=None):
    """Kernel matrix between the rows of two feature blocks.

    Parameters
    ----------
    A : array-like of shape (n_a, n_features)
    B : array-like of shape (n_b, n_features), default=None
        None means ``A``.
    kernel : {"linear", "rbf", "chi2", "intersection", "hellinger"} or callable
        ``"linear"``: ``a . b``. ``"rbf"``: ``exp(-gamma ||a - b||^2)``.
        ``"chi2"``: ``exp(-gamma sum (a - b)^2 / (a + b))``.
        ``"intersection"`` (histogram intersection): ``sum min(a, b)``.
        ``"hellinger"`` (Bhattacharyya): ``sum sqrt(a b)``. The last three
        need non-negative features (histograms). A callable gets ``(A, B)``
        and returns the matrix.
    gamma : float, default=None
        Width for ``"rbf"`` and ``"chi2"`` (None: 1 / n_features).

    Returns
    -------
    K : ndarray of shape (n_a, n_b)

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.fusion import modality_kernel
    >>> H = np.array([[0.5, 0.5, 0.0], [0.2, 0.2, 0.6]])
    >>> modality_kernel(H, kernel="intersection")
    array([[1. , 0.4],
           [0.4, 1. ]])
    >>> modality_kernel(H, kernel="hellinger").round(3)
    array([[1.   , 0.632],
           [0.632, 1.   ]])
    """
    A = np.asarray(A, dtype=np.float64)
    B = A if B is None else np.asarray(B, dtype=np.float64)
    if callable(kernel):
        return np.asarray(kernel(A, B), dtype=np.float64)
    if kernel in _NON_NEGATIVE and (np.any(A < 0) or np.any(B < 0)):
        raise ValueError(f"the {kernel!r} kernel needs non-negative features (histograms)")
    if gamma is None:
        gamma = 1.0 / max(A.shape[1], 1)
    if kernel == "linear":
        return A @ B.T
    if kernel == "rbf":
        return rbf_kernel(A, B, gamma=gamma)
    if kernel == "chi2":
        # sklearn's Cython chi2 kernel refuses read-only buffers (e.g. memmapped models).
        return chi2_kernel(np.require(A, requirements="W"), np.require(B, requirements="W"),
                           gamma=gamma)
    if kernel == "intersection":
        # One (n_a, n_b) slab per feature keeps memory at one kernel matrix.
        K = np.zeros((A.shape[0], B.shape[0]))
        for j in range(A.shape[1]):
            K += np.minimum(A[:, j, None], B[None, :, j])
        return K
    if kernel == "hellinger":
        return np.sqrt(A) @ np.sqrt(B).T
    raise ValueError(f"kernel must be one of {KERNELS} or a callable, got {kernel!r}")


def _one_hot_targets(y) -> np.ndarray:
    y = np.asarray(y)
    Y = y.reshape(-1, 1) if y.ndim == 1 else y
    columns = []
    for j in range(Y.shape[1]):
        classes, codes = np.unique(Y[:, j], return_inverse=True)
        columns.append(np.eye(len(classes))[codes])
    return np.hstack(columns)


def centered_kernel_alignment(K, y) -> float:
    """Centred kernel-target alignment (Cortes, Mohri & Rostamizadeh, 2012).

    ``<K_c, T_c>_F / (||K_c||_F ||T_c||_F)`` where ``K_c = H K H`` is the
    centred kernel and ``T = Y Y^T`` the target kernel of the one-hot labels
    (summed over outputs for multi-output ``y``). 1 means the kernel sees
    the classes perfectly, 0 that it is unrelated to them.

    Parameters
    ----------
    K : array-like of shape (n_samples, n_samples)
        Symmetric kernel matrix.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)

    Returns
    -------
    alignment : float

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.fusion import centered_kernel_alignment
    >>> y = np.array([0, 0, 1, 1])
    >>> centered_kernel_alignment(np.equal.outer(y, y).astype(float), y)
    1.0
    """
    K = np.asarray(K, dtype=np.float64)
    Yc = _one_hot_targets(y)
    Yc = Yc - Yc.mean(axis=0)
    Kc = K - K.mean(axis=0) - K.mean(axis=1)[:, None] + K.mean()
    inner = float(np.sum((Kc @ Yc) * Yc))
    norm = np.linalg.norm(Kc) * np.linalg.norm(Yc.T @ Yc)
    return float(inner / norm) if norm > 0 else 0.0


def _feature_alignment(Phi, y) -> float:
    """:func:`centered_kernel_alignment` of ``Phi Phi^T`` without forming it."""
    Phic = Phi - Phi.mean(axis=0)
    Yc = _one_hot_targets(y)
    Yc = Yc - Yc.mean(axis=0)
    inner = float(np.sum((Phic.T @ Yc) ** 2))
    norm = np.linalg.norm(Phic.T @ Phic) * np.linalg.norm(Yc.T @ Yc)
    return float(inner / norm) if norm > 0 else 0.0


def _has_decision_function(estimator) -> bool:
    """Single-output, uncalibrated SVMs have one."""
    return getattr(estimator, "n_outputs_", 1) == 1 and not estimator.probability


class KernelFusionClassifier(ClassifierMixin, FusionClassifierMixin, ModalityComposition):
    """Multiple-kernel fusion: a weighted sum of per-modality kernels and an SVM.

    Each modality is a ``(name, transformer, columns)`` triple producing a
    feature block, compared with its own kernel (:func:`modality_kernel`).
    Each kernel is scaled to unit mean self-similarity on the training
    samples, the kernels are summed with weights from centred kernel-target
    alignment (:func:`centered_kernel_alignment`, negative alignments count
    as 0) or uniformly, and an :class:`~sklearn.svm.SVC` is trained on the
    precomputed combined kernel.

    Memory: fitting the exact kernels holds one ``n_train x n_train`` float64
    matrix per modality (about 0.8 GB per modality at 10,000 samples);
    prediction builds ``n_test x n_train`` blocks in chunks bounded by
    ``mmfuse.get_config()["working_memory"]``. For large ``n`` set
    ``n_components``: each kernel is then approximated by a Nystroem feature
    map of that many landmarks, alignment is computed in feature space, and a
    :class:`~sklearn.svm.LinearSVC` is trained on the weighted, concatenated
    maps (memory ``n x n_components`` per modality).

    Missing modalities: a sample without a modality (all its cells
    ``None``/NaN) contributes zero to that modality's kernel, i.e. kernel
    ``k_m(i, j) * present_m(i) * present_m(j)``, which keeps the sum positive
    semi-definite; each modality's transformer is fitted on the samples that
    have it.

    Multi-output ``y``: one SVM per output on the same combined kernel;
    alignment uses the summed target kernels.

    Parameters
    ----------
    modalities : list of (str, transformer or "passthrough", column(s)) tuples
    kernel : str, callable or dict, default="rbf"
        One of "linear", "rbf", "chi2", "intersection", "hellinger" (or a
        callable) for every modality, or a dict by modality name.
    kernel_params : dict of {str: dict} or None, default=None
        Extra kernel arguments by modality name, e.g. ``{"image": {"gamma": 0.5}}``.
        Without a ``gamma``, "rbf" uses ``1 / (n_features * var)`` (as SVC's
        "scale") and "chi2" ``1 / mean chi2 distance`` between training rows.
    kernel_weights : {"alignment", "uniform"} or dict, default="alignment"
        How kernels are weighted (a dict fixes them by modality name).
    C : float, default=1.0
        SVM regularisation.
    class_weight : dict, "balanced" or None, default=None
        Passed to the SVM.
    probability : bool, default=False
        Enable ``predict_proba``: the SVM is wrapped in
        ``CalibratedClassifierCV(method="sigmoid", ensemble=False)`` (Platt
        scaling on 5-fold out-of-fold decisions); ``decision_function`` is
        then not available.
    n_components : int or None, default=None
        Nystroem landmarks per modality; None computes exact kernels.
    random_state : int, RandomState or None, default=None
        Landmark choice and SVM randomness.
    verbose : int, bool or None, default=None
        Progress bar over modalities (None: the global ``verbose``).

    Attributes
    ----------
    kernel_weights_ : ndarray of shape (n_modalities,)
        Weights of the kernels (they sum to 1).
    alignments_ : ndarray of shape (n_modalities,)
        Centred kernel-target alignment of each modality's training kernel.
    kernel_params_ : list of dict
        Kernel name and gamma used per modality.
    classifier_ : estimator
        The fitted SVM (``SVC(kernel="precomputed")`` or ``LinearSVC``),
        wrapped in MultiOutputClassifier for multi-output ``y``.
    classes_ : ndarray or list of ndarray
    n_outputs_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.fusion import KernelFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 30)
    >>> X = np.hstack([rng.normal(size=(60, 3)) + y[:, None],     # informative
    ...                rng.normal(size=(60, 3))])                  # noise
    >>> clf = KernelFusionClassifier([("good", "passthrough", [0, 1, 2]),
    ...                               ("noise", "passthrough", [3, 4, 5])]).fit(X, y)
    >>> bool(clf.kernel_weights_[0] > clf.kernel_weights_[1])
    True
    """

    _parameter_constraints = {
        "modalities": [list],
        "kernel": [StrOptions(set(KERNELS)), callable, dict],
        "kernel_params": [dict, None],
        "kernel_weights": [StrOptions({"alignment", "uniform"}), dict],
        "C": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "probability": ["boolean"],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose", None],
    }

    def __init__(self, modalities, *, kernel="rbf", kernel_params=None,
                 kernel_weights="alignment", C=1.0, class_weight=None, probability=False,
                 n_components=None, random_state=None, verbose=None):
        self.modalities = modalities
        self.kernel = kernel
        self.kernel_params = kernel_params
        self.kernel_weights = kernel_weights
        self.C = C
        self.class_weight = class_weight
        self.probability = probability
        self.n_components = n_components
        self.random_state = random_state
        self.verbose = verbose

    # -- per-modality features -------------------------------------------------------

    def _features(self, name, transformer, block, *, fit, y=None):
        if fit and not (isinstance(transformer, str) and transformer == "passthrough"):
            transformer = clone(transformer)
            F = transformer.fit_transform(block, y)
        elif isinstance(transformer, str) and transformer == "passthrough":
            F = block
        else:
            F = transformer.transform(block)
        try:
            F = check_array(F, accept_sparse=True, dtype=np.float64, ensure_min_samples=1)
        except ValueError as exc:
            raise ValueError(f"modality {name!r}: {exc}") from exc
        F = F.toarray() if sp.issparse(F) else F
        return transformer, F

    def _resolve_kernel(self, name, F) -> dict:
        kernel = self.kernel.get(name, "rbf") if isinstance(self.kernel, dict) else self.kernel
        if isinstance(kernel, str) and kernel not in KERNELS:
            raise ValueError(f"modality {name!r}: kernel must be one of {KERNELS} or a "
                             f"callable, got {kernel!r}")
        params = dict((self.kernel_params or {}).get(name, {}))
        unknown = set(params) - {"gamma"}
        if unknown:
            raise ValueError(f"modality {name!r}: unknown kernel_params {sorted(unknown)} "
                             "(only 'gamma')")
        if kernel in _NON_NEGATIVE and np.any(F < 0):
            raise ValueError(f"modality {name!r}: the {kernel!r} kernel needs non-negative "
                             "features (histograms); use 'rbf' or 'linear' for signed features")
        gamma = params.get("gamma")
        if gamma is None and kernel == "rbf":
            var = F.var()
            gamma = 1.0 / (F.shape[1] * var) if var > 0 else 1.0
        elif gamma is None and kernel == "chi2":
            sample = F[:300]
            dist = -additive_chi2_kernel(sample)
            mean = dist[np.triu_indices(len(sample), k=1)].mean() if len(sample) > 1 else 0.0
            gamma = 1.0 / mean if mean > 0 else 1.0
        return {"kernel": kernel, "gamma": gamma}

    # -- fitting ------------------------------------------------------------------------

    def fit(self, X, y):
        """Fit the transformers, kernel weights and the SVM.

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
        for option in ("kernel", "kernel_params", "kernel_weights"):
            value = getattr(self, option)
            if isinstance(value, dict) and set(value) - set(names):
                raise ValueError(f"{option} name unknown modalities "
                                 f"{sorted(set(value) - set(names))}; known: {names}")
        X = self._validate_table(X, reset=True)
        Y = self._validate_targets(X, y)
        n = self._n_train = X.shape[0]
        rng = check_random_state(self.random_state)
        verbose = resolve_verbose(self.verbose)

        self.transformers_, self.kernel_params_, self._train = [], [], []
        self._scales, alignments, maps = [], [], []
        for name, transformer, cols in tqdm(modalities, disable=not verbose,
                                            desc="kernel fusion: modality kernels"):
            block = select_modality(X, cols, name)
            present = np.flatnonzero(~missing_modality_mask(block))
            if present.size == 0:
                raise ValueError(f"modality {name!r} is missing for every one of the {n} "
                                 "training samples; drop it or supply it")
            fitted, F = self._features(name, transformer, take_rows(block, present), fit=True,
                                       y=codes_for_fit(Y[present]))
            params = self._resolve_kernel(name, F)
            self.transformers_.append(fitted)
            self.kernel_params_.append(params)
            if self.n_components is None:
                K_present = modality_kernel(F, kernel=params["kernel"], gamma=params["gamma"])
                scale = _positive(np.mean(np.diag(K_present)))
                K = np.zeros((n, n))
                K[np.ix_(present, present)] = K_present / scale
                self._train.append((present, F))
                alignments.append(centered_kernel_alignment(K, Y))
                maps.append(K)
            else:
                landmarks = F[rng.choice(len(F), size=min(self.n_components, len(F)),
                                         replace=False)]
                projection = _nystroem_projection(landmarks, params)
                Phi_present = modality_kernel(F, landmarks, kernel=params["kernel"],
                                              gamma=params["gamma"]) @ projection
                scale = _positive(np.mean(np.sum(Phi_present ** 2, axis=1)))
                Phi = np.zeros((n, Phi_present.shape[1]))
                Phi[present] = Phi_present / np.sqrt(scale)
                self._train.append((landmarks, projection))
                alignments.append(_feature_alignment(Phi, Y))
                maps.append(Phi)
            self._scales.append(scale)
        self.alignments_ = np.asarray(alignments)
        self.kernel_weights_ = self._weights(names)
        self.classifier_ = self._make_classifier()
        self.classifier_.fit(self._combine(maps), codes_for_fit(Y))
        return self

    def _weights(self, names) -> np.ndarray:
        if isinstance(self.kernel_weights, dict):
            w = np.array([float(self.kernel_weights.get(n, 1.0)) for n in names])
            if np.any(w < 0) or w.sum() <= 0:
                raise ValueError(f"kernel_weights must be non-negative and not all 0, got {w}")
        elif self.kernel_weights == "uniform":
            w = np.ones(len(names))
        else:
            w = np.clip(self.alignments_, 0.0, None)
            if w.sum() <= 0:
                w = np.ones(len(names))
        return w / w.sum()

    def _combine(self, maps):
        if self.n_components is None:
            return sum(w * K for w, K in zip(self.kernel_weights_, maps, strict=True))
        return np.hstack([np.sqrt(w) * Phi for w, Phi in zip(self.kernel_weights_, maps,
                                                             strict=True)])

    def _make_classifier(self):
        if self.n_components is None:
            clf = SVC(kernel="precomputed", C=self.C, class_weight=self.class_weight,
                      random_state=self.random_state)
        else:
            clf = LinearSVC(C=self.C, class_weight=self.class_weight,
                            random_state=self.random_state)
        if self.probability:
            # Platt scaling on out-of-fold decisions; cross_val_predict slices the
            # precomputed kernel on both axes (SVC is tagged pairwise).
            clf = CalibratedClassifierCV(clf, method="sigmoid", cv=5, ensemble=False)
        return clf if self.n_outputs_ == 1 else MultiOutputClassifier(clf)

    # -- prediction ---------------------------------------------------------------------

    def _test_maps(self, X):
        """Combined test kernel (n_test, n_train) or concatenated feature maps."""
        check_is_fitted(self, "classifier_")
        X = self._validate_table(X, reset=False)
        n = X.shape[0]
        combined = None
        for (name, _, cols), transformer, params, train, scale, weight in zip(
                self.modalities, self.transformers_, self.kernel_params_, self._train,
                self._scales, self.kernel_weights_, strict=True):
            block = select_modality(X, cols, name)
            present = np.flatnonzero(~missing_modality_mask(block))
            if self.n_components is None:
                train_rows, F_train = train
                part = np.zeros((n, self._n_train))
            else:
                landmarks, projection = train
                part = np.zeros((n, projection.shape[1]))
            if present.size and weight > 0:
                _, F = self._features(name, transformer, take_rows(block, present), fit=False)
                if params["kernel"] in _NON_NEGATIVE and np.any(F < 0):
                    raise ValueError(f"modality {name!r}: the {params['kernel']!r} kernel "
                                     "needs non-negative features")
                if self.n_components is None:
                    step = chunk_rows(len(F), 8 * (len(F_train) + F.shape[1]),
                                      get_config()["working_memory"])
                    for start in range(0, len(F), step):
                        rows = present[start:start + step]
                        part[np.ix_(rows, train_rows)] = modality_kernel(
                            F[start:start + step], F_train, kernel=params["kernel"],
                            gamma=params["gamma"]) * (weight / scale)
                else:
                    part[present] = (modality_kernel(F, landmarks, kernel=params["kernel"],
                                                     gamma=params["gamma"]) @ projection
                                     ) * np.sqrt(weight / scale)
            combined = part if combined is None else (
                combined + part if self.n_components is None else np.hstack([combined, part]))
        return combined

    def predict(self, X):
        """Predicted class of each sample (one column per output for multi-output ``y``).

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self, "classifier_")
        maps = self._test_maps(X)
        codes = np.asarray(self.classifier_.predict(maps)).reshape(len(maps), -1)
        columns = [classes[codes[:, j]] for j, classes in enumerate(self._classes_list)]
        return columns[0] if self._single_output() else np.column_stack(columns)

    @available_if(_has_decision_function)
    def decision_function(self, X):
        """SVM decision values on the combined kernel (single-output ``y`` only).

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self, "classifier_")
        return self.classifier_.decision_function(self._test_maps(X))

    @available_if(lambda self: self.probability)
    def predict_proba(self, X):
        """Class probabilities (needs ``probability=True``).

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or list of them
        """
        check_is_fitted(self, "classifier_")
        proba = self.classifier_.predict_proba(self._test_maps(X))
        return self._format_proba(proba if isinstance(proba, list) else [proba])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._modalities_accept_sparse()
        tags.target_tags.multi_output = True
        return tags


def _positive(value: float) -> float:
    return float(value) if value > 0 else 1.0


def _nystroem_projection(landmarks, params) -> np.ndarray:
    """``K_mm^{-1/2}`` as in :class:`sklearn.kernel_approximation.Nystroem`.

    Re-done here because sklearn's Nystroem calls a Python callable once per
    pair for kernels it does not know (intersection, Hellinger).
    """
    K_mm = modality_kernel(landmarks, kernel=params["kernel"], gamma=params["gamma"])
    U, S, Vt = np.linalg.svd(K_mm)
    S = np.maximum(S, 1e-12)
    return ((U / np.sqrt(S)) @ Vt).T


__all__ = ["KERNELS", "KernelFusionClassifier", "centered_kernel_alignment", "modality_kernel"]
