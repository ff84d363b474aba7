"""A self-organising map over fused views (MiniSom underneath)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.metrics import euclidean_distances, pairwise_distances_argmin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from mmfuse.cluster._multiview import _ViewScaling


class SelfOrganizingMap(_ViewScaling, ClusterMixin, TransformerMixin, BaseEstimator):
    """A self-organising map (Kohonen) of samples described by several views.

    The views are centred, scaled to unit total variance and weighted, as in
    :class:`MultiviewKMeans`, and put side by side; a
    :class:`minisom.MiniSom` grid of units is initialised on the data's two
    principal components and trained with random-order updates. Every sample
    is mapped to its best-matching unit: similar samples land on the same or
    neighbouring units, and the U-matrix (each unit's mean distance to its
    neighbours) shows the borders between groups as ridges.

    Parameters
    ----------
    grid_shape : tuple of two ints, default=(10, 10)
        Units along each side of the map.
    sigma : float or "auto", default="auto"
        Initial neighbourhood radius, in units; ``"auto"`` is a quarter of
        the longer side (at least 1).
    learning_rate : float, default=0.5
        Initial learning rate (both decay over the iterations).
    n_iter : int or "auto", default="auto"
        Single-sample updates; ``"auto"`` is ten passes over the samples or
        500 per unit, whichever is more, capped at 100,000.
    neighborhood_function : {"gaussian", "mexican_hat", "bubble", "triangle"}, \
            default="gaussian"
        MiniSom's neighbourhood around the best-matching unit.
    topology : {"rectangular", "hexagonal"}, default="rectangular"
        Grid of the units.
    views : list or None, default=None
        As in :class:`MultiviewKMeans`.
    view_weights : list of float or None, default=None
        Share of each view in the distance; None: equal.
    random_state : int, RandomState instance or None, default=None
        Seeds MiniSom (its sample order).

    Attributes
    ----------
    som_ : minisom.MiniSom
        The trained map.
    cluster_centers_ : ndarray of shape (n_units, n_scaled_features)
        Unit weights, row-major over the grid, in the scaled space.
    labels_ : ndarray of shape (n_samples,)
        Best-matching unit of each training sample (``row * grid_shape[1] + col``).
    quantization_error_ : float
        Mean distance of the training samples to their best-matching unit.
    topographic_error_ : float
        Share of training samples whose two best units are not neighbours.
    n_iter_ : int
        Updates run.
    view_names_, view_widths_ : list

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.cluster import SelfOrganizingMap
    >>> rng = np.random.default_rng(0)
    >>> truth = np.repeat([0, 1], 100)
    >>> image = rng.normal(size=(200, 3)) + 4 * truth[:, None]
    >>> text = rng.normal(size=(200, 5)) + 2 * truth[:, None]
    >>> som = SelfOrganizingMap((6, 6), random_state=0).fit({"image": image, "text": text})
    >>> som.u_matrix().shape, som.transform({"image": image, "text": text}).shape
    ((6, 6), (200, 36))
    >>> units = [set(som.labels_[truth == c]) for c in (0, 1)]
    >>> len(units[0] & units[1])  # the classes land on different units
    0
    """

    _parameter_constraints = {
        "grid_shape": [tuple, list],
        "sigma": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "neighborhood_function": [StrOptions({"gaussian", "mexican_hat", "bubble",
                                              "triangle"})],
        "topology": [StrOptions({"rectangular", "hexagonal"})],
        "views": [list, None],
        "view_weights": [list, tuple, None],
        "random_state": ["random_state"],
    }

    def __init__(self, grid_shape=(10, 10), *, sigma="auto", learning_rate=0.5, n_iter="auto",
                 neighborhood_function="gaussian", topology="rectangular", views=None,
                 view_weights=None, random_state=None):
        self.grid_shape = grid_shape
        self.sigma = sigma
        self.learning_rate = learning_rate
        self.n_iter = n_iter
        self.neighborhood_function = neighborhood_function
        self.topology = topology
        self.views = views
        self.view_weights = view_weights
        self.random_state = random_state

    def fit(self, X, y=None):
        """Train the map on ``X``.

        Parameters
        ----------
        X : Blocks, mapping of {str: 2-D array or sparse matrix}, or 2-D array
        y : ignored

        Returns
        -------
        self
        """
        from minisom import MiniSom

        self._validate_params()
        if len(self.grid_shape) != 2 or min(self.grid_shape) < 1:
            raise ValueError(f"grid_shape must be two positive ints, got {self.grid_shape!r}")
        rows, cols = (int(v) for v in self.grid_shape)
        data = self._fit_scaling(X)
        sigma = max(1.0, max(rows, cols) / 4) if self.sigma == "auto" else float(self.sigma)
        n_iter = (min(max(10 * data.shape[0], 500 * rows * cols), 100_000)
                  if self.n_iter == "auto" else int(self.n_iter))
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.som_ = MiniSom(rows, cols, data.shape[1], sigma=sigma,
                            learning_rate=self.learning_rate,
                            neighborhood_function=self.neighborhood_function,
                            topology=self.topology, random_seed=seed)
        if data.shape[0] > 1 and data.shape[1] > 1:
            self.som_.pca_weights_init(data)
        else:
            self.som_.random_weights_init(data)
        self.som_.train(data, n_iter, random_order=True)
        self.n_iter_ = n_iter
        self.cluster_centers_ = self.som_.get_weights().reshape(rows * cols, -1)
        self.labels_ = self._units(data)
        self.quantization_error_ = float(self.som_.quantization_error(data))
        self.topographic_error_ = (float(self.som_.topographic_error(data))
                                   if rows * cols > 1 else 0.0)
        return self

    def _units(self, data):
        return pairwise_distances_argmin(data, self.cluster_centers_)

    def predict(self, X):
        """Best-matching unit of each sample (``row * grid_shape[1] + col``).

        Parameters
        ----------
        X : same form as in :meth:`fit`

        Returns
        -------
        units : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "som_")
        return self._units(self._scaled_views(X))

    def transform(self, X):
        """Distance of each sample to every unit (the map as features).

        Parameters
        ----------
        X : same form as in :meth:`fit`

        Returns
        -------
        distances : ndarray of shape (n_samples, n_units)
        """
        check_is_fitted(self, "som_")
        return euclidean_distances(self._scaled_views(X), self.cluster_centers_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def u_matrix(self):
        """Mean distance of each unit to its neighbours, scaled to [0, 1] (MiniSom's
        ``distance_map``): high values are the borders between groups.

        Returns
        -------
        u : ndarray of shape grid_shape
        """
        check_is_fitted(self, "som_")
        return self.som_.distance_map()

    def plot_u_matrix(self, X=None, y=None, *, ax=None):
        """Draw the U-matrix, with the samples of ``X`` on their units marked by ``y``.

        Parameters
        ----------
        X : same form as in :meth:`fit`, default=None
        y : array-like of shape (n_samples,), default=None
            Labels to mark the samples by (one marker colour per label).
        ax : matplotlib Axes, default=None

        Returns
        -------
        ax : matplotlib Axes
        """
        import matplotlib.pyplot as plt

        check_is_fitted(self, "som_")
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 5))
        image = ax.pcolormesh(self.u_matrix().T, cmap="bone_r")
        plt.colorbar(image, ax=ax, label="distance to neighbours")
        if X is not None:
            units = self.predict(X)
            cols = self.grid_shape[1]
            rng = np.random.default_rng(0)
            jitter = rng.uniform(-0.3, 0.3, size=(units.size, 2))
            labels = np.zeros(units.size, int) if y is None else np.asarray(y)
            for label in np.unique(labels):
                rows = labels == label
                ax.scatter(units[rows] // cols + 0.5 + jitter[rows, 0],
                           units[rows] % cols + 0.5 + jitter[rows, 1], s=8, label=str(label))
            if y is not None:
                ax.legend(fontsize=7, markerscale=2, loc="upper right")
        ax.set_title("self-organising map: U-matrix")
        return ax
