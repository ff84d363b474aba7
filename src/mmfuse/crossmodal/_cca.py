"""Canonical correlation analysis in closed form: whiten each view, then one SVD."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import svd_flip

from mmfuse.crossmodal._base import (
    TwoViewEstimator,
    centred_product,
    check_labels,
    check_two_views,
    mean_of,
)


def _covariance(A, B, mean_a, mean_b):
    """Biased cross-covariance ``(A - mean_a)^T (B - mean_b) / n`` for dense or sparse views."""
    n = A.shape[0]
    if sp.issparse(A) or sp.issparse(B):
        product = A.T @ B
        product = product.toarray() if sp.issparse(product) else np.asarray(product)
        return product / n - np.outer(mean_a, mean_b)
    return (A - mean_a).T @ (B - mean_b) / n


def _whitening_basis(C, reg, view):
    """``W`` with ``W.T @ C_reg @ W = I``, ``C_reg = (1 - reg) C + reg * mean(diag C) * I``.

    Shrinking towards a scaled identity keeps the regulariser independent of
    the units of the features. Directions with (numerically) zero variance
    are dropped rather than inverted.
    """
    d = C.shape[0]
    scale = np.trace(C) / d
    if not scale > 0:
        raise ValueError(f"view {view} has no variance (every column is constant)")
    C_reg = (1.0 - reg) * C
    C_reg[np.diag_indices(d)] += reg * scale
    eigenvalues, eigenvectors = scipy.linalg.eigh(C_reg)
    keep = eigenvalues > eigenvalues.max() * d * np.finfo(np.float64).eps * 10
    return eigenvectors[:, keep] / np.sqrt(eigenvalues[keep])


#: Pairs ``n_components="auto"`` keeps (CCA, KernelCCA, PLS), fewer when the views
#: support fewer.
AUTO_COMPONENTS = 10


def canonical_pairs(X, Y, n_components, reg_x, reg_y):
    """Fit CCA; return ``(x_mean, y_mean, x_weights, y_weights, correlations)``.

    ``n_components="auto"`` is ``min(AUTO_COMPONENTS, rank)``, the rank being
    the number of pairs the (regularised) views support.

    The views are whitened (``Wx.T Cxx Wx = I``), and the SVD of the whitened
    cross-covariance ``Wx.T Cxy Wy = U S V.T`` gives the canonical directions
    ``Wx U``, ``Wy V``; the returned correlations are those of the training
    projections (``S`` itself when there is no shrinkage).
    """
    x_mean, y_mean = mean_of(X), mean_of(Y)
    Wx = _whitening_basis(_covariance(X, X, x_mean, x_mean), reg_x, "X")
    Wy = _whitening_basis(_covariance(Y, Y, y_mean, y_mean), reg_y, "Y")
    rank = min(Wx.shape[1], Wy.shape[1])
    if n_components == "auto":
        n_components = min(AUTO_COMPONENTS, rank)
    if n_components > rank:
        raise ValueError(
            f"n_components={n_components} but the views support at most {rank} canonical "
            f"pairs (X has rank {Wx.shape[1]}, Y has rank {Wy.shape[1]} after "
            "regularisation); lower n_components or raise reg_x/reg_y"
        )
    M = Wx.T @ _covariance(X, Y, x_mean, y_mean) @ Wy
    U, s, Vt = scipy.linalg.svd(M, full_matrices=False)
    x_weights, y_weights = Wx @ U[:, :n_components], Wy @ Vt[:n_components].T
    # Signs are arbitrary (and depend on the eigenvector signs of the
    # whitening): fix them on the final X directions, flipping Y alike so the
    # pairs stay positively correlated.
    x_weights, y_weights_t = svd_flip(x_weights, y_weights.T)
    y_weights = y_weights_t.T
    # With shrinkage the singular values are correlations of the regularised
    # problem (they may exceed 1); report what the projections achieve.
    correlations = paired_correlations(centred_product(X, x_weights, x_mean),
                                       centred_product(Y, y_weights, y_mean))
    return x_mean, y_mean, x_weights, y_weights, correlations


class CCA(TwoViewEstimator):
    """Regularised canonical correlation analysis, in closed form.

    Finds directions ``a_k`` in the first view and ``b_k`` in the second such
    that the projections ``X a_k`` and ``Y b_k`` are maximally correlated, and
    uncorrelated with the earlier pairs. Each view is whitened with its
    (shrunk) covariance and one SVD of the whitened cross-covariance gives all
    pairs at once -- no iterations, unlike :class:`sklearn.cross_decomposition.CCA`
    (NIPALS with deflation), whose canonical correlations it matches when
    ``reg_x = reg_y = 0``. Retrieval in the CCA space (Rasiwasia et al., 2010)
    projects images with :meth:`transform_x`, texts with :meth:`transform_y`
    and ranks by (normalised) correlation.

    Parameters
    ----------
    n_components : int, "auto" or None, default="auto"
        Number of canonical pairs; None keeps ``min(n_features_x, n_features_y)``.
        ``"auto"`` keeps 10 pairs, or as many as the views support when that
        is fewer. Ten beat sklearn's 2 and "all" in retrieval on Wikipedia
        categories and on audio-visual digits (mean MAP 0.219 vs 0.194 and
        0.512 vs 0.314 / 0.271; ``benchmarks/results/defaults.md``): the
        later pairs of a wide view fit noise.
    reg_x, reg_y : float in [0, 1], default=1e-3
        Shrinkage of each view's covariance towards a scaled identity,
        ``(1 - reg) C + reg * mean(diag C) I``. Needed when a view has more
        features than samples or collinear features; 0 is plain CCA.

    Attributes
    ----------
    x_mean_, y_mean_ : ndarray
        Column means of each view.
    x_weights_ : ndarray of shape (n_features_in_, n_components)
        Canonical directions of X: ``transform_x(X) = (X - x_mean_) @ x_weights_``.
    y_weights_ : ndarray of shape (n_features_y_in_, n_components)
        Canonical directions of Y.
    canonical_correlations_ : ndarray of shape (n_components,)
        Pearson correlation of each pair of projections on the training data:
        the canonical correlations, in decreasing order, when ``reg_x = reg_y = 0``
        (with shrinkage, pairs are ordered by the regularised criterion).
    n_components_ : int
        Number of pairs actually kept.
    n_features_in_, n_features_y_in_ : int
        Widths of the two views.

    Notes
    -----
    Both views may be dense or sparse (the covariances are formed with sparse
    products); the covariance matrices are dense, so reduce very wide views
    (a large TF-IDF vocabulary) with :class:`sklearn.decomposition.TruncatedSVD`
    first. Without shrinkage the projections have unit variance on the
    training data.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal import CCA
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(200, 1))                    # shared latent signal
    >>> X = np.hstack([z, rng.normal(size=(200, 3))])
    >>> Y = np.hstack([rng.normal(size=(200, 2)), -z + 0.1 * rng.normal(size=(200, 1))])
    >>> cca = CCA(n_components=1).fit(X, Y)
    >>> cca.canonical_correlations_.round(2)
    array([0.99])
    >>> X_c, Y_c = cca.transform(X, Y)
    >>> X_c.shape, Y_c.shape
    ((200, 1), (200, 1))
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}),
                         None],
        "reg_x": [Interval(Real, 0, 1, closed="both")],
        "reg_y": [Interval(Real, 0, 1, closed="both")],
    }
    _feature_prefix = "cca"
    _accept_sparse = ("csr", "csc")

    def __init__(self, n_components="auto", *, reg_x=1e-3, reg_y=1e-3):
        self.n_components = n_components
        self.reg_x = reg_x
        self.reg_y = reg_y

    def fit(self, X, Y, y=None):
        """Find the canonical pairs of two paired views.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            First view (e.g. image features).
        Y : array-like or sparse matrix of shape (n_samples, n_features_y)
            Second view, row ``i`` paired with row ``i`` of ``X``.
        y : None
            Ignored (CCA is unsupervised); accepted for a uniform API.

        Returns
        -------
        self : CCA
        """
        self._validate_params()
        X, Y = check_two_views(self, X, Y, reset=True, accept_sparse=self._accept_sparse)
        check_labels(y, X.shape[0], type(self).__name__, required=False)
        n_components = self.n_components
        if n_components is None:
            n_components = min(X.shape[1], Y.shape[1])
        elif n_components != "auto" and n_components > min(X.shape[1], Y.shape[1]):
            raise ValueError(
                f"n_components={n_components} must be at most min(n_features of X, of Y) = "
                f"{min(X.shape[1], Y.shape[1])}"
            )
        (self.x_mean_, self.y_mean_, self.x_weights_, self.y_weights_,
         self.canonical_correlations_) = canonical_pairs(X, Y, n_components, self.reg_x,
                                                         self.reg_y)
        self.n_components_ = self.x_weights_.shape[1]
        return self

    @property
    def _n_features_out(self):
        return self.n_components_

    def _transform_x(self, X):
        return centred_product(X, self.x_weights_, self.x_mean_)

    def _transform_y(self, Y):
        return centred_product(Y, self.y_weights_, self.y_mean_)


def paired_correlations(A, B):
    """Pearson correlation of each column of ``A`` with the same column of ``B``.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal._cca import paired_correlations
    >>> a = np.array([[1.0, 1.0], [2.0, 0.0], [3.0, 1.0]])
    >>> paired_correlations(a, 2 * a).tolist()
    [1.0, 1.0]
    """
    A = A - A.mean(axis=0)
    B = B - B.mean(axis=0)
    denominator = np.sqrt((A * A).sum(axis=0) * (B * B).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (A * B).sum(axis=0) / denominator, 0.0)
