"""Turn each modality's feature block into one small discrete variable."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import TransformerMixin, clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import KBinsDiscretizer, StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted
from tqdm.auto import tqdm

from mmfuse._config import resolve_verbose
from mmfuse._modalities import (
    ModalityComposition,
    as_table,
    check_modalities,
    missing_modality_mask,
    select_modality,
    take_rows,
)
from mmfuse.descriptors import DescriptorSet

METHODS = ("auto", "kmeans", "argmax", "quantile", "supervised")
#: n_states="auto": one state per this many samples with the modality, within bounds.
AUTO_SAMPLES_PER_STATE, AUTO_MIN_STATES, AUTO_MAX_STATES = 64, 8, 32


class ModalityDiscretizer(TransformerMixin, ModalityComposition):
    """One discrete variable per modality: k-means cluster, argmax feature or quantile bin.

    A discrete Bayesian network needs each modality as a variable with a few
    states. Each modality is a ``(name, transformer, columns)`` triple, as in
    :class:`~mmfuse.fusion.EarlyFusion`: the transformer (e.g. dense SIFT and
    a bag of visual words, or :class:`~mmfuse.text.TextVectorizer`) encodes
    the modality as a fixed-length vector, and that vector becomes a state:

    - ``"kmeans"``: the index of the nearest of ``n_states`` k-means
      centroids (:class:`sklearn.cluster.KMeans`), so similar images (or
      captions) share a state;
    - ``"argmax"``: the index of the largest feature, e.g. the dominant topic
      of a topic model or the most probable class of a classifier's
      probabilities (one state per feature);
    - ``"quantile"``: the quantile bin of a scalar feature
      (:class:`sklearn.preprocessing.KBinsDiscretizer`); a block with several
      features is first projected on its first principal component;
    - ``"supervised"``: the class that ``classifier`` (a logistic regression
      by default) predicts from the modality alone (needs ``y``; one state
      per class). In :meth:`fit_transform` the training samples get
      out-of-fold predictions (:func:`~sklearn.model_selection.cross_val_predict`
      over ``cv`` folds), so a model built on these states sees how often the
      modality errs on unseen data; :meth:`transform` uses the classifier
      fitted on all the training data. Unsupervised states follow whatever
      varies most in a modality, which need not be what tells the classes
      apart (in ``make_shapes`` captions, the filler phrases).

    Every state gets a readable description: for k-means, the ``n_top``
    features whose centroid value most exceeds their mean over all samples
    (the top terms of a caption cluster, the top visual words of an image
    cluster); for argmax, the feature's name; for quantiles, the interval;
    for supervised states, the class and (for a linear classifier) the
    ``n_top`` features with the largest coefficients for it.

    Missing modalities: a sample whose cells of a modality are all
    ``None``/NaN (:func:`~mmfuse.fusion.missing_modality_mask`) gets NaN for
    that variable, which :class:`MultimodalBayesNet` treats as unobserved.
    Each modality's transformer and quantiser are fitted on the samples that
    have the modality.

    Parameters
    ----------
    modalities : list of (str, transformer, column(s)) tuples
        ``name`` names the output variable; ``transformer`` is any sklearn
        transformer giving one fixed-length vector per sample (dense or
        sparse), or ``"passthrough"`` for numeric columns; ``columns``
        selects the input as in ColumnTransformer.
    method : {"auto", "kmeans", "argmax", "quantile", "supervised"} or dict, \
