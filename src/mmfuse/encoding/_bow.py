"""Bag of (visual or acoustic) words: histograms of nearest codewords."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from mmfuse.backend import segment_histogram, to_output
from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding._base import BaseCodebookEncoder


class BagOfWords(BaseCodebookEncoder):
    """Bag-of-words encoder: a normalised histogram of nearest codewords.

    Learns a k-means codebook of ``n_words`` codewords from (sub-sampled)
    local descriptors of any modality (SIFT keypoints, MFCC frames), then
    encodes each sample as the histogram of its descriptors' nearest
    codewords. Assignment and histograms run on the backend kernels
    (CPU, or GPU under ``mmfuse.config_context(device="gpu")``).

    Parameters
    ----------
    n_words : int, default=256
        Codebook size (number of histogram bins).
    norm : {"l1", "l2"} or None, default="l1"
        Normalisation of each histogram. Samples without descriptors (no
        keypoints, or a missing modality) encode to all zeros under every
        norm.
    codebook : {"auto", "kmeans", "minibatch"}, default="auto"
        Clustering used to learn the codebook (see
        :class:`~mmfuse.encoding.BaseCodebookEncoder`).
    max_descriptors : int, default=100_000
        Cap on the number of descriptors the codebook is learned from.
    random_state : int, RandomState instance or None, default=None
        Controls sub-sampling and k-means initialisation.
    verbose : int or None, default=None
        Verbosity; None uses ``mmfuse.get_config()["verbose"]``.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_words, n_features_in_)
        The codebook (float32).
    codebook_estimator_ : KMeans or MiniBatchKMeans
        The fitted clustering estimator.
    n_features_in_ : int
        Descriptor dimension seen during fit.

    See Also
    --------
    mmfuse.image.SIFTExtractor : produces descriptor sets from images.

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
    """

    _parameter_constraints = {
        **BaseCodebookEncoder._parameter_constraints,
        "n_words": [Interval(Integral, 1, None, closed="left")],
        "norm": [StrOptions({"l1", "l2"}), None],
    }

    def __init__(self, n_words=256, *, norm="l1", codebook="auto", max_descriptors=100_000,
                 random_state=None, verbose=None):
        super().__init__(n_words, codebook=codebook, max_descriptors=max_descriptors,
                         random_state=random_state, verbose=verbose)
        self.norm = norm

    @property
    def _n_features_out(self):
        return self.n_words

    def _encode(self, ds: DescriptorSet) -> np.ndarray:
        xp, _, labels = self._assign(ds)
        offsets = xp.asarray(ds.offsets)
        hist = segment_histogram(labels, offsets, self.n_words)
        if self.norm == "l1":
            scale = hist.sum(axis=1, keepdims=True)
        elif self.norm == "l2":
            scale = xp.sqrt((hist * hist).sum(axis=1, keepdims=True))
        else:
            scale = None
        if scale is not None:
            # Empty samples have scale 0: leave their all-zero rows as they are.
            hist /= xp.where(scale > 0, scale, 1)
        return to_output(hist.astype(xp.float32, copy=False))
