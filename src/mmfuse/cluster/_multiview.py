"""Multiview spectral clustering and k-means over per-view blocks."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, SpectralClustering
from sklearn.metrics.pairwise import euclidean_distances, rbf_kernel
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from mmfuse._views import _named, median_gamma, split_views


def _views_with_missing(estimator, X, *, reset: bool):
    """``[(name, block)]`` and a ``(n_samples, n_views)`` presence mask: a sample
    lacks a view when its row of that block is all NaN (sparse blocks are never
    missing). NaN elsewhere is an error."""
    if not _named(X):
        X = validate_data(estimator, X, accept_sparse="csr", dtype=np.float64,
                          ensure_all_finite="allow-nan", reset=reset)
    raw = split_views(X, estimator.views, owner=type(estimator).__name__, allow_nan=True)
    parts, present = [], []
    for name, block in raw:
        block = check_array(block, accept_sparse="csr", dtype=np.float64,
                            ensure_all_finite="allow-nan")
        if sp.issparse(block):
            mask = np.ones(block.shape[0], bool)
            if not np.isfinite(block.data).all():
                raise ValueError(f"{type(estimator).__name__}: view {name!r} holds NaN or "
                                 "infinite values")
        else:
            nan = np.isnan(block)
            mask = ~nan.all(axis=1)
            if (nan[mask].any()) or not np.isfinite(block[mask]).all():
                rows = np.flatnonzero(mask & nan.any(axis=1))[:5].tolist()
                raise ValueError(f"{type(estimator).__name__}: view {name!r} has NaN or "
                                 f"infinite values in samples {rows} (only a whole missing "
                                 "row, all NaN, marks an absent view)")
            block = np.where(mask[:, None], block, 0.0)
        parts.append((name, block))
        present.append(mask)
    present = np.column_stack(present)
    if not present.any(axis=1).all():
        rows = np.flatnonzero(~present.any(axis=1))[:5].tolist()
        raise ValueError(f"{type(estimator).__name__}: samples {rows} have every view "
                         "missing")
    return parts, present


def _weights(view_weights, n_views):
    weights = np.ones(n_views) if view_weights is None else np.asarray(view_weights, float)
    if weights.shape != (n_views,) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"view_weights must be {n_views} non-negative numbers, not all zero; "
                         f"got {view_weights!r}")
    return weights / weights.sum()


class MultiviewSpectralClustering(ClusterMixin, BaseEstimator):
    """Spectral clustering of a similarity graph fused from the views.

    Each view gets an RBF kernel whose width comes from the view's own
    median squared distance (:func:`mmfuse.semi_supervised.median_gamma`), so
    views of any scale weigh alike; the affinity of two samples combines
    their per-view kernels over the views both have (``combine``), and
    scikit-learn's :class:`~sklearn.cluster.SpectralClustering` cuts the
    fused graph (``affinity="precomputed"``). Two samples are close when
    they are close in the views taken together, so clusters that no single
    view separates can be found.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    views : list or None, default=None
        With :class:`~mmfuse.blocks.Blocks` or a mapping of named numeric
        blocks: the block names to use (None: all). With a 2-D array:
        ``(name, columns)`` pairs (None: all columns as one view).
    gamma : float, list of float or None, default=None
        RBF width per view; None: one over the view's median squared distance.
    view_weights : list of float or None, default=None
        Weight of each view's kernel (normalised); None: equal.
    combine : {"mean", "product"}, default="mean"
        How the views' kernels make one affinity. ``"mean"``: two samples are
        similar when they are similar in the views on average (kernel
        addition), forgiving of one noisy view; ``"product"``: when they are
        similar in every view (the product of RBF kernels, an RBF kernel on
        the views side by side, each at its own width), which separates
        clusters that only the views together tell apart (on the example
        below, adjusted Rand 0.90 with the product, 0.55 with the mean) but
        lets one noisy view break every cluster. On real views the mean did
        better: adjusted Rand 0.262 against 0.236 on audio-visual digits,
        0.389 against 0.313 on Wikipedia categories, level on MVSA Twitter
        (mean of 3 seeds, ``benchmarks/results/defaults.md``). ``"product"``
        was the default until 0.1.
    assign_labels : {"kmeans", "discretize", "cluster_qr"}, default="kmeans"
        How :class:`~sklearn.cluster.SpectralClustering` labels the embedding.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
    affinity_matrix_ : ndarray of shape (n_samples, n_samples)
        The fused affinity.
    gammas_ : ndarray of shape (n_views,)
    view_names_ : list of str
    n_features_in_ : int
        Columns of a 2-D array input (not set for named blocks).

    Notes
    -----
    A sample missing a view (an all-NaN row in that block) is compared with
    others on the views it has; two samples sharing no view have affinity 0.
    The affinity is dense: memory grows with the square of the number of
    samples (about 80 MB for 3,000).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import adjusted_rand_score
    >>> from mmfuse.cluster import MultiviewSpectralClustering
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.integers(0, 4, 400)
    >>> image = np.c_[3.0 * (truth >= 2), 3.0 * (truth >= 2)] + rng.normal(size=(400, 2))
    >>> text = np.c_[3.0 * (truth % 2), 3.0 * (truth % 2)] + rng.normal(size=(400, 2))
    >>> model = MultiviewSpectralClustering(4, combine="product", random_state=0)
    >>> labels = model.fit_predict({"image": image, "text": text})
    >>> bool(adjusted_rand_score(truth, labels) > 0.8)   # each view sees half the split
    True
    """

    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "views": [list, None],
        "gamma": [Interval(Real, 0, None, closed="neither"), list, tuple, None],
        "view_weights": [list, tuple, None],
        "combine": [StrOptions({"product", "mean"})],
        "assign_labels": [StrOptions({"kmeans", "discretize", "cluster_qr"})],
        "random_state": ["random_state"],
    }

    def __init__(self, n_clusters=8, *, views=None, gamma=None, view_weights=None,
                 combine="mean", assign_labels="kmeans", random_state=None):
        self.n_clusters = n_clusters
        self.views = views
        self.gamma = gamma
        self.view_weights = view_weights
        self.combine = combine
        self.assign_labels = assign_labels
        self.random_state = random_state

    def fit(self, X, y=None):
        """Cluster the samples of ``X``.

        Parameters
        ----------
        X : Blocks, mapping of {str: 2-D array or sparse matrix}, or 2-D array
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        parts, present = _views_with_missing(self, X, reset=True)
        n_views, n_samples = len(parts), parts[0][1].shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters="
                             f"{self.n_clusters}")
        gammas = self.gamma
        if gammas is None:
            gammas = [median_gamma(block[mask]) for (_, block), mask
                      in zip(parts, present.T, strict=True)]
        elif isinstance(gammas, Real):
            gammas = [float(gammas)] * n_views
        if len(gammas) != n_views:
            raise ValueError(f"gamma needs one value per view ({n_views})")
        weights = _weights(self.view_weights, n_views)
        # per pair: the views both samples have, weighted; "mean" averages their
        # kernels, "product" multiplies them (adds the scaled squared distances
        # in the exponent), rescaled as if every view were there
        affinity = np.zeros((n_samples, n_samples))
        total = np.zeros((n_samples, n_samples))
        for (_, block), gamma, weight, mask in zip(parts, gammas, weights, present.T,
                                                   strict=True):
            both = weight * np.outer(mask, mask)
            if self.combine == "mean":
                affinity += both * rbf_kernel(block, gamma=gamma)
            else:
                affinity += both * gamma * euclidean_distances(block, squared=True)
            total += both
        shared = total > 0
        if self.combine == "mean":
            affinity = np.divide(affinity, total, out=np.zeros_like(affinity), where=shared)
        else:
            exponent = np.divide(affinity, total, out=np.zeros_like(affinity), where=shared)
            affinity = np.where(shared, np.exp(-n_views * exponent), 0.0)
        self.affinity_matrix_ = affinity
        self.spectral_ = SpectralClustering(
            n_clusters=self.n_clusters, affinity="precomputed",
            assign_labels=self.assign_labels, random_state=self.random_state).fit(affinity)
        self.labels_ = self.spectral_.labels_
        self.gammas_ = np.asarray(gammas, dtype=float)
        self.view_names_ = [name for name, _ in parts]
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _ViewScaling:
    """Centre each view, divide it by the square root of its total variance and
    multiply by the square root of its weight; put the views side by side."""

    def _fit_scaling(self, X):
        parts, present = _views_with_missing(self, X, reset=True)
        self._weights = _weights(self.view_weights, len(parts))
        self.view_means_, self.view_scales_ = [], []
        for (_, block), mask in zip(parts, present.T, strict=True):
            rows = block[mask]
            rows = rows.toarray() if sp.issparse(rows) else rows
            mean = rows.mean(axis=0)
            scale = float(np.sqrt(((rows - mean) ** 2).sum(axis=1).mean()))
            self.view_means_.append(mean)
            self.view_scales_.append(scale if scale > 0 else 1.0)
        self.view_widths_ = [block.shape[1] for _, block in parts]
        self.view_names_ = [name for name, _ in parts]
        return self._scaled(parts, present)

    def _scaled_views(self, X):
        parts, present = _views_with_missing(self, X, reset=False)
        widths = [block.shape[1] for _, block in parts]
        if widths != self.view_widths_:
            raise ValueError(f"views have {widths} columns; the model was fitted on "
                             f"{self.view_widths_}")
        return self._scaled(parts, present)

    def _scaled(self, parts, present):
        columns = []
        for (_, block), mean, scale, weight, mask in zip(
                parts, self.view_means_, self.view_scales_, self._weights, present.T,
                strict=True):
            dense = block.toarray() if sp.issparse(block) else block
            centred = np.where(mask[:, None], dense - mean, 0.0)
            columns.append(centred * (np.sqrt(weight) / scale))
        return np.hstack(columns)


