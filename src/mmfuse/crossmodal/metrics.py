"""Retrieval metrics: MAP, precision/recall at k, median rank, precision-recall curve.

Every function takes a score matrix ``scores[q, d]`` (larger = the query
``q`` finds item ``d`` more similar; one row per query, one column per
database item) and a boolean relevance matrix of the same shape. Two
protocols build the relevance:

- label-based (the Wikipedia protocol of Rasiwasia et al. 2010): an item is
  relevant to a query of the same class, :func:`relevance_from_labels`;
- pair-based (caption retrieval): only the query's own counterpart is
  relevant, :func:`relevance_from_pairs`.

Items are ranked by decreasing score; ties keep database order (as a search
index returns them). A query with no relevant item has no defined average
precision or recall: it gets NaN in the per-query results and is left out of
the means, with a warning saying how many were left out.
"""

from __future__ import annotations

import warnings

import numpy as np

from mmfuse.backend import chunk_rows

__all__ = [
    "average_precision",
    "mean_average_precision",
    "median_rank",
    "precision_at_k",
    "precision_recall_curve",
    "recall_at_k",
    "relevance_from_labels",
    "relevance_from_pairs",
]


def relevance_from_labels(query_labels, database_labels):
    """Relevance by shared class label: ``query_labels[q] == database_labels[d]``.

    Examples
    --------
    >>> from mmfuse.crossmodal.metrics import relevance_from_labels
    >>> relevance_from_labels(["a", "b"], ["a", "a", "b"]).astype(int).tolist()
    [[1, 1, 0], [0, 0, 1]]
    """
    query_labels = _check_1d(query_labels, "query_labels")
    database_labels = _check_1d(database_labels, "database_labels")
    return query_labels[:, None] == database_labels[None, :]


def relevance_from_pairs(query_ids, database_ids):
    """Relevance by identity: query ``q`` is relevant to the item with the same id.

    With ``query_ids = database_ids = range(n)`` this is the diagonal: image
    ``i``'s only relevant text is text ``i``.

    Examples
    --------
    >>> from mmfuse.crossmodal.metrics import relevance_from_pairs
    >>> relevance_from_pairs([0, 1], [1, 0, 2]).astype(int).tolist()
    [[0, 1, 0], [1, 0, 0]]
    """
    return relevance_from_labels(query_ids, database_ids)


def _check_1d(values, name):
    values = np.asarray(values)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {values.shape}")
    return values


def _check_inputs(scores, relevance):
    scores = np.asarray(scores, dtype=np.float64)
    relevance = np.asarray(relevance)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_queries, n_items), got shape {scores.shape}")
    if scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"scores is empty: shape {scores.shape}")
    if relevance.shape != scores.shape:
        raise ValueError(f"relevance has shape {relevance.shape} but scores has "
                         f"{scores.shape}; they must match")
    if relevance.dtype != bool:
        if not np.isin(relevance, (0, 1)).all():
            raise ValueError("relevance must be boolean (or 0/1)")
        relevance = relevance.astype(bool)
    bad = ~np.isfinite(scores).all(axis=1)
    if bad.any():
        raise ValueError(f"scores of query {int(np.flatnonzero(bad)[0])} hold NaN or infinity")
    return scores, relevance


def _ranked_relevance(scores, relevance):
    """Yield ``(rows, relevance sorted by decreasing score)`` chunk by chunk."""
    n_queries, n_items = scores.shape
    step = chunk_rows(n_queries, n_items * 24)
    for start in range(0, n_queries, step):
        rows = slice(start, min(start + step, n_queries))
        order = np.argsort(-scores[rows], axis=1, kind="stable")
        yield rows, np.take_along_axis(relevance[rows], order, axis=1)


def _warn_undefined(n_undefined, n_queries, what):
    if n_undefined == n_queries:
        raise ValueError(f"no query has a relevant item: {what} is undefined")
    if n_undefined:
        warnings.warn(f"{n_undefined} of {n_queries} queries have no relevant item and are "
                      f"left out of the {what}", UserWarning, stacklevel=3)


def average_precision(scores, relevance):
    """Average precision of every query.

    ``AP = (1 / R) * sum over relevant items at rank r of precision@r``, with
    ``R`` the number of relevant items (equal to
    :func:`sklearn.metrics.average_precision_score` on one query's row when
    scores have no ties).

    Parameters
    ----------
    scores : array-like of shape (n_queries, n_items)
    relevance : array-like of bool, same shape

    Returns
    -------
    ap : ndarray of shape (n_queries,)
        NaN for a query without relevant items.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal.metrics import average_precision
    >>> scores = np.array([[0.9, 0.8, 0.7, 0.6]])
    >>> relevance = np.array([[True, False, True, False]])
    >>> average_precision(scores, relevance).round(4).tolist()   # (1/1 + 2/3) / 2
    [0.8333]
    """
    scores, relevance = _check_inputs(scores, relevance)
    ap = np.empty(scores.shape[0])
    ranks = np.arange(1, scores.shape[1] + 1)
    for rows, ranked in _ranked_relevance(scores, relevance):
        hits = np.cumsum(ranked, axis=1)
        n_relevant = hits[:, -1]
        with np.errstate(invalid="ignore", divide="ignore"):
            ap[rows] = np.where(n_relevant > 0,
                                (ranked * hits / ranks).sum(axis=1) / n_relevant, np.nan)
    return ap


def mean_average_precision(scores, relevance):
    """Mean over queries of the average precision (MAP).

    Parameters
    ----------
    scores : array-like of shape (n_queries, n_items)
    relevance : array-like of bool, same shape

    Returns
    -------
    map : float

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal.metrics import mean_average_precision, relevance_from_labels
    >>> scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.3]])
    >>> relevance = relevance_from_labels([0, 1], [0, 1, 0])
    >>> round(mean_average_precision(scores, relevance), 3)   # (1 + 1) / 2
    1.0
    """
    ap = average_precision(scores, relevance)
    undefined = int(np.isnan(ap).sum())
    _warn_undefined(undefined, ap.size, "mean average precision")
    return float(np.nanmean(ap))


def precision_at_k(scores, relevance, k):
    """Mean share of relevant items among each query's top ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal.metrics import precision_at_k
    >>> precision_at_k(np.array([[0.9, 0.8, 0.7]]), np.array([[True, False, True]]), 2)
    0.5
    """
    scores, relevance = _check_inputs(scores, relevance)
    k = _check_k(k, scores.shape[1])
    total = 0.0
    for _, ranked in _ranked_relevance(scores, relevance):
        total += ranked[:, :k].sum()
    return float(total / (k * scores.shape[0]))


def recall_at_k(scores, relevance, k):
    """Mean share of each query's relevant items found in its top ``k``.

    With pair-based relevance this is the usual "R@k": the fraction of
    queries whose counterpart is among the first ``k`` results.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal.metrics import recall_at_k
    >>> recall_at_k(np.array([[0.9, 0.8, 0.7]]), np.array([[True, False, True]]), 2)
    0.5
    """
    scores, relevance = _check_inputs(scores, relevance)
    k = _check_k(k, scores.shape[1])
    recall = np.empty(scores.shape[0])
    for rows, ranked in _ranked_relevance(scores, relevance):
        n_relevant = ranked.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall[rows] = np.where(n_relevant > 0, ranked[:, :k].sum(axis=1) / n_relevant,
                                    np.nan)
    _warn_undefined(int(np.isnan(recall).sum()), recall.size, "recall")
    return float(np.nanmean(recall))


def median_rank(scores, relevance):
    """Median over queries of the rank (1 = first) of the first relevant item.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal.metrics import median_rank
    >>> scores = np.array([[0.9, 0.8, 0.7], [0.1, 0.2, 0.3], [0.5, 0.4, 0.3]])
    >>> median_rank(scores, np.eye(3, dtype=bool))   # ranks 1, 2, 3
    2.0
    """
    scores, relevance = _check_inputs(scores, relevance)
    first = np.empty(scores.shape[0])
    for rows, ranked in _ranked_relevance(scores, relevance):
        found = ranked.any(axis=1)
        first[rows] = np.where(found, np.argmax(ranked, axis=1) + 1.0, np.nan)
    _warn_undefined(int(np.isnan(first).sum()), first.size, "median rank")
    return float(np.nanmedian(first))


def precision_recall_curve(scores, relevance, *, n_levels=11):
    """Interpolated precision at evenly spaced recall levels, averaged over queries.

    For each query the interpolated precision at recall level ``r`` is the
    best precision reached at any rank whose recall is at least ``r`` (the
    TREC 11-point curve for ``n_levels=11``, as plotted by Rasiwasia et al.).

    Parameters
    ----------
    scores : array-like of shape (n_queries, n_items)
    relevance : array-like of bool, same shape
    n_levels : int, default=11
        Recall levels ``0, 1/(n_levels-1), ..., 1``.

    Returns
    -------
    precision : ndarray of shape (n_levels,)
    recall : ndarray of shape (n_levels,)

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal.metrics import precision_recall_curve
    >>> scores = np.array([[0.9, 0.8, 0.7, 0.6]])
    >>> relevance = np.array([[True, False, True, False]])
    >>> precision, recall = precision_recall_curve(scores, relevance, n_levels=3)
    >>> recall.tolist(), precision.round(3).tolist()
    ([0.0, 0.5, 1.0], [1.0, 1.0, 0.667])
    """
    scores, relevance = _check_inputs(scores, relevance)
    if int(n_levels) < 2:
        raise ValueError(f"n_levels must be at least 2, got {n_levels}")
    levels = np.linspace(0.0, 1.0, int(n_levels))
    ranks = np.arange(1, scores.shape[1] + 1)
    curves = np.full((scores.shape[0], levels.size), np.nan)
    for rows, ranked in _ranked_relevance(scores, relevance):
        hits = np.cumsum(ranked, axis=1)
        n_relevant = hits[:, -1]
        defined = n_relevant > 0
        precision = hits / ranks
        # Best precision at this rank or any later one.
        best_after = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
        for j, level in enumerate(levels):
            # First rank whose recall reaches the level (hits >= level * R).
            reached = hits >= level * n_relevant[:, None] - 1e-12
            first = np.argmax(reached, axis=1)
            curves[rows, j] = np.where(defined, best_after[np.arange(first.size), first],
                                       np.nan)
    _warn_undefined(int(np.isnan(curves[:, 0]).sum()), curves.shape[0],
                    "precision-recall curve")
    return np.nanmean(curves, axis=0), levels


def _check_k(k, n_items):
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n_items:
        raise ValueError(f"k must be an integer between 1 and the number of items {n_items}, "
                         f"got {k!r}")
    return int(k)
