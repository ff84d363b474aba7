import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state

from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding import BagOfWords


def _sets(seed=0, lengths=(40, 0, 25, 1, 60)):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=5, size=(6, 10))
    out = []
    for n in lengths:
        idx = rng.integers(0, 6, size=n)
        out.append((centers[idx] + rng.normal(size=(n, 10))).astype(np.float32))
    return out


def _reference(sets, n_words, random_state, norm, max_descriptors=None):
    """Same algorithm written directly with sklearn KMeans and NumPy."""
    rng = check_random_state(random_state)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    allx = np.concatenate(sets)
    if max_descriptors is not None and len(allx) > max_descriptors:
        allx = allx[np.sort(rng.choice(len(allx), size=max_descriptors, replace=False))]
    km = KMeans(n_clusters=n_words, n_init=1, random_state=seed).fit(allx)
    rows = []
    for s in sets:
        h = np.bincount(km.predict(s), minlength=n_words).astype(np.float64) if len(s) else (
            np.zeros(n_words))
        if norm == "l1" and h.sum():
            h /= h.sum()
        elif norm == "l2" and h.sum():
            h /= np.linalg.norm(h)
        rows.append(h)
    return km.cluster_centers_, np.array(rows)


@pytest.mark.parametrize("norm", ["l1", "l2", None])
def test_bow_matches_sklearn_kmeans_reference(norm):
    sets = _sets()
    bow = BagOfWords(n_words=6, norm=norm, codebook="kmeans", random_state=7).fit(sets)
    centers, expected = _reference(sets, 6, 7, norm)
    np.testing.assert_allclose(bow.cluster_centers_, centers, rtol=1e-5, atol=1e-5)
    codes = bow.transform(sets)
    assert codes.dtype == np.float32 and codes.shape == (5, 6)
    np.testing.assert_allclose(codes, expected, rtol=1e-5, atol=1e-6)
    # zero-descriptor sample -> zeros; single-descriptor sample -> one-hot
    assert not codes[1].any()
    assert np.count_nonzero(codes[3]) == 1


def test_bow_subsampling_matches_reference_and_accepts_descriptor_set():
    sets = _sets(lengths=(300, 200, 100))
    ds = DescriptorSet.from_arrays(sets)
    bow = BagOfWords(n_words=5, codebook="kmeans", max_descriptors=150, random_state=3).fit(ds)
    centers, expected = _reference(sets, 5, 3, "l1", max_descriptors=150)
    np.testing.assert_allclose(bow.cluster_centers_, centers, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bow.transform(ds), expected, rtol=1e-5, atol=1e-6)


def test_bow_minibatch_and_feature_names():
    sets = _sets(lengths=(500, 500))
    bow = BagOfWords(n_words=6, codebook="minibatch", random_state=0).fit(sets)
    assert bow.get_feature_names_out().tolist() == [f"bagofwords{i}" for i in range(6)]
    np.testing.assert_allclose(bow.transform(sets).sum(axis=1), 1, rtol=1e-6)


def test_bow_errors():
    with pytest.raises(ValueError, match="at least n_words=50"):
        BagOfWords(n_words=50).fit(_sets(lengths=(3, 4)))
    bow = BagOfWords(n_words=3, random_state=0).fit(_sets())
    with pytest.raises(ValueError, match="10"):
        bow.transform([np.zeros((2, 7), np.float32)])
    bad = _sets(lengths=(5, 5))
    bad[1][2, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in samples \[1\]"):
        bow.transform(bad)
    with pytest.raises(TypeError, match="DescriptorSet"):
        bow.transform(np.zeros((3, 10)))


def _soft_reference(sets, km, n_nearest, bandwidth):
    """Kernel codebook written directly: weights over the n nearest codewords."""
    from scipy.spatial.distance import cdist

    rows = []
    for s in sets:
        h = np.zeros(len(km.cluster_centers_))
        if len(s):
            d2 = cdist(s.astype(np.float64), km.cluster_centers_, "sqeuclidean")
            for row in d2:
                near = np.argsort(row)[:n_nearest]
                w = np.exp(-row[near] / (2 * bandwidth**2))
                h[near] += w / w.sum()
        rows.append(h)
    return np.array(rows)


@pytest.mark.parametrize("n_nearest", [1, 3, 6])
def test_bow_soft_assignment_matches_reference(n_nearest):
    sets = _sets()
    bow = BagOfWords(n_words=6, assignment="soft", n_nearest=n_nearest, norm=None,
                     codebook="kmeans", random_state=7).fit(sets)
    km = KMeans(n_clusters=6, n_init=1, random_state=int(
        check_random_state(7).randint(np.iinfo(np.int32).max))).fit(np.concatenate(sets))
    d2 = km.transform(np.concatenate(sets)).min(axis=1) ** 2
    np.testing.assert_allclose(bow.bandwidth_, np.sqrt(np.median(d2)), rtol=1e-4)
    expected = _soft_reference(sets, km, n_nearest, bow.bandwidth_)
    codes = bow.transform(sets)
    np.testing.assert_allclose(codes, expected, rtol=1e-4, atol=1e-5)
    # every descriptor spreads one unit of mass; empty sample stays empty
    np.testing.assert_allclose(codes.sum(axis=1), [len(s) for s in sets], rtol=1e-5)
    assert not codes[1].any()


@pytest.mark.parametrize("norm", ["l1", "l2", "power", None])
def test_bow_tfidf_and_norms_match_sklearn(norm):
    from sklearn.feature_extraction.text import TfidfTransformer

    sets = _sets(lengths=(40, 0, 25, 1, 60, 3))
    bow = BagOfWords(n_words=6, norm=norm, tfidf=True, codebook="kmeans",
                     random_state=7).fit(sets)
    _, counts = _reference(sets, 6, 7, None)
    tfidf = TfidfTransformer(norm=None, smooth_idf=True).fit(counts)
    weighted = tfidf.transform(counts).toarray()
    if norm == "power":
        weighted = np.sqrt(weighted)
    if norm is not None:
        ord_ = 1 if norm == "l1" else 2
        scale = np.linalg.norm(weighted, ord=ord_, axis=1, keepdims=True)
        weighted = weighted / np.where(scale > 0, scale, 1)
    np.testing.assert_allclose(bow.idf_, tfidf.idf_, rtol=1e-5)
    np.testing.assert_allclose(bow.transform(sets), weighted, rtol=1e-4, atol=1e-6)


def test_bow_soft_fixed_bandwidth_and_conformance():
    from mmfuse.utils.estimator_checks import check_media_transformer

    sets = _sets()
    bow = BagOfWords(n_words=4, assignment="soft", bandwidth=2.5, random_state=0).fit(sets)
    assert bow.bandwidth_ == 2.5
    check_media_transformer(BagOfWords(n_words=4, assignment="soft", tfidf=True,
                                       norm="power", random_state=0), sets,
                            bad_inputs=[np.zeros((4, 10)), "x"])


@pytest.mark.parametrize("n_words, expected", [(4, 1024), (8, 2048)])
def test_auto_codebook_sample_is_256_per_word(n_words, expected):
    from mmfuse.encoding import VLAD

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(300, 5)).astype(np.float32) for _ in range(12)]  # 3,600 rows
    for cls in (BagOfWords, VLAD):
        auto = cls(n_words, random_state=0).fit(arrays)
        explicit = cls(n_words, max_descriptors=expected, random_state=0).fit(arrays)
        assert auto.max_descriptors_ == expected
        np.testing.assert_array_equal(auto.cluster_centers_, explicit.cluster_centers_)
        everything = cls(n_words, max_descriptors=3600, random_state=0).fit(arrays)
        assert not np.array_equal(auto.cluster_centers_, everything.cluster_centers_)


def test_auto_codebook_sample_is_capped_at_100k():
    rng = np.random.default_rng(0)
    ds = DescriptorSet.from_arrays([rng.normal(size=(65_000, 2)).astype(np.float32)
                                    for _ in range(2)])
    bow = BagOfWords(500)
    sample = bow._sample_descriptors(ds, check_random_state(0))
    assert bow.max_descriptors_ == 100_000 and sample.shape == (100_000, 2)
    # rows of the data, each drawn once
    rows = {tuple(r) for r in ds.values.tolist()}
    assert len({tuple(r) for r in sample.tolist()} & rows) == 100_000
