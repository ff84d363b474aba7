"""Extract once, fuse many times: CachedTransformer (issue 16, part 3)."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

from mmfuse.audio import MFCCExtractor
from mmfuse.datasets import make_shapes
from mmfuse.encoding import BagOfWords
from mmfuse.fusion import LateFusionClassifier
from mmfuse.image import SIFTExtractor
from mmfuse.parallel import CachedTransformer
from mmfuse.text import TextVectorizer

EXTRACTED = []


class CountingSIFT(SIFTExtractor):
    """SIFTExtractor that records how many images it describes."""

    def transform(self, X):
        EXTRACTED.append(len(X))
        return super().transform(X)


@pytest.fixture(autouse=True)
def fresh_cache():
    CachedTransformer.clear()
    EXTRACTED.clear()
    yield
    CachedTransformer.clear()


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(n_samples=60, random_state=0)


def _assert_same_descriptors(a, b):
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.extents, b.extents)
    np.testing.assert_array_equal(a.missing, b.missing)


def test_outputs_equal_the_wrapped_transformer(shapes):
    images = list(shapes.frame["image"])
    images[3] = None  # a missing cell stays missing
    direct = SIFTExtractor(mode="sparse").fit_transform(images)
    cached = CachedTransformer(SIFTExtractor(mode="sparse")).fit(images)
    _assert_same_descriptors(cached.transform(images), direct)
    assert (cached.n_computed_, cached.n_reused_) == (60, 0)  # 59 images and one None
    # a shuffled subset is read back, nothing recomputed
    order = [7, 2, 50, 3, 2]
    _assert_same_descriptors(cached.transform([images[i] for i in order]),
                             SIFTExtractor(mode="sparse").fit_transform(
                                 [images[i] for i in order]))
    assert cached.n_computed_ == 0 and cached.n_reused_ == 5


def test_cross_validation_extracts_each_image_once(shapes):
    images, y = list(shapes.frame["image"]), shapes.target

    def pipeline(extractor):
        return Pipeline([("sift", extractor), ("bow", BagOfWords(n_words=8, random_state=0)),
                         ("clf", LogisticRegression(max_iter=500))])

    plain = cross_val_score(pipeline(CountingSIFT(mode="sparse")), images, y, cv=5)
    extractions_plain = sum(EXTRACTED)
    EXTRACTED.clear()
    cached = cross_val_score(pipeline(CachedTransformer(CountingSIFT(mode="sparse"))),
                             images, y, cv=5)
    np.testing.assert_allclose(cached, plain)  # same scores
    assert extractions_plain >= 5 * len(images)  # train + test of every fold
    assert sum(EXTRACTED) == len(images)  # each image once


def test_stacking_and_grid_search_extract_once(shapes):
    frame, y = shapes.frame, shapes.target
    image = Pipeline([("sift", CachedTransformer(CountingSIFT(mode="sparse"))),
                      ("bow", BagOfWords(n_words=8, random_state=0)),
                      ("clf", LogisticRegression(max_iter=500))])
    text = Pipeline([("tfidf", TextVectorizer()), ("clf", LogisticRegression(max_iter=500))])
    late = LateFusionClassifier([("image", image, "image"), ("text", text, "text")],
                                combine="stacking", cv=5)
    search = GridSearchCV(late, {"image__clf__C": [0.1, 1.0]}, cv=3).fit(frame, y)
    assert search.best_params_["image__clf__C"] in (0.1, 1.0)
    assert sum(EXTRACTED) == len(frame)


def test_disk_cache_is_shared_and_keyed_by_parameters(shapes, tmp_path):
    images = list(shapes.frame["image"][:10])
    first = CachedTransformer(SIFTExtractor(mode="sparse"), location=tmp_path).fit(images)
    expected = first.transform(images)
    CachedTransformer.clear()  # another process would start with an empty memory store
    again = CachedTransformer(SIFTExtractor(mode="sparse"), location=tmp_path).fit(images)
    _assert_same_descriptors(again.transform(images), expected)
    assert again.n_computed_ == 0 and again.n_reused_ == 10
    other = CachedTransformer(SIFTExtractor(mode="sparse", rootsift=True),
                              location=tmp_path).fit(images)
    out = other.transform(images)
    assert other.n_computed_ == 10  # different parameters: different keys
    _assert_same_descriptors(out, SIFTExtractor(mode="sparse", rootsift=True)
                             .fit_transform(images))
    # n_jobs only changes how it runs: same key
    parallel = CachedTransformer(SIFTExtractor(mode="sparse", n_jobs=2),
                                 location=tmp_path).fit(images)
    parallel.transform(images)
    assert parallel.n_computed_ == 0


def test_dense_and_sparse_outputs(shapes, tmp_path):
    clips = list(shapes.frame["audio"][:8])
    mfcc = MFCCExtractor(sr=shapes.audio_sample_rate, output="summary")
    for location in (None, tmp_path):
        cached = CachedTransformer(mfcc, location=location).fit(clips)
        cached.transform(clips)
        again = CachedTransformer(mfcc, location=location).fit(clips).transform(clips)
        np.testing.assert_allclose(again, mfcc.fit_transform(clips), rtol=1e-6)
        texts = list(shapes.frame["text"][:8])
        hashing = HashingVectorizer(n_features=64)
        CachedTransformer(hashing, location=location).fit(texts).transform(texts)
        sparse = CachedTransformer(hashing, location=location).fit(texts).transform(texts)
        assert sp.issparse(sparse)
        np.testing.assert_allclose(sparse.toarray(), hashing.transform(texts).toarray())


def test_media_transformer_conformance():
    from mmfuse.utils.estimator_checks import check_media_transformer

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (48, 48), dtype=np.uint8) for _ in range(4)] + [None]
    check_media_transformer(CachedTransformer(SIFTExtractor(mode="sparse")), images,
                            bad_inputs=[np.zeros((3, 4)), "x.png"])