class MultiviewKMeans(_ViewScaling, ClusterMixin, BaseEstimator):
    """K-means on the views, each scaled to equal weight.

    Each view is centred and divided by the square root of its total
    variance (the mean squared distance of its rows to their centre), then
    multiplied by the square root of its weight, and the views are put side
    by side: k-means on the result minimises the weighted sum of per-view
    squared distances, each view counted in its own units. Without the
    scaling, the view with the most columns or the largest values decides
    the clusters alone.

    Parameters
    ----------
    n_clusters : int, default=8
    views : list or None, default=None
        As in :class:`MultiviewSpectralClustering`.
    view_weights : list of float or None, default=None
        Share of each view in the distance (normalised); None: equal.
    n_init : "auto" or int, default="auto"
        Passed to :class:`~sklearn.cluster.KMeans`.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    kmeans_ : sklearn.cluster.KMeans
        Fitted on the scaled views side by side.
    labels_ : ndarray of shape (n_samples,)
    cluster_centers_ : ndarray
        Centres in the scaled space.
    view_means_, view_scales_ : list
        Centring and scale of each view (learned at fit).
    view_names_ : list of str
    n_features_in_ : int
        Columns of a 2-D array input (not set for named blocks).

    Notes
    -----
    A sample missing a view (an all-NaN row) gets that view's centre (zero
    after centring), so it is clustered by the views it has.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.cluster import MultiviewKMeans
    >>> rng = np.random.default_rng(0)
    >>> truth = np.repeat([0, 1], 50)
    >>> small = 0.01 * (rng.normal(size=(100, 2)) + 4 * truth[:, None])   # informative
    >>> loud = 100 * rng.normal(size=(100, 2))                            # noise
    >>> labels = MultiviewKMeans(2, random_state=0).fit_predict({"a": small, "b": loud})
    >>> float(max(np.mean(labels == truth), np.mean(labels != truth))) > 0.8
    True
    """

    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "views": [list, None],
        "view_weights": [list, tuple, None],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_clusters=8, *, views=None, view_weights=None, n_init="auto",
                 random_state=None):
        self.n_clusters = n_clusters
        self.views = views
        self.view_weights = view_weights
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        """Cluster the samples of ``X``.

        Parameters
        ----------
        X : Blocks, mapping of {str: 2-D array or sparse matrix}, or 2-D array
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        scaled = self._fit_scaling(X)
        self.kmeans_ = KMeans(self.n_clusters, n_init=self.n_init,
                              random_state=self.random_state).fit(scaled)
        self.labels_ = self.kmeans_.labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        return self

    def predict(self, X):
        """The nearest centre of each sample.

        Parameters
        ----------
        X : same form as in :meth:`fit`

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "kmeans_")
        return self.kmeans_.predict(self._scaled_views(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
