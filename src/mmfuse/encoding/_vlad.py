"""VLAD: vectors of locally aggregated descriptors (residuals to the nearest codeword)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from mmfuse.backend import get_namespace, segment_histogram, segment_residuals
from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding._base import BaseCodebookEncoder, normalize_rows, signed_sqrt


class VLAD(BaseCodebookEncoder):
    """VLAD encoder: per codeword, the sum of residuals of its descriptors.

    For each sample and each codeword ``c_k`` of a k-means codebook, VLAD
    (Jegou et al. 2010) sums the residuals ``x - c_k`` of the descriptors
    whose nearest codeword is ``c_k``, and concatenates the ``n_words``
    sums into one ``n_words * n_features`` vector. It keeps first-order
    information that a histogram throws away, so a small codebook (16-256
    words) already works well with a linear classifier.

    Normalisations follow VLFeat's ``vl_vlad``, applied in its order:

    1. ``mass_norm``: divide each component by the number of descriptors
       assigned to it (the component becomes mean residual).
    2. ``signed_sqrt``: ``sign(v) sqrt(|v|)``, damping bursty components.
    3. ``intra_norm``: L2-normalise each component on its own
       (Arandjelovic & Zisserman 2013, "All about VLAD"); empty components
       stay 0.
    4. ``norm="l2"``: L2-normalise the whole vector.

    Parameters
    ----------
    n_words : int, default=64
        Codebook size; the code has ``n_words * n_features`` values.
    mass_norm : bool, default=False
        Divide each component by its assigned mass.
    signed_sqrt : bool, default=True
        Apply the signed square root.
    intra_norm : bool, default=True
        L2-normalise each component.
    norm : {"l2"} or None, default="l2"
        Final normalisation. Samples without descriptors encode to zeros.
    codebook : {"auto", "kmeans", "minibatch"}, default="auto"
        Clustering used to learn the codebook.
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
    max_descriptors_ : int
        The cap on codebook-learning descriptors in use.
    n_flat_descriptors_ : int
        Flat descriptors (norm < ``min_norm``) in the data the codebook was
        fitted on, left out of it.
    n_features_in_ : int

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
    BagOfWords, FisherVector, SpatialPyramid

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.encoding import VLAD
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(size=(n, 8)) for n in (30, 0, 12)]
    >>> vlad = VLAD(n_words=4, random_state=0).fit(sets)
    >>> codes = vlad.transform(sets)
    >>> codes.shape
    (3, 32)
    >>> np.linalg.norm(codes, axis=1).round(6).tolist()
    [1.0, 0.0, 1.0]
    """

    _parameter_constraints = {
        **BaseCodebookEncoder._parameter_constraints,
        "n_words": [Interval(Integral, 1, None, closed="left")],
        "mass_norm": ["boolean"],
        "signed_sqrt": ["boolean"],
        "intra_norm": ["boolean"],
        "norm": [StrOptions({"l2"}), None],
    }

    def __init__(self, n_words=64, *, mass_norm=False, signed_sqrt=True, intra_norm=True,
                 norm="l2", codebook="auto", max_descriptors="auto", random_state=None,
                 verbose=None, min_norm=1e-6):
        super().__init__(n_words, codebook=codebook, max_descriptors=max_descriptors,
                         random_state=random_state, verbose=verbose,
                         min_norm=min_norm)
        self.mass_norm = mass_norm
        self.signed_sqrt = signed_sqrt
        self.intra_norm = intra_norm
        self.norm = norm

    _SHRINK_OUTPUT = (
        "a smaller n_words, or fewer descriptor dimensions (DescriptorPCA(n_components) before it)")

    @property
    def _n_features_out(self):
        return self.n_words * self.n_features_in_

    def _per_descriptor(self, ds: DescriptorSet):
        """``(ds, (labels,))``: the assignment half of :meth:`_encode`, which
        :class:`SpatialPyramid` computes once and shares between its levels."""
        _, _, labels = self._assign(ds)
        return ds, (labels,)

    def _statistics(self, ds: DescriptorSet, shared):
        """Additive per-segment statistics (summed over cells, they give the statistics
        of the union): residual sums per word, and word counts when ``mass_norm``."""
        (labels,) = shared
        xp, values, _, _ = self._device_arrays(ds)
        offsets = xp.asarray(ds.offsets)
        centers = xp.asarray(self.cluster_centers_)
        residuals = segment_residuals(values, offsets, labels, centers)
        if self.mass_norm:
            return residuals, segment_histogram(labels, offsets, self.n_words)
        return (residuals,)

    def _finish(self, stats, lengths):
        """Codes from :meth:`_statistics` (``lengths`` is not needed)."""
        residuals = stats[0]
        xp = np if isinstance(residuals, np.ndarray) else get_namespace()[0]
        n_samples = residuals.shape[0]
        if self.mass_norm:
            mass = stats[1][:, :, None]
            residuals /= xp.where(mass > 0, mass, 1)
        if self.signed_sqrt:
            signed_sqrt(residuals, xp)
        if self.intra_norm:
            normalize_rows(residuals.reshape(n_samples * self.n_words, -1), "l2", xp)
        codes = residuals.reshape(n_samples, -1)
        normalize_rows(codes, self.norm, xp)
        return self._output(codes, xp)
