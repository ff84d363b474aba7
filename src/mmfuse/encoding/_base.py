"""Shared algorithm of the codebook encoders: sample descriptors, learn words, assign."""

from __future__ import annotations

from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from mmfuse._config import get_config, resolve_verbose
from mmfuse.backend import (
    asarray,
    assign_nearest,
    get_namespace,
    kmeans_codebook,
    soft_assign,
    squared_norms,
    to_output,
)
from mmfuse.descriptors import DescriptorSet, as_descriptor_set
from mmfuse.utils._memory import check_output_size

#: Rows whose norms are computed at once when looking for flat descriptors:
#: bounds the temporary to a few MiB whatever the number of descriptors.
_NORM_CHUNK = 1 << 18


def flat_mask(values: np.ndarray, min_norm: float) -> np.ndarray:
    """True for the rows of ``values`` whose L2 norm is below ``min_norm``.

    These are the *flat* descriptors: SIFT of a featureless patch (sky,
    a letterbox border, an all-black image) is all zeros, and so is any
    descriptor that :class:`~mmfuse.encoding.DescriptorPCA` kept flat.
    ``min_norm=0`` marks nothing.
    """
    flat = np.zeros(values.shape[0], dtype=bool)
    if min_norm <= 0:
        return flat
    threshold = np.float32(min_norm) ** 2
    for start in range(0, values.shape[0], _NORM_CHUNK):
        block = values[start:start + _NORM_CHUNK]
        flat[start:start + _NORM_CHUNK] = np.einsum("ij,ij->i", block, block) < threshold
    return flat


def drop_flat(ds: DescriptorSet, min_norm: float, flat=None) -> DescriptorSet:
    """``ds`` without its flat descriptors (see :func:`flat_mask`; ``flat``: that
    mask, when already computed); ``ds`` itself when it has none. Samples keep
    their order, extents and missing flags; a sample whose descriptors were all
    flat ends with none."""
    flat = flat_mask(ds.values, min_norm) if flat is None else flat
    if not flat.any():
        return ds
    keep = ~flat
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    return DescriptorSet(
        ds.values[keep], kept_before[ds.offsets],
        positions=None if ds.positions is None else ds.positions[keep],
        extents=ds.extents, missing=ds.missing,
    )


def sample_descriptors(ds: DescriptorSet, max_descriptors: int, rng,
                       min_norm: float = 0.0) -> tuple[np.ndarray, int]:
    """At most ``max_descriptors`` non-flat rows of ``ds.values``, uniformly
    without replacement (kept in their original order); all of them when
    fewer. Returns ``(sample, n_flat)``, ``n_flat`` the number of flat rows
    (norm below ``min_norm``) of ``ds`` left out of the draw."""
    flat = flat_mask(ds.values, min_norm)
    n_flat = int(flat.sum())
    if n_flat == 0:
        n_total = ds.values.shape[0]
        if n_total <= max_descriptors:
            return ds.values, 0
        rows = np.sort(rng.choice(n_total, size=max_descriptors, replace=False))
        return ds.values[rows], 0
    candidates = np.flatnonzero(~flat)
    if candidates.size > max_descriptors:
        candidates = candidates[np.sort(rng.choice(candidates.size, size=max_descriptors,
                                                   replace=False))]
    return ds.values[candidates], n_flat


def validate_descriptors(estimator, X, *, reset: bool) -> DescriptorSet:
    """Check a descriptor-set input (width, finiteness) for ``estimator``."""
    ds = as_descriptor_set(X)
    if reset:
        estimator.n_features_in_ = ds.n_features
    elif ds.n_features != estimator.n_features_in_:
        raise ValueError(
            f"descriptors have {ds.n_features} features, but {type(estimator).__name__} was "
            f"fitted with {estimator.n_features_in_}"
        )
    # row sums by one BLAS GEMV (several times faster than a NumPy reduction):
    # NaN and inf propagate into them, and no full-size boolean temporary is
    # made; a sum that overflowed without a bad value is told apart below
    values = ds.values
    if values.size and not np.isfinite(values @ np.ones(values.shape[1], values.dtype)).all():
        bad = np.unique(ds.sample_ids()[~np.all(np.isfinite(values), axis=1)])
    else:
        bad = np.empty(0, dtype=np.int64)
    if bad.size:
        raise ValueError(
            f"descriptors contain NaN or inf in samples {bad[:10].tolist()}"
            + (" ..." if bad.size > 10 else "")
        )
    return ds


