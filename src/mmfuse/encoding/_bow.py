"""Bag of (visual or acoustic) words: histograms of nearest codewords."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.utils._param_validation import Interval, StrOptions

from mmfuse.backend import (
    asarray,
    assign_nearest,
    get_namespace,
    segment_histogram,
    to_numpy,
)
from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding._base import (
    BaseCodebookEncoder,
    normalize_rows,
    signed_sqrt,
    slice_samples,
)


class BagOfWords(BaseCodebookEncoder):
    """Bag-of-words encoder: a normalised histogram of (soft) codeword votes.

    Learns a k-means codebook of ``n_words`` codewords from (sub-sampled)
    local descriptors of any modality (SIFT keypoints, MFCC frames), then
    encodes each sample as the histogram of its descriptors' codewords.
    Assignment and histograms run on the backend kernels (CPU, or GPU under
    ``mmfuse.config_context(device="gpu")``).

    Each descriptor votes for its nearest codeword (``assignment="hard"``) or
    spreads a unit vote over its ``n_nearest`` nearest codewords with
    Gaussian-kernel weights (``assignment="soft"``, the kernel codebook of
    van Gemert et al. 2010, localised as in Liu et al. 2011), which makes
    the histogram less sensitive to descriptors lying between codewords.
    Optional tf-idf weighting down-weights words that occur in most
    training samples. The histogram is then normalised.

    Parameters
    ----------
    n_words : int, default=256
        Codebook size (number of histogram bins).
    norm : {"l1", "l2", "power"} or None, default="l1"
        Normalisation of each histogram: unit L1 (word frequencies), unit L2,
        or ``"power"``: element-wise square root then unit L2 (the Hellinger
        map, which makes a linear classifier behave like one on the
        Bhattacharyya kernel). Samples without descriptors (no keypoints, or
        a missing modality) encode to all zeros under every norm.
    assignment : {"hard", "soft"}, default="hard"
        Nearest codeword only, or kernel-codebook weights over the
        ``n_nearest`` nearest codewords.
    n_nearest : int, default=5
        Soft assignment: codewords each descriptor votes for.
    bandwidth : float or None, default=None
        Soft assignment: kernel width sigma in
        ``exp(-|x - c|^2 / (2 sigma^2))``. None learns it at fit time as the
        median distance of the training descriptors to their nearest
        codeword (stored in ``bandwidth_``).
    tfidf : bool, default=False
        Multiply the word counts by the smoothed inverse document frequency
        ``idf_k = ln((1 + n) / (1 + df_k)) + 1`` learned at fit time (as
        :class:`sklearn.feature_extraction.text.TfidfTransformer` does, ``df_k``
        being the number of training samples using word ``k``), before
        normalisation.
    codebook : {"auto", "kmeans", "minibatch"}, default="auto"
        Clustering used to learn the codebook (see
        :class:`~mmfuse.encoding.BaseCodebookEncoder`).
    max_descriptors : int or "auto", default="auto"
        Cap on the number of descriptors the codebook is learned from;
        ``"auto"`` is ``min(256 * n_words, 100_000)`` (see
        :class:`~mmfuse.encoding.BaseCodebookEncoder`).
    random_state : int, RandomState instance or None, default=None
        Controls sub-sampling and k-means initialisation.
    verbose : int or None, default=None
        Verbosity; None uses ``mmfuse.get_config()["verbose"]``.
    min_norm : float, default=1e-6
        Descriptors with an L2 norm below it are flat (SIFT of a featureless
        patch is all zeros): left out of codebook learning and of encoding.
        0 keeps every descriptor. See Notes.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_words, n_features_in_)
        The codebook (float32).
    codebook_estimator_ : KMeans or MiniBatchKMeans
        The fitted clustering estimator.
    bandwidth_ : float
        Kernel width used for soft assignment (None for hard).
    idf_ : ndarray of shape (n_words,) or None
        Inverse document frequencies (``tfidf=True``).
    max_descriptors_ : int
        The cap on codebook-learning descriptors in use.
    n_flat_descriptors_ : int
        Flat descriptors (norm < ``min_norm``) in the data the codebook was
        fitted on, left out of it.
    n_features_in_ : int
        Descriptor dimension seen during fit.

    Notes
    -----
    **Flat descriptors.** Featureless patches (sky, letterbox borders,
    all-black images) give all-zero SIFT descriptors. They are left out of
    codebook learning (counted in ``n_flat_descriptors_``), where their point
    mass would capture a codeword or collapse a mixture component, and cast
    no vote when encoding; a sample with only flat descriptors encodes to
    zeros. Set ``min_norm=0`` to keep them.

    See Also
    --------
    mmfuse.image.SIFTExtractor : produces descriptor sets from images.
    VLAD, FisherVector : richer encodings of the same descriptors.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.encoding import BagOfWords
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(size=(n, 8)) for n in (30, 0, 12)]
    >>> bow = BagOfWords(n_words=4, random_state=0).fit(sets)
    >>> codes = bow.transform(sets)
    >>> codes.shape
    (3, 4)
    >>> codes.sum(axis=1).round(6).tolist()
    [1.0, 0.0, 1.0]
    >>> soft = BagOfWords(n_words=4, assignment="soft", n_nearest=2, tfidf=True,
    ...                   norm="power", random_state=0).fit(sets)
    >>> (soft.transform(sets) ** 2).sum(axis=1).round(6).tolist()
    [1.0, 0.0, 1.0]
    """

    _parameter_constraints = {
        **BaseCodebookEncoder._parameter_constraints,
        "norm": [StrOptions({"l1", "l2", "power"}), None],
        "assignment": [StrOptions({"hard", "soft"})],
        "n_nearest": [Interval(Integral, 1, None, closed="left")],
        "bandwidth": [Interval(Real, 0, None, closed="neither"), None],
        "tfidf": ["boolean"],
    }

    def __init__(self, n_words=256, *, norm="l1", assignment="hard", n_nearest=5,
                 bandwidth=None, tfidf=False, codebook="auto", max_descriptors="auto",
                 random_state=None, verbose=None, min_norm=1e-6):
        super().__init__(n_words, codebook=codebook, max_descriptors=max_descriptors,
                         random_state=random_state, verbose=verbose,
                         min_norm=min_norm)
        self.norm = norm
        self.assignment = assignment
        self.n_nearest = n_nearest
        self.bandwidth = bandwidth
        self.tfidf = tfidf

    @property
    def _n_features_out(self):
        return self.n_words

    def _fit_aggregation(self, ds: DescriptorSet, sample: np.ndarray) -> None:
        self.bandwidth_ = None
        if self.assignment == "soft":
            if self.bandwidth is None:
                _, d2 = assign_nearest(sample, self.cluster_centers_)
                median = float(np.sqrt(np.median(d2)))
                # identical descriptors and codewords: any positive width works
                self.bandwidth_ = median if median > 0 else 1.0
            else:
                self.bandwidth_ = float(self.bandwidth)
        self.idf_ = None
        if self.tfidf:
            counts = np.concatenate(
                [to_numpy(self._histograms(slice_samples(ds, a, b))[1])
                 for a, b in self._batches(ds)] or [np.zeros((0, self.n_words), np.float32)])
            tfidf = TfidfTransformer(norm=None, use_idf=True, smooth_idf=True).fit(counts)
            self.idf_ = tfidf.idf_.astype(np.float32)

    def _per_descriptor(self, ds: DescriptorSet):
        """``(ds, (labels, weights))``: the assignment half of :meth:`_encode` (weights
        None for hard assignment), which :class:`SpatialPyramid` computes once and
        shares between its levels."""
        if self.assignment == "soft":
            _, _, labels, weights = self._soft_assign(ds, self.n_nearest, self.bandwidth_)
        else:
            _, _, labels = self._assign(ds)
            weights = None
        return ds, (labels, weights)

    def _histograms(self, ds: DescriptorSet, shared=None):
        """``(xp, hist)``: raw (soft) word counts of each sample."""
        if shared is None:
            _, shared = self._per_descriptor(ds)
        labels, weights = shared
        xp = np if isinstance(labels, np.ndarray) else get_namespace()[0]
        offsets = xp.asarray(ds.offsets)
        return xp, segment_histogram(labels, offsets, self.n_words, weights=weights)

    def _statistics(self, ds: DescriptorSet, shared):
        """Additive per-segment statistics (summed over cells, they give the statistics
        of the union): the raw (soft) word counts."""
        return (self._histograms(ds, shared)[1],)

    def _finish(self, stats, lengths):
        """Codes from :meth:`_statistics` (``lengths`` is not needed)."""
        (hist,) = stats
        xp = np if isinstance(hist, np.ndarray) else get_namespace()[0]
        hist = hist.astype(xp.float32, copy=False)
        if self.idf_ is not None:
            hist *= asarray(self.idf_, xp)
        if self.norm == "power":
            hist = normalize_rows(signed_sqrt(hist, xp), "l2", xp)
        else:
            hist = normalize_rows(hist, self.norm, xp)
        return self._output(hist, xp)
