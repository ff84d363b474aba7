"""Chunked inner-product top-k, written against the backend's array namespace.

Every retrieval metric of :class:`CrossModalIndex` is reduced to an inner
product between preprocessed queries and preprocessed database rows, so this
one kernel serves them all: one GEMM per chunk of queries, then a
partial sort (``partition``) for the k-th best score and a full sort of the
k best only.

TODO(backend): when ``mmfuse.backend`` grows a ``cosine_topk`` kernel, call it
from here; this function is the only place to change.
"""

from __future__ import annotations

from mmfuse.backend import chunk_rows


def inner_product_topk(queries, database, k, *, xp, chunk_size=None):
    """The ``k`` largest inner products of each query with the database rows.

    Parameters
    ----------
    queries : array of shape (n_queries, d)
    database : array of shape (n_items, d)
        Same namespace ``xp`` (NumPy or CuPy) as ``queries``.
    k : int
        ``1 <= k <= n_items``.
    xp : module
        The array namespace.
    chunk_size : int, default=None
        Queries per GEMM; derived from ``mmfuse.get_config()["working_memory"]``.

    Returns
    -------
    scores : array of shape (n_queries, k)
        Decreasing along each row; ties are ordered by database position.
    indices : int64 array of shape (n_queries, k)
        Database row of each score.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal._topk import inner_product_topk
    >>> D = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    >>> scores, idx = inner_product_topk(np.array([[1.0, 0.1]]), D, 2, xp=np)
    >>> idx.tolist(), scores.round(2).tolist()
    ([[0, 2]], [[1.0, 0.77]])
    """
    n_queries, n_items = queries.shape[0], database.shape[0]
    if not 1 <= k <= n_items:
        raise ValueError(f"k must be between 1 and the number of items ({n_items}), got {k}")
    if chunk_size is None:
        chunk_size = chunk_rows(n_queries, n_items * 8 * 2)
    dtype = xp.result_type(queries.dtype, database.dtype)
    scores_out = xp.empty((n_queries, k), dtype=dtype)
    index_out = xp.empty((n_queries, k), dtype=xp.int64)
    database_t = database.T
    stable = None if xp.__name__ == "cupy" else "stable"  # CuPy sorts are always stable
    for start in range(0, n_queries, chunk_size):
        stop = min(start + chunk_size, n_queries)
        scores = queries[start:stop] @ database_t
        if k < n_items:
            # The k-th largest score, then everything above it plus the first
            # (by position) of the items tied with it: exactly k per row, and
            # ties broken by position (argpartition would pick arbitrarily).
            threshold = xp.partition(scores, n_items - k, axis=1)[:, n_items - k][:, None]
            above = scores > threshold
            tied = scores == threshold
            needed = k - above.sum(axis=1, keepdims=True)
            chosen = above | (tied & (xp.cumsum(tied, axis=1) <= needed))
            candidates = xp.nonzero(chosen)[1].reshape(stop - start, k)
        else:
            candidates = xp.broadcast_to(xp.arange(n_items), scores.shape)
        candidate_scores = xp.take_along_axis(scores, candidates, axis=1)
        order = xp.argsort(-candidate_scores, axis=1, kind=stable)
        scores_out[start:stop] = xp.take_along_axis(candidate_scores, order, axis=1)
        index_out[start:stop] = xp.take_along_axis(candidates, order, axis=1)
    return scores_out, index_out
