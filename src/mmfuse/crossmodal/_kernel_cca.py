"""Kernel CCA on explicit approximate feature maps (Nystroem or random Fourier features)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.kernel_approximation import Nystroem, RBFSampler
from sklearn.metrics.pairwise import additive_chi2_kernel, pairwise_distances
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from mmfuse.crossmodal._base import TwoViewEstimator, check_labels, check_two_views
from mmfuse.crossmodal._cca import canonical_pairs

KERNELS = ("rbf", "laplacian", "chi2", "poly", "linear")
_GAMMA_SAMPLE = 500  # rows used by the median heuristic


def median_gamma(X, kernel, random_state=None):
    """Bandwidth ``1 / median distance`` for a distance-based kernel.

    The distance is the one inside the kernel: squared Euclidean for
    ``"rbf"``, L1 for ``"laplacian"``, chi-squared for ``"chi2"``; taken over
    pairs of at most 500 random rows. For ``"poly"`` it is ``1 / n_features``
    (scikit-learn's default) and it is unused for ``"linear"``.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal._kernel_cca import median_gamma
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> float(median_gamma(X, "rbf"))   # squared distances 1, 4, 9
    0.25
    """
    if kernel == "poly":
        return 1.0 / X.shape[1]
    if kernel == "linear":
        return None
    rng = check_random_state(random_state)
    if X.shape[0] > _GAMMA_SAMPLE:
        X = X[rng.choice(X.shape[0], _GAMMA_SAMPLE, replace=False)]
    if kernel == "rbf":
        D = pairwise_distances(X, metric="sqeuclidean")
    elif kernel == "laplacian":
        D = pairwise_distances(X, metric="manhattan")
    else:  # chi2
        D = -additive_chi2_kernel(X)
    distances = D[np.triu_indices(X.shape[0], k=1)]
    median = np.median(distances[distances > 0]) if np.any(distances > 0) else 0.0
    if not median > 0:
        raise ValueError("cannot choose gamma: all rows of the view are identical")
    return 1.0 / median


class KernelCCA(TwoViewEstimator):
    """Kernel CCA that scales: linear CCA on an approximate kernel feature map per view.

    Each view is mapped by a finite-dimensional approximation ``phi`` of a
    kernel, ``phi(x) . phi(x') ~ k(x, x')`` -- Nystroem
    (:class:`sklearn.kernel_approximation.Nystroem`, any kernel below) or
    random Fourier features (:class:`sklearn.kernel_approximation.RBFSampler`,
    RBF only) -- and regularised :class:`CCA` runs on the mapped views. The
    cost is linear in the number of samples (``n_approx_components`` squared
    per sample), instead of the cubic cost of exact kernel CCA on
    ``n x n`` Gram matrices; with as many Nystroem landmarks as samples the map
    is exact on the training data.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Number of canonical pairs; ``"auto"`` keeps 10, or as many as the
        feature maps support when that is fewer (as :class:`CCA`).
    kernel : {"rbf", "laplacian", "chi2", "poly", "linear"}, default="rbf"
        Kernel of both views. ``"chi2"`` (exponential chi-squared) needs
        non-negative features such as histograms.
    approximation : {"nystroem", "fourier"}, default="nystroem"
        Feature-map approximation; ``"fourier"`` is for ``kernel="rbf"``.
    n_approx_components : int, default=500
        Dimension of each view's feature map (landmarks or random features);
        capped at the number of training samples for Nystroem.
    gamma_x, gamma_y : float or None, default=None
        Kernel bandwidth of each view; None uses :func:`median_gamma`
        (``1 / median`` pairwise distance; ``1 / n_features`` for "poly").
    degree, coef0 : float, default=3, 1
        Parameters of the polynomial kernel.
    reg_x, reg_y : float in [0, 1], default=0.1
        Covariance shrinkage of each mapped view, as in :class:`CCA`. Kernel
        CCA without regularisation overfits (perfect correlations), so keep
        it well above 0.
    random_state : int, RandomState instance or None, default=None
        Landmark choice and random features.

    Attributes
    ----------
    x_map_, y_map_ : Nystroem or RBFSampler
        The fitted feature maps.
    x_mean_, y_mean_, x_weights_, y_weights_, canonical_correlations_
        As in :class:`CCA`, in the mapped spaces.
    gamma_x_, gamma_y_ : float or None
        Bandwidths used.
    n_components_ : int
        Number of pairs kept.
    n_features_in_, n_features_y_in_ : int
        Widths of the two views.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal import CCA, KernelCCA
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-1, 1, size=(300, 1))
    >>> X = np.hstack([x, rng.normal(size=(300, 1))])
    >>> Y = x ** 2 + 0.05 * rng.normal(size=(300, 1))   # related, but not linearly
    >>> bool(CCA(n_components=1).fit(X, Y).canonical_correlations_[0] < 0.3)
    True
    >>> kcca = KernelCCA(n_components=1, n_approx_components=100, random_state=0).fit(X, Y)
    >>> bool(kcca.canonical_correlations_[0] > 0.9)
    True
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "kernel": [StrOptions(set(KERNELS))],
        "approximation": [StrOptions({"nystroem", "fourier"})],
        "n_approx_components": [Interval(Integral, 1, None, closed="left")],
        "gamma_x": [Interval(Real, 0, None, closed="neither"), None],
        "gamma_y": [Interval(Real, 0, None, closed="neither"), None],
        "degree": [Interval(Real, 1, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "reg_x": [Interval(Real, 0, 1, closed="both")],
        "reg_y": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    }
    _feature_prefix = "kcca"
    _accept_sparse = "csr"

    def __init__(self, n_components="auto", *, kernel="rbf", approximation="nystroem",
                 n_approx_components=500, gamma_x=None, gamma_y=None, degree=3, coef0=1,
                 reg_x=0.1, reg_y=0.1, random_state=None):
        self.n_components = n_components
        self.kernel = kernel
        self.approximation = approximation
        self.n_approx_components = n_approx_components
        self.gamma_x = gamma_x
        self.gamma_y = gamma_y
        self.degree = degree
        self.coef0 = coef0
        self.reg_x = reg_x
        self.reg_y = reg_y
        self.random_state = random_state

    def fit(self, X, Y, y=None):
        """Fit the feature maps of both views, then CCA between the mapped views.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        Y : array-like or sparse matrix of shape (n_samples, n_features_y)
            Paired with ``X`` row by row.
        y : None
            Ignored.

        Returns
        -------
        self : KernelCCA
        """
        self._validate_params()
        if self.approximation == "fourier" and self.kernel != "rbf":
            raise ValueError(
                f"approximation='fourier' approximates the RBF kernel only, not "
                f"kernel={self.kernel!r}; use approximation='nystroem'"
            )
        X, Y = check_two_views(self, X, Y, reset=True, accept_sparse=self._accept_sparse)
        check_labels(y, X.shape[0], type(self).__name__, required=False)
        if self.kernel == "chi2":
            for name, view in (("X", X), ("Y", Y)):
                if (view.data if sp.issparse(view) else view).min() < 0:
                    raise ValueError(f"kernel='chi2' needs non-negative features; view {name} "
                                     "has negative values")
        rng = check_random_state(self.random_state)
        self.gamma_x_ = self.gamma_x if self.gamma_x is not None else median_gamma(
            _dense_sample(X), self.kernel, rng)
        self.gamma_y_ = self.gamma_y if self.gamma_y is not None else median_gamma(
            _dense_sample(Y), self.kernel, rng)
        self.x_map_ = self._make_map(self.gamma_x_, X.shape[0], rng).fit(X)
        self.y_map_ = self._make_map(self.gamma_y_, X.shape[0], rng).fit(Y)
        X_mapped, Y_mapped = self.x_map_.transform(X), self.y_map_.transform(Y)
        dims = min(X_mapped.shape[1], Y_mapped.shape[1])
        if self.n_components != "auto" and self.n_components > dims:
            raise ValueError(f"n_components={self.n_components} exceeds the feature-map "
                             f"dimension {dims}; raise n_approx_components")
        (self.x_mean_, self.y_mean_, self.x_weights_, self.y_weights_,
         self.canonical_correlations_) = canonical_pairs(X_mapped, Y_mapped, self.n_components,
                                                         self.reg_x, self.reg_y)
        self.n_components_ = self.x_weights_.shape[1]
        return self

    def _make_map(self, gamma, n_samples, rng):
        seed = rng.randint(np.iinfo(np.int32).max)
        if self.approximation == "fourier":
            return RBFSampler(gamma=gamma, n_components=self.n_approx_components,
                              random_state=seed)
        params = {"gamma": gamma} if self.kernel != "linear" else {}
        if self.kernel == "poly":
            params.update(degree=self.degree, coef0=self.coef0)
        return Nystroem(kernel=self.kernel, n_components=min(self.n_approx_components,
                                                             n_samples),
                        random_state=seed, **params)

    @property
    def _n_features_out(self):
        return self.n_components_

    def _transform_x(self, X):
        return (self.x_map_.transform(X) - self.x_mean_) @ self.x_weights_

    def _transform_y(self, Y):
        return (self.y_map_.transform(Y) - self.y_mean_) @ self.y_weights_


def _dense_sample(X):
    if hasattr(X, "toarray"):
        X = X[:_GAMMA_SAMPLE * 4].toarray()
    return np.asarray(X)