def sample_ranges(offsets: np.ndarray, max_descriptors: int, max_samples: int):
    """Contiguous ``(start, stop)`` sample ranges of a CSR layout, each holding at
    most ``max_descriptors`` descriptors (or one sample, if larger) and at most
    ``max_samples`` samples (at least one)."""
    n = offsets.shape[0] - 1
    max_samples = max(1, int(max_samples))
    start = 0
    while start < n:
        stop = int(np.searchsorted(offsets, offsets[start] + max_descriptors, side="right")) - 1
        stop = min(max(stop, start + 1), start + max_samples, n)
        yield start, stop
        start = stop


def slice_samples(ds: DescriptorSet, start: int, stop: int) -> DescriptorSet:
    """Samples ``start:stop`` of ``ds`` as views where possible (no gather)."""
    a, b = int(ds.offsets[start]), int(ds.offsets[stop])
    return DescriptorSet(
        ds.values[a:b],
        ds.offsets[start:stop + 1] - a,
        positions=None if ds.positions is None else ds.positions[a:b],
        extents=None if ds.extents is None else ds.extents[start:stop],
        missing=ds.missing[start:stop],
    )


def normalize_rows(codes, norm, xp):
    """Scale each row to unit ``"l1"`` or ``"l2"`` norm in place (None: no-op).

    All-zero rows (samples without descriptors) stay zero.
    """
    if norm is None:
        return codes
    if norm == "l1":
        scale = xp.abs(codes).sum(axis=1, keepdims=True)
    elif norm == "l2":  # einsum: no squared copy of the codes
        scale = xp.sqrt(xp.einsum("ij,ij->i", codes, codes))[:, None]
    else:
        raise ValueError(f"unknown norm {norm!r}")
    codes /= xp.where(scale > 0, scale, 1)
    return codes


def signed_sqrt(codes, xp):
    """``sign(x) * sqrt(|x|)`` in place (the "power" / Hellinger step)."""
    magnitude = xp.sqrt(xp.abs(codes))
    xp.copysign(magnitude, codes, out=codes)
    return codes


class BaseCodebookEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class: learns a k-means codebook on (sub-sampled) descriptors.

    The base class holds the shared algorithm: sub-sampling of the training
    descriptors, codebook learning (:meth:`_fit_codebook`, k-means by
    default), nearest-codeword assignment (hard or soft, on the backend
    kernels) and batched, progress-reporting encoding. Subclasses implement
    :meth:`_per_descriptor` (assignments, posteriors), :meth:`_statistics`
    (additive per-sample statistics), :meth:`_finish` (codes from them) and
    ``_n_features_out``; they may override :meth:`_descriptor_statistics`
    (both halves fused), :meth:`_fit_codebook` (a Fisher
    vector learns a Gaussian mixture), :meth:`_partial_fit_codebook` (its
    out-of-core counterpart) and :meth:`_fit_aggregation`. Do not use this
    class directly.

    Parameters
    ----------
    n_words : int
        Number of codewords (visual / acoustic words).
    codebook : {"auto", "kmeans", "minibatch"}
        ``"kmeans"``: :class:`sklearn.cluster.KMeans`; ``"minibatch"``:
        :class:`sklearn.cluster.MiniBatchKMeans`; ``"auto"`` picks
        mini-batch when more than ``20_000`` descriptors are sampled. On a
        GPU (``mmfuse.config_context(device="gpu")``) ``"auto"`` and
        ``"kmeans"`` run Lloyd's iterations there instead
        (:func:`mmfuse.backend.kmeans_codebook`: the same k-means++ start and
        stopping rule as ``KMeans``), and ``codebook_estimator_`` is None.
    max_descriptors : int or "auto"
        Cap on descriptors used to learn the codebook, sampled uniformly
        without replacement with ``random_state``. ``"auto"`` is
        ``min(256 * n_words, 100_000)``: 256 points per codeword is faiss'
        ``max_points_per_centroid``; more move the centres by less than the
        sampling noise and cost fit time in proportion. The cap in use is
        ``max_descriptors_``.
    random_state : int, RandomState or None
        Seeds sub-sampling and k-means.
    verbose : int or None
        0 silent; 1 shows a progress bar while encoding; 2 and more also
        makes the clustering verbose. None uses ``mmfuse.get_config()``.
    min_norm : float
        Descriptors with an L2 norm below it are *flat* and take no part,
        neither in learning the codebook nor in encoding; 0 keeps them all.
        See "Flat descriptors" below.

    Notes
    -----
    **Flat descriptors.** Dense SIFT of a featureless patch (sky, a
    letterbox border, an all-black or all-white image) is all zeros, and
    real photographs have many of them (a letterboxed photo can be 60% flat
    patches). Identical descriptors are a point mass: a k-means centre or a
    Gaussian component collapses onto it, and the mixture's variances
    become zero. They carry no gradient information either, so the encoders
    leave them out: they are not sampled for the codebook (their number in
    the fitted data is ``n_flat_descriptors_``) and they cast no vote when
    encoding, exactly as if the patch had not been described. A sample
    whose descriptors are all flat encodes to zeros, like a sample without
    descriptors. :class:`~mmfuse.encoding.DescriptorPCA` keeps flat
    descriptors flat (zero) so that the rule still applies after it.
    """

    _parameter_constraints = {
        "n_words": [Interval(Integral, 1, None, closed="left")],
        "codebook": [StrOptions({"auto", "kmeans", "minibatch"})],
        "max_descriptors": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "random_state": ["random_state"],
        "verbose": ["verbose", None],
        "min_norm": [Interval(Real, 0, None, closed="left")],
    }

    _MINIBATCH_THRESHOLD = 20_000
    #: Descriptors per codeword that ``max_descriptors="auto"`` samples.
    _AUTO_POINTS_PER_WORD = 256
    #: ... and at most this many (the fixed default before "auto").
    _AUTO_MAX_DESCRIPTORS = 100_000
    #: Named in the error that refuses an output too large for the memory.
    _SHRINK_OUTPUT = "a smaller n_words"
    #: Descriptors encoded per batch: bounds the per-batch temporaries (for
    #: example Fisher-vector posteriors) and paces the progress bar.
    _BATCH_DESCRIPTORS = 1 << 16
    #: ... and at most this many bytes of codes (many small samples, such as
    #: the cells of a spatial pyramid, would otherwise make a batch's codes
    #: and their temporaries as large as the whole output).
    _BATCH_OUTPUT_BYTES = 16 << 20

    @abstractmethod
    def __init__(self, n_words, *, codebook, max_descriptors, random_state, verbose, min_norm):
        self.n_words = n_words
        self.codebook = codebook
        self.max_descriptors = max_descriptors
        self.random_state = random_state
        self.verbose = verbose
        self.min_norm = min_norm

    # -- fitting ------------------------------------------------------------
    def _sample_descriptors(self, ds: DescriptorSet, rng) -> np.ndarray:
        """The codebook's training sample, flat descriptors left out and counted
        in ``n_flat_descriptors_`` (added up over :meth:`partial_fit` calls)."""
        self.max_descriptors_ = (
            min(self._AUTO_POINTS_PER_WORD * self.n_words, self._AUTO_MAX_DESCRIPTORS)
            if self.max_descriptors == "auto" else self.max_descriptors)
        sample, n_flat = sample_descriptors(ds, self.max_descriptors_, rng, self.min_norm)
        self.n_flat_descriptors_ = getattr(self, "n_flat_descriptors_", 0) + n_flat
        return sample

    def _check_enough(self, sample: np.ndarray) -> None:
        if sample.shape[0] < self.n_words:
            n_flat = getattr(self, "n_flat_descriptors_", 0)
            flat = (f" ({n_flat} flat descriptors, norm < min_norm={self.min_norm}, were "
                    "left out: featureless images or patches)" if n_flat else "")
            raise ValueError(
                f"{type(self).__name__} needs at least n_words={self.n_words} descriptors to "
                f"learn a codebook, got {sample.shape[0]}{flat}; lower n_words or give more data"
            )

    def _fit_codebook(self, sample: np.ndarray, seed: int) -> np.ndarray:
        """Learn the codewords from the sampled descriptors; return them."""
        self._check_enough(sample)
        kind = self.codebook
        verbose = max(resolve_verbose(self.verbose) - 1, 0)
        if kind != "minibatch" and get_namespace()[1] == "gpu":
            # Lloyd on the GPU from KMeans's own k-means++ draws: the same codebook
            centers, _, _ = kmeans_codebook(sample, self.n_words, random_state=seed,
                                            verbose=verbose)
            self.codebook_estimator_ = None
            return np.ascontiguousarray(centers, dtype=np.float32)
        if kind == "auto":
            kind = "minibatch" if sample.shape[0] > self._MINIBATCH_THRESHOLD else "kmeans"
        if kind == "kmeans":
            km = KMeans(n_clusters=self.n_words, n_init=1, random_state=seed, verbose=verbose)
        else:
            km = MiniBatchKMeans(n_clusters=self.n_words, n_init=3, batch_size=4096,
                                 random_state=seed, verbose=verbose)
        km.fit(sample)
        self.codebook_estimator_ = km
        return np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)

    def _validate_descriptors(self, X, *, reset: bool) -> DescriptorSet:
        return validate_descriptors(self, X, reset=reset)

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
        self.n_flat_descriptors_ = 0
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        sample = self._sample_descriptors(ds, rng)
        self.cluster_centers_ = self._fit_codebook(sample, seed)
        self._fit_aggregation(ds, sample)
        return self

    def _fit_aggregation(self, ds: DescriptorSet, sample: np.ndarray) -> None:
        """Hook for subclasses that learn more than the codebook (e.g. idf)."""

    # -- out-of-core fitting -------------------------------------------------
    def partial_fit(self, X, y=None):
        """Update the codebook with one more batch of samples (out-of-core learning).

        Call it once per batch (for example per shard of
        :func:`mmfuse.parallel.iter_shards`) when all descriptors do not fit
        in memory together. A k-means codebook (:class:`BagOfWords`,
        :class:`VLAD`) is a :class:`sklearn.cluster.MiniBatchKMeans`
        (``n_init=3``, seeded from ``random_state`` as in :meth:`fit`)
        updated with its own ``partial_fit``; after :meth:`fit` it starts
        from the fitted codewords. :class:`FisherVector` updates its Gaussian
        mixture by incremental EM instead. Each call learns from at most
        ``max_descriptors`` descriptors of its batch, sub-sampled as in
        :meth:`fit`; the first batch needs at least ``n_words`` descriptors.
        ``codebook`` is not used. Statistics learned besides the codebook (a
        bag-of-words' soft-assignment bandwidth and idf) are estimated on the
        latest batch.

        Parameters
        ----------
        X : DescriptorSet or list of arrays of shape (n_i, n_features)
            One batch of samples.
        y : ignored

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> from mmfuse.encoding import BagOfWords
        >>> rng = np.random.default_rng(0)
        >>> bow = BagOfWords(n_words=4, random_state=0)
        >>> for _ in range(3):  # e.g. one batch per shard on disk
        ...     _ = bow.partial_fit([rng.normal(size=(20, 8)) for _ in range(5)])
        >>> bow.cluster_centers_.shape
        (4, 8)
        >>> bow.transform([rng.normal(size=(10, 8))]).sum().round(6)
        np.float32(1.0)
        """
        self._validate_params()
        first = not hasattr(self, "cluster_centers_")
        ds = self._validate_descriptors(X, reset=first)
        if first:
            self.n_flat_descriptors_ = 0
        if first or not hasattr(self, "_partial_rng"):
            self._partial_rng = check_random_state(self.random_state)
            self._partial_seed = int(self._partial_rng.randint(np.iinfo(np.int32).max))
        sample = self._sample_descriptors(ds, self._partial_rng)
        self.cluster_centers_ = self._partial_fit_codebook(sample, self._partial_seed)
        self._fit_aggregation(ds, sample)
        return self

    def _partial_fit_codebook(self, sample: np.ndarray, seed: int) -> np.ndarray:
        """Update the codewords with one more batch of descriptors; return them."""
        km = getattr(self, "codebook_estimator_", None)
        if not isinstance(km, MiniBatchKMeans):
            if km is None:
                self._check_enough(sample)
            km = MiniBatchKMeans(
                n_clusters=self.n_words, random_state=seed,
                init="k-means++" if km is None else self.cluster_centers_,
                n_init=3 if km is None else 1,
                verbose=max(resolve_verbose(self.verbose) - 1, 0))
        km.partial_fit(sample)
        self.codebook_estimator_ = km
        return np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)

    # -- assignment (shared by every subclass) -------------------------------
    def _device_arrays(self, ds: DescriptorSet):
        """``(xp, values, offsets, centers)`` on the configured device."""
        xp, _ = get_namespace()
        return (xp, asarray(ds.values, xp), asarray(ds.offsets, xp),
                asarray(self.cluster_centers_, xp))

    def _assign(self, ds: DescriptorSet):
        """Nearest codeword of every descriptor, on the configured device.

        Returns ``(xp, values, labels)`` with arrays in namespace ``xp``.
        """
        xp, values, _, centers = self._device_arrays(ds)
        labels = assign_nearest(values, centers, centers_sq=squared_norms(centers),
                                return_distances=False)
        return xp, values, labels

    def _soft_assign(self, ds: DescriptorSet, n_nearest: int, bandwidth: float):
        """Kernel-codebook votes: ``(xp, values, labels (n, m), weights (n, m))``."""
        xp, values, _, centers = self._device_arrays(ds)
        labels, weights = soft_assign(values, centers, n_nearest=n_nearest,
                                      bandwidth=bandwidth, centers_sq=squared_norms(centers))
        return xp, values, labels, weights

    # -- encoding -----------------------------------------------------------
    def _batches(self, ds: DescriptorSet):
        """Contiguous sample ranges holding about ``_BATCH_DESCRIPTORS`` rows and at
        most ``_BATCH_OUTPUT_BYTES`` of codes."""
        return sample_ranges(ds.offsets, self._BATCH_DESCRIPTORS,
                             self._BATCH_OUTPUT_BYTES // (4 * self._n_features_out))

    def _encode_all(self, ds: DescriptorSet):
        """Encode ``ds`` batch by batch with a progress bar, each batch's codes
        written once into one preallocated float32 output."""
        n_out = self._n_features_out
        check_output_size(ds.n_samples, n_out, owner=type(self).__name__,
                          shrink=self._SHRINK_OUTPUT)
        on_device = get_config()["array_output"] == "device"
        xp = get_namespace()[0] if on_device else np
        codes = xp.empty((ds.n_samples, n_out), dtype=xp.float32)
        with tqdm(total=ds.n_samples, desc=type(self).__name__, unit="sample",
                  disable=resolve_verbose(self.verbose) < 1) as bar:
            for start, stop in self._batches(ds):
                batch = slice_samples(ds, start, stop)
                # flat descriptors are skipped by row index, not copied out
                flat = flat_mask(batch.values, self.min_norm)
                offsets, rows = batch.offsets, None
                if flat.any():
                    rows = np.flatnonzero(~flat)
                    offsets = np.concatenate([[0], np.cumsum(~flat)])[batch.offsets]
                codes[start:stop] = self._codes(
                    self._descriptor_statistics(batch.values, offsets, rows), offsets)
                bar.update(stop - start)
        return codes

    @property
    def n_features_out_(self) -> int:
        """Width of the codes :meth:`transform` returns (known once fitted)."""
        check_is_fitted(self, "cluster_centers_")
        return self._n_features_out

    def transform(self, X):
        """Encode each sample's descriptors as one fixed-length vector.

        Parameters
        ----------
        X : DescriptorSet or list of arrays of shape (n_i, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features_out)
            float32; samples without descriptors encode to zeros.

        Notes
        -----
        Peak extra memory: the output, written batch by batch (about
        ``_BATCH_DESCRIPTORS = 65,536`` descriptors), plus one batch's
        working set: its assignments or posteriors (``65,536 x n_words``
        values) and its codes (at most ``_BATCH_OUTPUT_BYTES = 16 MiB``, a
        few times over in temporaries). An output larger than ``max_output_memory``
        of the available memory is refused before allocation
        (:func:`mmfuse.set_config`).
        """
        check_is_fitted(self, "cluster_centers_")
        ds = self._validate_descriptors(X, reset=False)
        return self._encode_all(ds)

    def _codes(self, stats, offsets):
        """Codes (:meth:`_finish`) of additive statistics whose samples have the CSR
        ``offsets``: a float32 array passed through :func:`mmfuse.backend.to_output`."""
        xp = get_namespace()[0]
        return self._finish(stats, xp.diff(asarray(offsets, xp)))

    def _encode(self, ds: DescriptorSet, shared):
        """Codes of one batch from its shared per-descriptor work (``ds`` and
        ``shared`` as :meth:`_per_descriptor` returned them)."""
        return self._codes(self._statistics(ds, shared), ds.offsets)

    def _descriptor_statistics(self, values, offsets, rows=None):
        """:meth:`_statistics` straight from non-flat descriptors: sample ``i`` is
        rows ``offsets[i]:offsets[i + 1]`` of ``values`` (of ``values[rows]`` when
        ``rows`` is given). The per-descriptor work and the aggregation; an
        encoder may fuse the two (:class:`FisherVector` does) so that no
        per-descriptor array is kept."""
        ds = DescriptorSet(values if rows is None else values[rows], offsets)
        return self._statistics(*self._per_descriptor(ds))

    @abstractmethod
    def _per_descriptor(self, ds: DescriptorSet):
        """``(ds, shared)``: the per-descriptor work (assignments, posteriors), which
        :class:`SpatialPyramid` computes once and shares between its levels."""

    @abstractmethod
    def _statistics(self, ds: DescriptorSet, shared):
        """Per-sample statistics that add up over a partition of the descriptors
        (summed over cells, they are the statistics of the union)."""

    @abstractmethod
    def _finish(self, stats, lengths):
        """Codes from :meth:`_statistics` and the descriptors per sample."""

    @staticmethod
    def _output(codes, xp):
        return to_output(codes.astype(xp.float32, copy=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags
