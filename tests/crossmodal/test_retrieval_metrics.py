"""Retrieval metrics against sklearn and brute-force loops."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

import mmfuse
from mmfuse.crossmodal.metrics import (
    average_precision,
    mean_average_precision,
    median_rank,
    precision_at_k,
    precision_recall_curve,
    recall_at_k,
    relevance_from_labels,
    relevance_from_pairs,
)


def _scores_and_labels(n_queries=30, n_items=80, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    query_labels = rng.integers(0, n_classes, n_queries)
    item_labels = rng.integers(0, n_classes, n_items)
    # Informative but noisy scores, without ties.
    scores = (query_labels[:, None] == item_labels[None, :]) + rng.normal(size=(n_queries,
                                                                             n_items))
    return scores, relevance_from_labels(query_labels, item_labels)


def _ranked(scores, relevance, q):
    return relevance[q][np.argsort(-scores[q], kind="stable")]


def test_average_precision_matches_sklearn_per_query():
    scores, relevance = _scores_and_labels()
    ours = average_precision(scores, relevance)
    reference = [average_precision_score(relevance[q], scores[q]) for q in range(len(scores))]
    np.testing.assert_allclose(ours, reference, rtol=1e-12)
    assert mean_average_precision(scores, relevance) == pytest.approx(np.mean(reference))


def test_topk_metrics_and_median_rank_match_loops():
    scores, relevance = _scores_and_labels(seed=1)
    for k in (1, 5, 80):
        precision = np.mean([_ranked(scores, relevance, q)[:k].sum() / k
                             for q in range(len(scores))])
        recall = np.mean([_ranked(scores, relevance, q)[:k].sum()
                          / _ranked(scores, relevance, q).sum() for q in range(len(scores))])
        assert precision_at_k(scores, relevance, k) == pytest.approx(precision)
        assert recall_at_k(scores, relevance, k) == pytest.approx(recall)
    first = [1 + next(i for i, r in enumerate(_ranked(scores, relevance, q)) if r)
             for q in range(len(scores))]
    assert median_rank(scores, relevance) == np.median(first)


def test_pair_relevance_protocol():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(20, 20)) + 3 * np.eye(20)
    relevance = relevance_from_pairs(np.arange(20), np.arange(20))
    np.testing.assert_array_equal(relevance, np.eye(20, dtype=bool))
    ranks = [1 + int((scores[q] > scores[q, q]).sum()) for q in range(20)]
    assert mean_average_precision(scores, relevance) == pytest.approx(np.mean(1 / np.array(ranks)))
    assert median_rank(scores, relevance) == np.median(ranks)
    assert recall_at_k(scores, relevance, 1) == pytest.approx(np.mean(np.array(ranks) == 1))


def test_precision_recall_curve_matches_loop():
    scores, relevance = _scores_and_labels(seed=3)
    precision, recall = precision_recall_curve(scores, relevance, n_levels=11)
    np.testing.assert_allclose(recall, np.linspace(0, 1, 11))
    curves = []
    for q in range(len(scores)):
        ranked = _ranked(scores, relevance, q)
        hits = np.cumsum(ranked)
        prec, rec = hits / np.arange(1, len(ranked) + 1), hits / hits[-1]
        curves.append([prec[rec >= level - 1e-12].max() for level in recall])
    np.testing.assert_allclose(precision, np.mean(curves, axis=0), rtol=1e-12)
    assert np.all(np.diff(precision) <= 1e-12)  # interpolated precision never rises


def test_chunking_does_not_change_results():
    scores, relevance = _scores_and_labels(n_queries=200, n_items=300, seed=4)
    expected = average_precision(scores, relevance)
    with mmfuse.config_context(working_memory=1):
        np.testing.assert_allclose(average_precision(scores, relevance), expected)


def test_queries_without_relevant_items():
    scores, relevance = _scores_and_labels(seed=5)
    relevance[0] = False
    ap = average_precision(scores, relevance)
    assert np.isnan(ap[0]) and not np.isnan(ap[1:]).any()
    with pytest.warns(UserWarning, match="1 of 30 queries have no relevant item"):
        value = mean_average_precision(scores, relevance)
    assert value == pytest.approx(np.mean(ap[1:]))
    with pytest.raises(ValueError, match="no query has a relevant item"):
        mean_average_precision(scores, np.zeros_like(relevance))


@pytest.mark.parametrize("bad, error", [
    (lambda s, r: mean_average_precision(s[:, :5], r), "must match"),
    (lambda s, r: mean_average_precision(s[0], r[0]), "2-D"),
    (lambda s, r: mean_average_precision(np.empty((0, 4)), np.empty((0, 4), bool)), "empty"),
    (lambda s, r: mean_average_precision(np.where(s > 1, np.nan, s), r), "NaN"),
    (lambda s, r: mean_average_precision(s, r * 2), "boolean"),
    (lambda s, r: precision_at_k(s, r, 0), "k must be"),
    (lambda s, r: recall_at_k(s, r, 81), "k must be"),
    (lambda s, r: precision_recall_curve(s, r, n_levels=1), "n_levels"),
    (lambda s, r: relevance_from_labels([], [1]), "non-empty"),
])
def test_bad_input_clear_error(bad, error):
    scores, relevance = _scores_and_labels()
    with pytest.raises(ValueError, match=error):
        bad(scores, relevance)
