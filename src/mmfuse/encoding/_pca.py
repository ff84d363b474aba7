"""PCA decorrelation / whitening of local descriptors, as a DescriptorSet transformer."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding._base import flat_mask, sample_descriptors, validate_descriptors

#: Descriptors projected at once by ``transform``: bounds its float64 temporaries.
_TRANSFORM_CHUNK = 1 << 16


class DescriptorPCA(TransformerMixin, BaseEstimator):
    """Project every local descriptor on its principal components (optionally whitened).

    Fits :class:`sklearn.decomposition.PCA` on (sub-sampled) descriptors of
    all samples and maps each descriptor, keeping the ragged layout
    (offsets, positions, extents, missing flags) of the input
    :class:`~mmfuse.descriptors.DescriptorSet`. Decorrelated dimensions are
    what a diagonal-covariance :class:`~mmfuse.encoding.FisherVector`
    assumes, and reducing SIFT from 128 to 64-80 dimensions usually helps
    Fisher vectors and VLAD (Chatfield et al. 2011; Jegou et al. 2012).

    Parameters
    ----------
    n_components : int, float or None, default=None
        Passed to :class:`~sklearn.decomposition.PCA`: a number of
        components, a fraction of variance to keep, or None for all.
    whiten : bool, default=True
        Scale each component to unit variance.
    max_descriptors : int, default=100_000
        Cap on the descriptors PCA is fitted on, sampled uniformly without
        replacement with ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Controls sub-sampling (and the randomised SVD solver, if chosen).
    min_norm : float, default=1e-6
        Descriptors with an L2 norm below it are flat (SIFT of a featureless
        patch is all zeros): PCA is fitted without them, and they stay flat,
        mapped to zero vectors, so that the encoders downstream still
        recognise and leave them out (see :class:`BagOfWords`). 0 projects
        every descriptor.

    Attributes
    ----------
    pca_ : PCA
        The fitted PCA.
    n_components_ : int
        Output descriptor dimension.
    n_features_in_ : int
        Input descriptor dimension.
    n_flat_descriptors_ : int
        Flat descriptors in the fitted data, left out of the PCA.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.encoding import DescriptorPCA
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(size=(n, 6)) @ rng.normal(size=(6, 6)) for n in (50, 0, 30)]
    >>> pca = DescriptorPCA(n_components=3, random_state=0).fit(sets)
    >>> out = pca.transform(sets)
    >>> out.n_features, out.lengths.tolist()
    (3, [50, 0, 30])
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left"),
                         Interval(Real, 0, 1, closed="neither"), None],
        "whiten": ["boolean"],
        "max_descriptors": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "min_norm": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=None, *, whiten=True, max_descriptors=100_000,
                 random_state=None, min_norm=1e-6):
        self.n_components = n_components
        self.whiten = whiten
        self.max_descriptors = max_descriptors
        self.random_state = random_state
        self.min_norm = min_norm

    def fit(self, X, y=None):
        """Fit PCA on the (sub-sampled) descriptors of all samples.

        Parameters
        ----------
        X : DescriptorSet or list of arrays of shape (n_i, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        ds = validate_descriptors(self, X, reset=True)
        rng = check_random_state(self.random_state)
        sample, self.n_flat_descriptors_ = sample_descriptors(ds, self.max_descriptors, rng,
                                                              self.min_norm)
        if sample.shape[0] < 2:
            flat = (f" ({self.n_flat_descriptors_} flat descriptors, norm < min_norm, were left "
                    "out)" if self.n_flat_descriptors_ else "")
            raise ValueError(f"DescriptorPCA needs at least 2 descriptors, got "
                             f"{sample.shape[0]}{flat}")
        self.pca_ = PCA(n_components=self.n_components, whiten=self.whiten,
                        random_state=int(rng.randint(np.iinfo(np.int32).max))).fit(sample)
        self.n_components_ = int(self.pca_.n_components_)
        return self

    def transform(self, X) -> DescriptorSet:
        """Project the descriptors of every sample.

        Parameters
        ----------
        X : DescriptorSet or list of arrays of shape (n_i, n_features)

        Returns
        -------
        descriptors : DescriptorSet
            Same samples, offsets, positions and missing flags;
            ``n_components_`` float32 features.

        Notes
        -----
        Peak extra memory: the output plus the float64 projection of 65,536
        descriptors at a time.
        """
        check_is_fitted(self, "pca_")
        ds = validate_descriptors(self, X, reset=False)
        if ds.values.shape[0] == 0:
            values = np.zeros((0, self.n_components_), np.float32)
        else:
            # chunk by chunk into one float32 array: PCA.transform works in float64,
            # which for all descriptors at once would be twice the output again
            values = np.empty((ds.values.shape[0], self.n_components_), np.float32)
            for start in range(0, values.shape[0], _TRANSFORM_CHUNK):
                stop = start + _TRANSFORM_CHUNK
                values[start:stop] = self.pca_.transform(ds.values[start:stop])
            values[flat_mask(ds.values, self.min_norm)] = 0
        return ds.with_values(values)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags
