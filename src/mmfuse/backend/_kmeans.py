"""Lloyd's k-means on the backend kernels, for codebooks learned on the GPU.

On the CPU the encoders learn their codebooks with scikit-learn's ``KMeans``;
under ``device="gpu"`` they call :func:`kmeans_codebook`, which draws the same
k-means++ initial centers (scikit-learn's :func:`~sklearn.cluster.kmeans_plusplus`
with the same seed, on the host) and then runs Lloyd iterations where the
descriptors live. Each iteration is three backend kernels: the nearest-center
assignment (GEMM + fused argmin), the per-center residual sums
``sum (x - c_k)`` (one scatter pass) and the per-center counts; the update is
``c_k += mean residual``, which keeps float32 sums small (no large raw sums
minus large means). Convergence and empty-cluster handling follow
scikit-learn's Lloyd solver, so the result matches ``KMeans(n_init=1)`` up to
rounding.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import kmeans_plusplus
from sklearn.utils import check_random_state
from tqdm.auto import tqdm

from mmfuse._config import resolve_verbose
from mmfuse.backend._namespace import asarray, get_namespace, to_numpy
from mmfuse.backend.kernels import (
    _namespace_of,
    assign_nearest,
    segment_histogram,
    segment_residuals,
    squared_norms,
)


def _relocate_empty(X, centers, counts, residuals, labels, distances, xp):
    """Move each empty center onto one of the points farthest from its center.

    As scikit-learn's Lloyd solver does: the farthest point leaves its
    cluster (its residual and count are removed) and becomes the new center.
    Returns the centers to force (index -> point) after the update.
    """
    empty = to_numpy(xp.flatnonzero(counts == 0))
    if empty.size == 0:
        return {}
    far_on_device = xp.argsort(-distances)[: empty.size]
    far, old = to_numpy(far_on_device), to_numpy(labels[far_on_device])
    forced = {}
    for new_id, point, old_id in zip(empty.tolist(), far.tolist(), old.tolist(), strict=True):
        residuals[old_id] -= X[point] - centers[old_id]
        counts[old_id] -= 1
        forced[new_id] = X[point]
    return forced


def lloyd_kmeans(X, init, *, max_iter=300, tol=1e-4, verbose=None):
    """Lloyd's k-means iterations from given centers, on ``X``'s device.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        NumPy or CuPy array; the work runs where it lives.
    init : array of shape (n_clusters, n_features)
        Initial centers (moved to ``X``'s namespace).
    max_iter : int, default=300
        Maximum number of iterations.
    tol : float, default=1e-4
        Stop when the squared center shift, summed over centers, is at most
        ``tol`` times the mean per-feature variance of ``X`` (scikit-learn's
        criterion); stop at once when no label changes.
    verbose : int or None, default=None
        1 or more shows a progress bar over iterations; None uses
        ``mmfuse.get_config()["verbose"]``.

    Returns
    -------
    centers : array of shape (n_clusters, n_features)
        Dtype of ``X``.
    labels : int64 array of shape (n_samples,)
        Nearest final center of each sample.
    inertia : float
        Sum of squared distances to the nearest center.
    n_iter : int
        Iterations run.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import lloyd_kmeans
    >>> X = np.array([[0, 0], [0, 1], [10, 10], [10, 11]], np.float32)
    >>> centers, labels, inertia, n_iter = lloyd_kmeans(X, X[[0, 2]])
    >>> centers.tolist(), labels.tolist(), inertia
    ([[0.0, 0.5], [10.0, 10.5]], [0, 0, 1, 1], 1.0)
    """
    xp = _namespace_of(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {tuple(X.shape)}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    centers = xp.array(asarray(init, xp), dtype=X.dtype, copy=True)
    if centers.ndim != 2 or centers.shape[1] != X.shape[1] or centers.shape[0] == 0:
        raise ValueError(f"init {tuple(centers.shape)} must be (n_clusters, {X.shape[1]})")
    n_clusters = centers.shape[0]
    if X.shape[0] < n_clusters:
        raise ValueError(f"{X.shape[0]} samples for {n_clusters} clusters")
    tol_abs = float(xp.var(X, axis=0).mean()) * float(tol)
    offsets = xp.asarray(np.array([0, X.shape[0]], dtype=np.int64))
    labels_old = None
    n_iter = 0
    for iteration in tqdm(range(1, int(max_iter) + 1), desc="k-means", unit="iter",
                          disable=resolve_verbose(verbose) < 1):
        n_iter = iteration
        labels, distances = assign_nearest(X, centers, centers_sq=squared_norms(centers))
        counts = segment_histogram(labels, offsets, n_clusters)[0].astype(X.dtype)
        residuals = segment_residuals(X, offsets, labels, centers)[0]
        forced = _relocate_empty(X, centers, counts, residuals, labels, distances, xp)
        new_centers = centers + residuals / xp.maximum(counts, 1)[:, None]
        for index, point in forced.items():
            new_centers[index] = point
        shift = float(((new_centers - centers) ** 2).sum())
        centers = new_centers
        if labels_old is not None and bool(xp.all(labels == labels_old)):
            break
        if shift <= tol_abs:
            break
        labels_old = labels
    labels, distances = assign_nearest(X, centers, centers_sq=squared_norms(centers))
    return centers, labels, float(distances.astype(xp.float64).sum()), n_iter


def kmeans_codebook(X, n_clusters, *, random_state=None, max_iter=300, tol=1e-4,
                    verbose=None, device=None):
    """k-means++ initialisation then Lloyd iterations on the configured device.

    The initial centers are scikit-learn's :func:`~sklearn.cluster.kmeans_plusplus`
    on the host with ``random_state`` (the draws ``KMeans(n_init=1,
    random_state=...)`` makes), so the codebook matches scikit-learn's up to
    rounding; the iterations run where ``device`` says (see
    :func:`lloyd_kmeans`).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        NumPy or CuPy array.
    n_clusters : int
    random_state : int, RandomState instance or None, default=None
    max_iter : int, default=300
    tol : float, default=1e-4
    verbose : int or None, default=None
    device : {"cpu", "gpu", "auto"} or None, default=None
        Where Lloyd's iterations run; None uses ``mmfuse.get_config()``.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
        NumPy, dtype of ``X`` (float64 for integer input).
    inertia : float
    n_iter : int

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import kmeans_codebook
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 0.1, (50, 2)), rng.normal(5, 0.1, (50, 2))])
    >>> centers, inertia, n_iter = kmeans_codebook(X.astype(np.float32), 2, random_state=0)
    >>> np.sort(centers.round().sum(axis=1)).tolist()
    [0.0, 10.0]
    """
    host = to_numpy(X)
    if host.dtype not in (np.float32, np.float64):
        host = host.astype(np.float64)
    # Centered data, as KMeans.fit does: the same initial draws, and smaller
    # norms in the |x|^2 - 2 x.c + |c|^2 expansion.
    mean = host.mean(axis=0)
    rng = check_random_state(random_state)
    init, _ = kmeans_plusplus(host - mean, int(n_clusters), random_state=rng)
    xp, _ = get_namespace(device)
    data = asarray(X if _namespace_of(X) is xp else host, xp).astype(host.dtype, copy=False)
    centers, _, inertia, n_iter = lloyd_kmeans(data - asarray(mean, xp), asarray(init, xp),
                                               max_iter=max_iter, tol=tol, verbose=verbose)
    return to_numpy(centers) + mean, inertia, n_iter
