"""Fisher vectors: gradients of a diagonal Gaussian mixture's log-likelihood."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.utils._param_validation import Interval, StrOptions

from mmfuse._config import resolve_verbose
from mmfuse.backend import (
    asarray,
    for_row_blocks,
    get_namespace,
    gmm_fisher_statistics,
    gmm_posteriors,
    gmm_segment_statistics,
)
from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding._base import BaseCodebookEncoder, normalize_rows, signed_sqrt

#: ``reg_covar="auto"``: this fraction of the sample's mean per-dimension variance.
_AUTO_REG_COVAR = 1e-3
#: Refits, each with ten times the regularisation, before a collapsed mixture is an error.
_REG_COVAR_RETRIES = 3
#: :meth:`FisherVector._finish` works on blocks of codes of about this size (in cache).
_FINISH_BLOCK_BYTES = 1 << 20
#: ``n_components="auto"``: descriptors wider than this are reduced to it.
_AUTO_COMPONENTS = 64


class FisherVector(BaseCodebookEncoder):
    """Fisher-vector encoder over a diagonal Gaussian mixture (improved FV).

    The codebook is a Gaussian mixture with diagonal covariances
    (:class:`sklearn.mixture.GaussianMixture`) fitted on (sub-sampled)
    descriptors. A sample with descriptors ``x_1..x_N`` is encoded by the
    normalised gradient of its log-likelihood with respect to the means and
    standard deviations of every component ``k`` (Perronnin et al. 2010,
    VLFeat's ``vl_fisher``)::

        u_k = 1 / (N sqrt(w_k))  sum_i g_ik (x_i - mu_k) / sigma_k
        v_k = 1 / (N sqrt(2 w_k)) sum_i g_ik [((x_i - mu_k) / sigma_k)^2 - 1]

        code = [u_1, ..., u_K, v_1, ..., v_K]   (2 * n_words * n_features values)

    where ``g_ik`` is the posterior of component ``k`` for ``x_i``; posteriors
    below ``posterior_threshold`` are dropped. The *improved* Fisher vector
    then applies the signed square root and L2 normalisation.

    Fisher vectors assume decorrelated dimensions (diagonal covariances):
    by default descriptors wider than 64 values (SIFT's 128) are projected
    on their first 64 whitened principal components before the mixture is
    learned (``n_components="auto"``), which halves the code, usually
    improves accuracy (Perronnin et al. 2010; Chatfield et al. 2011) and
    keeps a spatial pyramid of Fisher vectors within a laptop's memory.

    Parameters
    ----------
    n_words : int, default=64
        Number of Gaussian components.
    n_components : int, "auto" or None, default="auto"
        Whitened PCA (:class:`sklearn.decomposition.PCA`, fitted on the
        same sample as the mixture) to this many dimensions before encoding.
        ``"auto"``: 64 when descriptors have more than 64 dimensions (SIFT),
        none otherwise (MFCC frames, descriptors already reduced with
        :class:`~mmfuse.encoding.DescriptorPCA`). None: no projection.
        The code has ``2 * n_words * n_components`` values.
    improved : bool, default=True
        Signed square root then L2 normalisation (Perronnin et al. 2010).
        False returns the raw normalised gradient.
    posterior_threshold : float, default=1e-6
        Posteriors below it are treated as 0 (VLFeat's choice).
    reg_covar : float or "auto", default="auto"
        Added to the variances (``GaussianMixture.reg_covar``). ``"auto"``
        scales it to the data: ``1e-3`` times the mean per-dimension
        variance of the training sample (``1e-3`` on whitened descriptors),
        the floor below which no component's variance can fall, so a
        component that settles on a tight cluster of near-identical
        descriptors cannot make the mixture singular. If EM still fails, it
        is retried with ten times the regularisation (at most three times,
        with a warning naming the value used); ``reg_covar_`` is the value
        that worked.
    max_iter : int, default=100
        EM iterations (``GaussianMixture.max_iter``).
    max_descriptors : int or "auto", default="auto"
        Cap on the number of descriptors the mixture is learned from.
        ``"auto"`` is ``min(256 * n_words, 100_000)`` (16,384 for 64
        Gaussians), as for the other encoders; EM's cost grows with it, and
        on real photos more descriptors did not pay (see
        ``benchmarks/results/defaults.md``). The cap in use is
        ``max_descriptors_``. (It was 100,000 before: pass
        ``max_descriptors=100_000`` for the earlier mixtures.)
    random_state : int, RandomState instance or None, default=None
        Controls sub-sampling and the mixture's k-means initialisation.
    verbose : int or None, default=None
        Verbosity; None uses ``mmfuse.get_config()["verbose"]``.
    min_norm : float, default=1e-6
        Descriptors with an L2 norm below it are flat (SIFT of a featureless
        patch is all zeros): left out of codebook learning and of encoding.
        0 keeps every descriptor. See Notes.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_words, n_components_)
        Component means (float32), in the projected space.
    variances_ : ndarray of shape (n_words, n_components_)
        Diagonal covariances (float32).
    weights_ : ndarray of shape (n_words,)
        Mixture weights (float32).
    codebook_estimator_ : GaussianMixture
    n_flat_descriptors_ : int
        Flat descriptors (norm < ``min_norm``) in the data the codebook was
        fitted on, left out of it.
    reg_covar_ : float
        The regularisation the mixture was fitted with.
    pca_ : PCA or None
        The projection applied before the mixture (None: none).
    n_components_ : int
        Dimension the mixture lives in (``n_features_in_`` without PCA).
    n_features_in_ : int

    Notes
    -----
    **Flat descriptors.** Featureless patches (sky, letterbox borders,
    all-black images) give all-zero SIFT descriptors. They are left out of
    codebook learning (counted in ``n_flat_descriptors_``), where their point
    mass would capture a codeword or collapse a mixture component, and cast
    no vote when encoding; a sample with only flat descriptors encodes to
    zeros. Set ``min_norm=0`` to keep them.

    **Encoding in one pass.** :meth:`transform` computes each block's
    posteriors (one GEMM of ``[x, x^2]`` against the mixture's expanded
    log-densities) and accumulates every sample's moments from the same
    block (one GEMM per sample) while it is in cache
    (:func:`~mmfuse.backend.gmm_fisher_statistics`); no ``(n, n_words)``
    array of posteriors is kept. Peak extra memory: the output, plus per
    batch of about 65,536 descriptors its statistics
    (``2 * n_words * n_components + n_words`` values per sample) and codes,
    and per CPU core one cache-sized block (about 1 MiB).

    :meth:`partial_fit` learns the PCA (if any) from the first batch, and
    the mixture out of core by incremental EM:
    the first batch is fitted by EM; every later batch adds its
    posterior-weighted sums (mass, sum of x, sum of x^2 per component, under
    the current mixture) to those of the earlier batches, and the weights,
    means and variances are re-estimated from the totals.

    See Also
    --------
    VLAD : first-order residuals to hard-assigned k-means codewords.
    DescriptorPCA : decorrelation / whitening of descriptors.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.encoding import FisherVector
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(size=(n, 4)) for n in (40, 0, 25)]
    >>> fv = FisherVector(n_words=3, random_state=0).fit(sets)
    >>> codes = fv.transform(sets)
    >>> codes.shape
    (3, 24)
    >>> np.linalg.norm(codes, axis=1).round(6).tolist()
    [1.0, 0.0, 1.0]
    """

    _parameter_constraints = {
        "n_words": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}),
                         None],
        "improved": ["boolean"],
        "posterior_threshold": [Interval(Real, 0, 1, closed="left")],
        "reg_covar": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_descriptors": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "random_state": ["random_state"],
        "verbose": ["verbose", None],
        "min_norm": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, n_words=64, *, n_components="auto", improved=True,
                 posterior_threshold=1e-6, reg_covar="auto", max_iter=100,
                 max_descriptors="auto", random_state=None, verbose=None, min_norm=1e-6):
        # no ``codebook`` parameter: the codebook is always a Gaussian mixture
        self.n_words = n_words
        self.n_components = n_components
        self.max_descriptors = max_descriptors
        self.random_state = random_state
        self.verbose = verbose
        self.improved = improved
        self.posterior_threshold = posterior_threshold
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.min_norm = min_norm

    _SHRINK_OUTPUT = "a smaller n_words or n_components"

    @property
    def _n_features_out(self):
        return 2 * self.n_words * getattr(self, "n_components_", self.n_features_in_)

    def _fit_projection(self, sample: np.ndarray, seed: int) -> np.ndarray:
        """Fit the whitened PCA of ``n_components`` (if any) on ``sample``; project it."""
        d = sample.shape[1]
        n = self.n_components
        if n == "auto":
            n = _AUTO_COMPONENTS if d > _AUTO_COMPONENTS else None
        if n is not None and n > d:
            raise ValueError(f"n_components={n} is more than the {d} descriptor dimensions")
        if n is None:
            self.pca_, self.n_components_ = None, d
            return sample
        self.pca_ = PCA(n_components=n, whiten=True, random_state=seed).fit(sample)
        self.n_components_ = n
        return self._project(sample)

    def _project(self, values: np.ndarray) -> np.ndarray:
        if getattr(self, "pca_", None) is None:
            return values
        return self.pca_.transform(values).astype(np.float32)

    def _fit_codebook(self, sample: np.ndarray, seed: int) -> np.ndarray:
        self._check_enough(sample)
        sample = self._fit_projection(sample, seed)
        # float64: the variances are E[x^2] - E[x]^2, which float32 can round below zero
        sample = np.asarray(sample, dtype=np.float64)
        reg_covar = (_AUTO_REG_COVAR * float(sample.var(axis=0).mean())
                     if self.reg_covar == "auto" else float(self.reg_covar))
        if self.reg_covar == "auto" and reg_covar <= 0:  # constant data: any positive floor
            reg_covar = _AUTO_REG_COVAR
        for attempt in range(_REG_COVAR_RETRIES + 1):
            gmm = GaussianMixture(n_components=self.n_words, covariance_type="diag",
                                  reg_covar=reg_covar, max_iter=self.max_iter,
                                  random_state=seed,
                                  verbose=max(resolve_verbose(self.verbose) - 1, 0))
            try:
                gmm.fit(sample)
                break
            except ValueError as error:
                if "ill-defined empirical covariance" not in str(error) \
                        or attempt == _REG_COVAR_RETRIES:
                    raise
                reg_covar = 10 * reg_covar if reg_covar > 0 else _AUTO_REG_COVAR
                warnings.warn(
                    f"FisherVector: the Gaussian mixture collapsed (n_words={self.n_words}, "
                    f"{sample.shape[0]} descriptors); refitting with reg_covar={reg_covar:.3g}",
                    RuntimeWarning, stacklevel=4)
        self.reg_covar_ = reg_covar
        self.codebook_estimator_ = gmm
        self._gmm_sums = None  # a new mixture: partial_fit statistics start over
        return self._mixture_parameters(gmm)

    def _mixture_parameters(self, gmm) -> np.ndarray:
        self.variances_ = np.ascontiguousarray(gmm.covariances_, dtype=np.float32)
        self.weights_ = np.ascontiguousarray(gmm.weights_, dtype=np.float32)
        return np.ascontiguousarray(gmm.means_, dtype=np.float32)

    def _partial_fit_codebook(self, sample: np.ndarray, seed: int) -> np.ndarray:
        """Incremental EM: the first batch is fitted by EM; later batches add their
        posterior-weighted sums (count, sum of x, sum of x^2 per component, taken
        under the current mixture) to those of all earlier batches, and the
        mixture is re-estimated from the totals (an M-step)."""
        gmm = getattr(self, "codebook_estimator_", None)
        if gmm is None:
            means = self._fit_codebook(sample, seed)
            self._gmm_sums = _posterior_sums(self.codebook_estimator_, self._project(sample))
            return means
        sums = _posterior_sums(gmm, self._project(sample))
        if getattr(self, "_gmm_sums", None) is not None:
            sums = tuple(total + new for total, new in zip(self._gmm_sums, sums, strict=True))
        self._gmm_sums = sums
        count, first, second = sums
        mass = np.maximum(count, 10 * np.finfo(np.float64).eps)[:, None]
        means = first / mass
        gmm.weights_ = count / count.sum()
        gmm.means_ = means
        gmm.covariances_ = np.maximum(second / mass - means ** 2, 0) + self.reg_covar_
        gmm.precisions_ = 1 / gmm.covariances_
        gmm.precisions_cholesky_ = np.sqrt(gmm.precisions_)
        return self._mixture_parameters(gmm)

    def _per_descriptor(self, ds: DescriptorSet):
        """``(ds in the mixture's space, (posteriors,))``: the per-descriptor half of
        :meth:`_encode` (projection and one GEMM-based posterior pass), which
        :class:`SpatialPyramid` computes once and shares between its levels."""
        if getattr(self, "pca_", None) is not None:
            ds = ds.with_values(self._project(ds.values))
        xp, values, _, means = self._device_arrays(ds)
        posteriors = gmm_posteriors(values, means, asarray(self.variances_, xp),
                                    asarray(self.weights_, xp),
                                    threshold=self.posterior_threshold)
        return ds, (posteriors,)

    def _descriptor_statistics(self, values, offsets, rows=None):
        """:meth:`_statistics` in one fused pass (:func:`~mmfuse.backend.gmm_fisher_statistics`):
        posteriors and moments block by block, without an ``(n, n_words)`` array."""
        if getattr(self, "pca_", None) is not None:
            values, rows = self._project(values if rows is None else values[rows]), None
        xp, _ = get_namespace()
        return gmm_fisher_statistics(
            asarray(values, xp), asarray(offsets, xp), asarray(self.cluster_centers_, xp),
            asarray(self.variances_, xp), asarray(self.weights_, xp),
            rows=None if rows is None else asarray(rows, xp),
            threshold=self.posterior_threshold)

    def _statistics(self, ds: DescriptorSet, shared):
        """Additive per-segment statistics (summed over cells, they give the statistics
        of the union): posterior mass, and posterior-weighted sums of ``x - mu`` and
        ``(x - mu) ** 2``, per segment and component (``ds`` in the mixture's space)."""
        (posteriors,) = shared
        _, values, offsets, means = self._device_arrays(ds)
        return gmm_segment_statistics(values, offsets, posteriors, means)

    def _finish(self, stats, lengths):
        """Fisher vectors from :meth:`_statistics` and the descriptors per segment."""
        mass, first, second = stats
        xp = np if isinstance(first, np.ndarray) else get_namespace()[0]
        variances = asarray(self.variances_, xp)
        weights = asarray(self.weights_, xp)
        n_samples, n_words, dim = first.shape
        count = xp.where(lengths > 0, lengths, 1).astype(first.dtype)[:, None]
        inv_sigma, inv_var = 1 / xp.sqrt(variances), 1 / variances
        scale_u = 1 / (count * xp.sqrt(weights))
        scale_v = 1 / (count * xp.sqrt(2 * weights))
        # written once into the code: u = first / sigma / (N sqrt(w)),
        # v = (second / var - mass) / (N sqrt(2 w)); block by block of samples,
        # so that the passes (scaling, signed square root, norm) stay in cache,
        # the blocks shared out to the CPU cores
        codes = xp.empty((n_samples, 2, n_words, dim), dtype=first.dtype)

        def finish(a, b):
            u, v = codes[a:b, 0], codes[a:b, 1]
            xp.multiply(first[a:b], inv_sigma, out=u)
            u *= scale_u[a:b, :, None]
            xp.multiply(second[a:b], inv_var, out=v)
            v -= mass[a:b, :, None]
            v *= scale_v[a:b, :, None]
            if self.improved:
                normalize_rows(signed_sqrt(codes[a:b].reshape(b - a, -1), xp), "l2", xp)

        step = max(1, _FINISH_BLOCK_BYTES // (codes.itemsize * 2 * n_words * dim))
        for_row_blocks(xp, n_samples, step, finish, parallel=n_samples > 4 * step)
        codes = codes.reshape(n_samples, -1)
        return self._output(codes, xp)


def _posterior_sums(gmm, sample: np.ndarray):
    """Per component: posterior mass, posterior-weighted sum of x and of x^2."""
    x = np.asarray(sample, dtype=np.float64)
    posteriors = gmm.predict_proba(x)
    return posteriors.sum(axis=0), posteriors.T @ x, posteriors.T @ (x * x)
