"""Shared algorithm of the codebook encoders: sample descriptors, learn words, assign."""

from __future__ import annotations

from abc import abstractmethod
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from mmfuse._config import resolve_verbose
from mmfuse.backend import asarray, assign_nearest, get_namespace, squared_norms
from mmfuse.descriptors import DescriptorSet, as_descriptor_set


class BaseCodebookEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class: learns a k-means codebook on (sub-sampled) descriptors.

    Subclasses implement :meth:`_encode` (aggregation of the assigned
    descriptors) and ``_n_features_out``. Do not use this class directly.

    Parameters
    ----------
    n_words : int
        Number of codewords (visual / acoustic words).
    codebook : {"auto", "kmeans", "minibatch"}
        ``"kmeans"``: :class:`sklearn.cluster.KMeans`; ``"minibatch"``:
        :class:`sklearn.cluster.MiniBatchKMeans`; ``"auto"`` picks
        mini-batch when more than ``20_000`` descriptors are sampled.
    max_descriptors : int
        Cap on descriptors used to learn the codebook, sampled uniformly
        without replacement with ``random_state``.
    random_state : int, RandomState or None
        Seeds sub-sampling and k-means.
    verbose : int or None
        Passed to the k-means estimator; None uses ``mmfuse.get_config()``.
    """

    _parameter_constraints = {
        "n_words": [Interval(Integral, 1, None, closed="left")],
        "codebook": [StrOptions({"auto", "kmeans", "minibatch"})],
        "max_descriptors": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose", None],
    }

    _MINIBATCH_THRESHOLD = 20_000

    @abstractmethod
    def __init__(self, n_words, *, codebook, max_descriptors, random_state, verbose):
        self.n_words = n_words
        self.codebook = codebook
        self.max_descriptors = max_descriptors
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ------------------------------------------------------------
    def _sample_descriptors(self, ds: DescriptorSet, rng) -> np.ndarray:
        n_total = ds.values.shape[0]
        if n_total <= self.max_descriptors:
            return ds.values
        rows = np.sort(rng.choice(n_total, size=self.max_descriptors, replace=False))
        return ds.values[rows]

    def _fit_codebook(self, sample: np.ndarray, seed: int) -> np.ndarray:
        if sample.shape[0] < self.n_words:
            raise ValueError(
                f"{type(self).__name__} needs at least n_words={self.n_words} descriptors to "
                f"learn a codebook, got {sample.shape[0]}; lower n_words or give more data"
            )
        kind = self.codebook
        if kind == "auto":
            kind = "minibatch" if sample.shape[0] > self._MINIBATCH_THRESHOLD else "kmeans"
        verbose = max(resolve_verbose(self.verbose) - 1, 0)
        if kind == "kmeans":
            km = KMeans(n_clusters=self.n_words, n_init=1, random_state=seed, verbose=verbose)
        else:
            km = MiniBatchKMeans(n_clusters=self.n_words, n_init=3, batch_size=4096,
                                 random_state=seed, verbose=verbose)
        km.fit(sample)
        self.codebook_estimator_ = km
        return np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)

    def _validate_descriptors(self, X, *, reset: bool) -> DescriptorSet:
        ds = as_descriptor_set(X)
        if reset:
            self.n_features_in_ = ds.n_features
        elif ds.n_features != self.n_features_in_:
            raise ValueError(
                f"descriptors have {ds.n_features} features, but {type(self).__name__} was "
                f"fitted with {self.n_features_in_}"
            )
        if ds.values.size and not np.all(np.isfinite(ds.values)):
            bad = np.unique(ds.sample_ids()[~np.all(np.isfinite(ds.values), axis=1)])
            raise ValueError(
                f"descriptors contain NaN or inf in samples {bad[:10].tolist()}"
                + (" ..." if bad.size > 10 else "")
            )
        return ds

    def fit(self, X, y=None):
        """Learn the codebook from the descriptors of all samples.

        Parameters
        ----------
        X : DescriptorSet or list of arrays of shape (n_i, n_features)
            Local descriptors per sample.
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        ds = self._validate_descriptors(X, reset=True)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        sample = self._sample_descriptors(ds, rng)
        self.cluster_centers_ = self._fit_codebook(sample, seed)
        self._fit_aggregation(ds, sample)
        return self

    def _fit_aggregation(self, ds: DescriptorSet, sample: np.ndarray) -> None:
        """Hook for subclasses that learn more than the codebook (e.g. idf)."""

    # -- encoding -----------------------------------------------------------
    def _assign(self, ds: DescriptorSet):
        """Nearest codeword of every descriptor, on the configured device.

        Returns ``(xp, values, labels)`` with arrays in namespace ``xp``.
        """
        xp, _ = get_namespace()
        values = asarray(ds.values, xp)
        centers = asarray(self.cluster_centers_, xp)
        labels = assign_nearest(values, centers, centers_sq=squared_norms(centers),
                                return_distances=False)
        return xp, values, labels

    def transform(self, X):
        """Encode each sample's descriptors as one fixed-length vector.

        Parameters
        ----------
        X : DescriptorSet or list of arrays of shape (n_i, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features_out)
            float32; samples without descriptors encode to zeros.
        """
        check_is_fitted(self, "cluster_centers_")
        ds = self._validate_descriptors(X, reset=False)
        return self._encode(ds)

    @abstractmethod
    def _encode(self, ds: DescriptorSet) -> np.ndarray:
        """Aggregate the descriptors of each sample."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags
