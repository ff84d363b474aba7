"""CrossModalIndex top-k against exhaustive search with independent similarity functions."""

import numpy as np
import pytest
from scipy.special import rel_entr
from sklearn.metrics.pairwise import cosine_similarity

import mmfuse
from mmfuse.crossmodal import CrossModalIndex


def _reference_scores(queries, database, metric):
    if metric == "cosine":
        return cosine_similarity(queries, database)
    if metric == "inner_product":
        return queries @ database.T
    if metric == "correlation":
        n = len(queries)
        return np.corrcoef(queries, database)[:n, n:]
    # kl: -KL(query || item) with rows normalised to probabilities
    p = queries / queries.sum(axis=1, keepdims=True)
    q = database / database.sum(axis=1, keepdims=True)
    return -rel_entr(p[:, None, :], q[None, :, :]).sum(axis=2)


def _data(metric, n_items=300, n_queries=40, dim=12, seed=0):
    rng = np.random.default_rng(seed)
    if metric == "kl":
        return rng.dirichlet(np.ones(dim), n_queries), rng.dirichlet(np.ones(dim), n_items)
    return rng.normal(size=(n_queries, dim)), rng.normal(size=(n_items, dim))


@pytest.mark.parametrize("metric", ["cosine", "inner_product", "correlation", "kl"])
@pytest.mark.parametrize("k", [1, 7, 300])
def test_topk_matches_exhaustive_search(metric, k):
    queries, database = _data(metric)
    index = CrossModalIndex(metric, dtype=np.float64)
    index.add(database, ids=np.arange(1000, 1300))
    scores, ids = index.search(queries, k=k)
    reference = _reference_scores(queries, database, metric)
    order = np.argsort(-reference, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(ids, order + 1000)
    np.testing.assert_allclose(scores, np.take_along_axis(reference, order, axis=1),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(index.similarity(queries), reference, rtol=1e-9, atol=1e-12)


def test_chunking_and_float32_give_the_same_ranking():
    queries, database = _data("cosine", n_items=500, n_queries=97)
    full = CrossModalIndex(dtype=np.float64)
    full.add(database)
    chunked = CrossModalIndex(dtype=np.float64, chunk_size=5)
    chunked.add(database)
    np.testing.assert_array_equal(chunked.search(queries, k=20)[1], full.search(queries, k=20)[1])
    with mmfuse.config_context(working_memory=1):
        np.testing.assert_array_equal(full.search(queries, k=20)[1],
                                      full.search(queries, k=20)[1])
    single = CrossModalIndex()  # float32
    single.add(database)
    scores32, ids32 = single.search(queries, k=5)
    assert scores32.dtype == np.float32
    scores64, ids64 = full.search(queries, k=5)
    np.testing.assert_allclose(scores32, scores64, atol=1e-5)


def test_ties_are_ordered_by_storage_position():
    index = CrossModalIndex("inner_product", dtype=np.float64)
    index.add(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]))
    assert index.search(np.array([[1.0, 0.0]]), k=4)[1].tolist() == [[0, 2, 3, 1]]
    rng = np.random.default_rng(0)  # many ties: small integer vectors
    queries, database = rng.integers(0, 3, (50, 3)) * 1.0, rng.integers(0, 3, (200, 3)) * 1.0
    index = CrossModalIndex("inner_product", dtype=np.float64, chunk_size=16)
    index.add(database)
    exact = queries @ database.T
    for k in (1, 13, 77, 200):
        scores, rows = index.search(queries, k=k)
        expected = -np.sort(-exact, axis=1)[:, :k]
        np.testing.assert_array_equal(scores, expected)  # the right scores make the cut
        np.testing.assert_array_equal(np.take_along_axis(exact, rows, axis=1), scores)
        tied = np.diff(scores, axis=1) == 0
        assert np.all(np.diff(rows, axis=1)[tied] > 0)  # equal scores by position


def test_add_remove_and_ids():
    queries, database = _data("cosine", n_items=50)
    index = CrossModalIndex()
    index.add(database[:30], ids=[f"img{i}" for i in range(30)])
    index.add(database[30:], ids=[f"img{i}" for i in range(30, 50)])
    assert len(index) == 50 and index.dim == 12
    removed = [f"img{i}" for i in range(0, 50, 2)]
    index.remove(removed)
    assert len(index) == 25
    _, ids = index.search(queries, k=25)
    assert not set(ids.ravel()) & set(removed)
    reference = cosine_similarity(queries, database[1::2])
    expected = np.array([f"img{i}" for i in range(1, 50, 2)], dtype=object)
    np.testing.assert_array_equal(ids[:, 0], expected[np.argmax(reference, axis=1)])
    default = CrossModalIndex()
    default.add(database[:3])
    default.add(database[3:5])
    assert default.ids.tolist() == [0, 1, 2, 3, 4]
    default.remove([0, 4])
    assert default.search(database[2], k=1)[1].tolist() == [[2]]
    default.remove([1, 2, 3])
    assert len(default) == 0 and default.dim is None


@pytest.mark.parametrize("ids", [None, ["a", "b", "c", "d"]])
def test_save_load_round_trip(tmp_path, ids):
    queries, database = _data("correlation", n_items=4, n_queries=3)
    index = CrossModalIndex("correlation", dtype=np.float64)
    index.add(database, ids=ids)
    path = tmp_path / "index.npz"
    index.save(path)
    loaded = CrossModalIndex.load(path)
    assert loaded.metric == "correlation" and loaded.dtype == np.float64
    for a, b in zip(loaded.search(queries, k=4), index.search(queries, k=4), strict=True):
        np.testing.assert_array_equal(a, b)
    empty = CrossModalIndex()
    empty.save(tmp_path / "empty.npz")
    assert len(CrossModalIndex.load(tmp_path / "empty.npz")) == 0


@pytest.mark.parametrize("bad, error", [
    (lambda index: CrossModalIndex().search(np.ones((1, 3))), "empty"),
    (lambda index: index.search(np.ones((1, 5))), "columns"),
    (lambda index: index.search(np.full((2, 3), np.nan)), "row 0 holds NaN"),
    (lambda index: index.search(np.ones((1, 3)), k=0), "k must be"),
    (lambda index: index.search(np.ones((1, 3)), k=11), "k must be"),
    (lambda index: index.search(np.empty((0, 3))), "empty"),
    (lambda index: index.add(np.ones((2, 3)), ids=[1, 1]), "duplicates"),
    (lambda index: index.add(np.ones((1, 3)), ids=[3]), "already in the index"),
    (lambda index: index.add(np.ones((2, 3)), ids=[20]), "one id per vector"),
    (lambda index: index.remove([99]), "not in the index"),
    (lambda index: CrossModalIndex("kl").add(-np.ones((1, 3))), "non-negative"),
    (lambda index: CrossModalIndex("euclid"), "metric must be"),
])
def test_bad_input_clear_error(bad, error):
    index = CrossModalIndex()
    index.add(np.random.default_rng(0).normal(size=(10, 3)))
    with pytest.raises((ValueError, KeyError), match=error):
        bad(index)


@pytest.mark.gpu
@pytest.mark.parametrize("metric", ["cosine", "kl"])
def test_gpu_matches_cpu(metric):
    queries, database = _data(metric, n_items=2000, n_queries=300)
    index = CrossModalIndex(metric, dtype=np.float64)
    index.add(database)
    cpu_scores, cpu_ids = index.search(queries, k=10)
    with mmfuse.config_context(device="gpu"):
        gpu_scores, gpu_ids = index.search(queries, k=10)
        full = index.similarity(queries)
    assert isinstance(gpu_scores, np.ndarray)
    np.testing.assert_array_equal(gpu_ids, cpu_ids)
    np.testing.assert_allclose(gpu_scores, cpu_scores, rtol=1e-9)
    np.testing.assert_allclose(full, _reference_scores(queries, database, metric), rtol=1e-9)