default="auto"
        How a vector becomes a state; a dict gives one per modality name
        (absent names get ``"auto"``). ``"auto"``: ``"supervised"`` when
        `fit` is given class labels ``y`` (as :class:`MultimodalBayesNet`
        does), ``"kmeans"`` without them; the choice is in `methods_`. A
        naive Bayes network over supervised states scored 0.863 against
        0.733 over 32 k-means states on audio-visual digits, 0.678 against
        0.664 on Wikipedia categories and 0.625 against 0.615 on MVSA
        Twitter, and fitted faster on all three
        (``benchmarks/results/defaults.md``). ``"kmeans"`` was the default
        until 0.1; pass it for the earlier states.
    n_states : int, "auto" or dict, default="auto"
        Number of states for ``"kmeans"`` and ``"quantile"`` (a dict gives
        one per modality name; absent names get ``"auto"``). ``"auto"``:
        one state per 64 training samples that have the modality, at least 8
        and at most 32 (8 was the fixed default before). Few states throw
        away what a modality knows: a naive Bayes network over them scored
        0.51 with 8 k-means states and 0.73 with 32 on audio-visual digits,
        0.59 and 0.66 on Wikipedia categories (``benchmarks/results/defaults.md``).
        ``"argmax"`` has one state per feature. Quantile bins that coincide are
        merged, so a ``"quantile"`` variable may end up with fewer states.
    n_top : int, default=3
        Features named in a k-means or supervised state's description.
    classifier : classifier or None, default=None
        The per-modality classifier of ``"supervised"``. None means
        :class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis`
        for dense features (closed form: about 3x faster than the logistic
        regression at the same accuracy on the three datasets above), and
        for sparse ones a :class:`~sklearn.preprocessing.StandardScaler`
        (``with_mean=False``, so they stay sparse) followed by
        ``LogisticRegression(max_iter=1000)`` (used for dense features too
        until 0.1).
    cv : int or cross-validation generator, default=5
        Folds for the out-of-fold states of ``"supervised"``.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means and PCA.
    verbose : int, bool or None, default=None
        Progress bar over modalities (None: the global ``verbose``).

    Attributes
    ----------
    transformers_ : dict of {str: transformer or "passthrough"}
        Fitted transformer per modality.
    quantizers_ : dict of {str: estimator or None}
        Fitted KMeans, (PCA or None, KBinsDiscretizer) pair or classifier,
        per modality (None for ``"argmax"``).
    n_states_ : dict of {str: int}
        Number of states per modality variable.
    methods_ : dict of {str: str}
        The method of each modality (`method`, with ``"auto"`` resolved).
    state_descriptions_ : dict of {str: list of str}
        Readable description of each state, indexed by state.
    feature_names_ : dict of {str: ndarray of str}
        Names of each modality's encoded features.
    n_missing_ : dict of {str: int}
        Training samples lacking each modality.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names of the input table (when it has string names).

    See Also
    --------
    MultimodalBayesNet : a Bayesian network over the discretised modalities.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.probabilistic import ModalityDiscretizer
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.normal(size=60) + np.repeat([0, 5], 30),
    ...                      rng.normal(size=60), rng.normal(size=60)])
    >>> disc = ModalityDiscretizer([("a", "passthrough", [0]), ("b", "passthrough", [1, 2])],
    ...                            method={"b": "quantile"}, n_states=2, random_state=0)
    >>> states = disc.fit_transform(X)
    >>> list(states.columns), states.shape
    (['a', 'b'], (60, 2))
    >>> disc.n_states_
    {'a': 2, 'b': 2}
    >>> sorted(states["a"].iloc[[0, 59]].tolist())   # two clusters, one per group
    [0.0, 1.0]
    """

    _parameter_constraints = {
        "modalities": [list],
        "method": [str, dict],
        "n_states": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"}), dict],
        "n_top": [Interval(Integral, 1, None, closed="left")],
        "classifier": [HasMethods(["fit", "predict"]), None],
        "cv": ["cv_object"],
        "random_state": ["random_state"],
        "verbose": ["verbose", None],
    }

    def __init__(self, modalities, *, method="auto", n_states="auto", n_top=3, classifier=None,
                 cv=5, random_state=None, verbose=None):
        self.modalities = modalities
        self.method = method
        self.n_states = n_states
        self.n_top = n_top
        self.classifier = classifier
        self.cv = cv
        self.random_state = random_state
        self.verbose = verbose

    # -- settings per modality ---------------------------------------------------------
    def _method_of(self, name: str) -> str:
        method = self.method.get(name, "auto") if isinstance(self.method, dict) else self.method
        if method not in METHODS:
            raise ValueError(f"ModalityDiscretizer: method for modality {name!r} must be one of "
                             f"{METHODS}, got {method!r}")
        return method

    def _n_states_of(self, name: str, n_present: int) -> int:
        n = (self.n_states.get(name, "auto") if isinstance(self.n_states, dict)
             else self.n_states)
        if n == "auto":
            return int(max(AUTO_MIN_STATES, min(AUTO_MAX_STATES,
                                                n_present // AUTO_SAMPLES_PER_STATE)))
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 2:
            raise ValueError(f"ModalityDiscretizer: n_states for modality {name!r} must be an "
                             f"int >= 2, got {n!r}")
        return int(n)

    # -- fitting -----------------------------------------------------------------------
    def fit(self, X, y=None):
        """Fit every modality's transformer and quantiser on the samples that have it.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns or 2-D array
            One row per sample; columns as referenced in ``modalities``.
        y : array-like of shape (n_samples,) or None
            Class labels: needed by ``"supervised"``, and passed on to the
            transformers (so supervised transformers work too).

        Returns
        -------
        self : ModalityDiscretizer
        """
        self._fit(X, y)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then return the state of every modality for every sample.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns or 2-D array
        y : array-like of shape (n_samples,) or None
            Class labels (see :meth:`fit`).
        **fit_params : dict
            Not used; present for API compatibility.

        Returns
        -------
        states : pandas DataFrame of shape (n_samples, n_modalities)
            Float columns named after the modalities: state indices
            ``0 .. n_states_[name] - 1``, NaN where the modality is missing.
        """
        return self._fit(X, y)

    def _fit(self, X, y):
        self._validate_params()
        modalities = check_modalities(self.modalities, owner="ModalityDiscretizer")
        X = as_table(X)
        self._check_input(X, reset=True)
        rng = check_random_state(self.random_state)
        self.transformers_, self.quantizers_, self.n_states_ = {}, {}, {}
        self.state_descriptions_, self.feature_names_, self.n_missing_ = {}, {}, {}
        self.methods_ = {}
        out = {}
        verbose = resolve_verbose(self.verbose)
        for name, transformer, columns in tqdm(modalities, desc="discretising modalities",
                                               disable=verbose < 1):
            method = self._method_of(name)
            if method == "auto":
                method = "kmeans" if y is None else "supervised"
            self.methods_[name] = method
            block = select_modality(X, columns, name)
            missing = missing_modality_mask(block)
            present = np.flatnonzero(~missing)
            n_states = self._n_states_of(name, present.size)
            self.n_missing_[name] = int(missing.sum())
            if present.size == 0:
                raise ValueError(f"ModalityDiscretizer: modality {name!r} is missing in every "
                                 f"training sample; nothing to fit")
            if not _is_passthrough(transformer):
                transformer = clone(transformer)
            rows = take_rows(block, present)
            if _is_passthrough(transformer):
                features = _as_features(rows, name)
            else:
                features = _as_features(transformer.fit_transform(rows, _rows_of(y, present)),
                                        name)
            self.transformers_[name] = transformer
            self.feature_names_[name] = _feature_names(transformer, features.shape[1], name,
                                                       block)
            seed = int(rng.randint(np.iinfo(np.int32).max))
            if method == "supervised":
                quantizer, codes, descriptions = self._fit_supervised(
                    features, _rows_of(y, present), name)
            else:
                quantizer, codes, descriptions = _fit_quantizer(
                    method, n_states, features, self.feature_names_[name], self.n_top, name,
                    seed)
            self.quantizers_[name] = quantizer
            self.n_states_[name] = len(descriptions)
            self.state_descriptions_[name] = descriptions
            column = np.full(X.shape[0], np.nan)
            column[present] = codes
            out[name] = column
        return pd.DataFrame(out, index=_index_of(X))

    def _fit_supervised(self, features, y, name):
        if y is None:
            raise ValueError(f"ModalityDiscretizer: method='supervised' (modality {name!r}) "
                             "needs the class labels y in fit")
        y = np.asarray(y)
        if self.classifier is not None:
            classifier = clone(self.classifier)
        elif sp.issparse(features):
            classifier = make_pipeline(StandardScaler(with_mean=False),
                                       LogisticRegression(max_iter=1000))
        else:
            classifier = LinearDiscriminantAnalysis()
        splitter = check_cv(self.cv, y, classifier=True)
        out_of_fold = cross_val_predict(clone(classifier), features, y, cv=splitter)
        classifier.fit(features, y)
        classes = classifier.classes_
        codes = np.searchsorted(classes, out_of_fold).astype(float)
        names = self.feature_names_[name]
        last = classifier[-1] if isinstance(classifier, Pipeline) else classifier
        coef = getattr(last, "coef_", None)
        descriptions = []
        for k, label in enumerate(classes):
            weights = None
            if coef is not None and np.ndim(coef) == 2 and coef.shape[1] == len(names):
                if coef.shape[0] == len(classes):
                    weights = coef[k]
                elif coef.shape[0] == 1 and len(classes) == 2:  # binary: one coefficient row
                    weights = coef[0] if k == 1 else -coef[0]
            if weights is None:
                descriptions.append(str(label))
                continue
            top = [j for j in np.argsort(-weights, kind="stable")[:self.n_top] if weights[j] > 0]
            descriptions.append(f"{label}: " + ", ".join(str(names[j]) for j in top))
        return classifier, codes, descriptions

    def _check_input(self, X, *, reset: bool):
        from sklearn.utils.validation import _check_feature_names, _check_n_features

        if X.shape[0] == 0 or X.shape[1] == 0:
            # Same wording as sklearn's check_array.
            raise ValueError(f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} "
                             f"feature(s) (shape={X.shape}) while a minimum of 1 is required "
                             "by ModalityDiscretizer.")
        _check_feature_names(self, X, reset=reset)
        _check_n_features(self, X, reset=reset)

    # -- transforming ------------------------------------------------------------------
    def transform(self, X):
        """The state of every modality for every sample (NaN where the modality is missing).

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns or 2-D array
            One row per sample, with the columns seen in fit.

        Returns
        -------
        states : pandas DataFrame of shape (n_samples, n_modalities)
            Float columns named after the modalities, holding state indices.
        """
        check_is_fitted(self, "n_states_")
        X = as_table(X)
        self._check_input(X, reset=False)
        out = {}
        for name, _, columns in self.modalities:
            block = select_modality(X, columns, name)
            present = np.flatnonzero(~missing_modality_mask(block))
            column = np.full(X.shape[0], np.nan)
            if present.size:
                rows = take_rows(block, present)
                transformer = self.transformers_[name]
                features = _as_features(rows if _is_passthrough(transformer)
                                        else transformer.transform(rows), name)
                if features.shape[1] != len(self.feature_names_[name]):
                    raise ValueError(
                        f"ModalityDiscretizer: modality {name!r} gives {features.shape[1]} "
                        f"features, but {len(self.feature_names_[name])} were seen in fit")
                column[present] = _quantize(self.quantizers_[name], features)
            out[name] = column
        return pd.DataFrame(out, index=_index_of(X))

    def get_feature_names_out(self, input_features=None):
        """Output columns: one discrete variable per modality, named after it.

        Parameters
        ----------
        input_features : None
            Ignored; present for scikit-learn API compatibility.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "n_states_")
        return np.asarray(list(self.n_states_), dtype=object)

    def describe(self, name: str) -> pd.Series:
        """Readable description of every state of modality ``name``.

        Parameters
        ----------
        name : str
            A modality name.

        Returns
        -------
        descriptions : pandas Series
            Indexed by state (0, 1, ...), named after the modality.
        """
        check_is_fitted(self, "n_states_")
        if name not in self.state_descriptions_:
            raise KeyError(f"no modality {name!r}; modalities are {list(self.n_states_)}")
        descriptions = self.state_descriptions_[name]
        return pd.Series(descriptions, index=pd.RangeIndex(len(descriptions), name="state"),
                         name=name)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # An all-NaN modality is missing (NaN state); a partly NaN one is bad input.
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = self._modalities_accept_sparse()
        tags.transformer_tags.preserves_dtype = []  # a DataFrame of float states
        tags.requires_fit = True
        return tags


# -- helpers ---------------------------------------------------------------------------


def _is_passthrough(transformer) -> bool:
    return isinstance(transformer, str) and transformer == "passthrough"


def _index_of(X):
    return X.index if isinstance(X, pd.DataFrame) else None


def _rows_of(y, rows):
    return None if y is None else take_rows(np.asarray(y), rows)


def _as_features(features, name: str):
    """A finite float64 matrix (CSR when sparse) with one row per sample."""
    if isinstance(features, DescriptorSet):
        raise TypeError(
            f"ModalityDiscretizer: the transformer of modality {name!r} returns local "
            "descriptors (a DescriptorSet); add an encoder such as BagOfWords so that each "
            "sample becomes one fixed-length vector")
    if isinstance(features, (pd.Series, list, tuple)) or (
            isinstance(features, np.ndarray) and features.ndim == 1):
        features = np.asarray(features, dtype=float).reshape(-1, 1)
    try:
        return check_array(features, accept_sparse="csr", dtype=np.float64,
                           input_name=f"features of modality {name!r}")
    except ValueError as exc:
        raise ValueError(f"ModalityDiscretizer: modality {name!r}: {exc}") from exc


def _feature_names(transformer, n_features: int, name: str, block) -> np.ndarray:
    """The transformer's output names; for passthrough, the input's column names."""
    if _is_passthrough(transformer):
        if isinstance(block, pd.DataFrame) and block.shape[1] == n_features:
            return np.asarray([str(c) for c in block.columns], dtype=object)
        if isinstance(block, pd.Series) and n_features == 1 and block.name is not None:
            return np.asarray([str(block.name)], dtype=object)
    elif hasattr(transformer, "get_feature_names_out"):
        try:
            names = np.asarray(transformer.get_feature_names_out(), dtype=object)
            if names.shape == (n_features,):
                return names
        except (AttributeError, TypeError, ValueError):
            pass
    return np.asarray([f"{name}{j}" for j in range(n_features)], dtype=object)


def _dense_rows(features) -> np.ndarray:
    return features.toarray() if sp.issparse(features) else np.asarray(features)


def _fit_quantizer(method, n_states, features, names, n_top, modality, seed):
    """Fit one modality's quantiser; return it, the training codes and state descriptions."""
    n_samples, n_features = features.shape
    if method == "argmax":
        codes = _quantize(None, features)
        return None, codes, [str(n) for n in names]
    if method == "kmeans":
        if n_samples < n_states:
            raise ValueError(f"ModalityDiscretizer: modality {modality!r} has {n_samples} "
                             f"samples, fewer than n_states={n_states} k-means clusters")
        kmeans = KMeans(n_clusters=n_states, n_init=4, random_state=seed).fit(features)
        codes = kmeans.labels_.astype(float)
        centres = np.asarray(kmeans.cluster_centers_)
        mean = np.asarray(features.mean(axis=0)).ravel()
        descriptions = []
        for k in range(n_states):
            lift = centres[k] - mean
            top = np.argsort(-lift, kind="stable")[:n_top]
            top = [j for j in top if lift[j] > 0] or [int(np.argmax(centres[k]))]
            descriptions.append(", ".join(str(names[j]) for j in top))
        return kmeans, codes, descriptions
    # quantile bins of a scalar (or of the first principal component)
    dense = _dense_rows(features)
    projector = None
    label = str(names[0])
    if n_features > 1:
        projector = PCA(n_components=1, random_state=seed).fit(dense)
        label = f"{modality} PC1"
    scalar = dense if projector is None else projector.transform(dense)
    bins = KBinsDiscretizer(n_bins=n_states, encode="ordinal", strategy="quantile",
                            quantile_method="averaged_inverted_cdf")
    with warnings.catch_warnings():
        # "bins whose width are too small are removed": the merge is documented.
        warnings.simplefilter("ignore", UserWarning)
        bins.fit(scalar)
    quantizer = (projector, bins)
    edges = bins.bin_edges_[0]
    descriptions = [f"{label} in [{edges[i]:.3g}, {edges[i + 1]:.3g}"
                    + ("]" if i == len(edges) - 2 else ")") for i in range(len(edges) - 1)]
    return quantizer, _quantize(quantizer, features), descriptions


def _quantize(quantizer, features) -> np.ndarray:
    if quantizer is None:  # argmax
        dense = _dense_rows(features)
        return np.argmax(dense, axis=1).astype(float)
    if isinstance(quantizer, KMeans):
        return quantizer.predict(features).astype(float)
    if not isinstance(quantizer, tuple):  # a classifier: the index of its predicted class
        return np.searchsorted(quantizer.classes_, quantizer.predict(features)).astype(float)
    projector, bins = quantizer
    dense = _dense_rows(features)
    scalar = dense if projector is None else projector.transform(dense)
    return bins.transform(scalar)[:, 0].astype(float)
