"""Conformance: sklearn's estimator checks for numeric estimators, the project's
media suite (mmfuse.utils.estimator_checks) for media transformers."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mmfuse.encoding import BagOfWords
from mmfuse.fusion import BlockNormalizer, EarlyFusion
from mmfuse.utils.estimator_checks import MEDIA_CHECKS

NUMERIC_ESTIMATORS = [
    BlockNormalizer(),
    BlockNormalizer(norm="l1"),
    BlockNormalizer(norm="standard"),
    EarlyFusion([("all", "passthrough", slice(0, None))]),
    EarlyFusion([("all", StandardScaler(with_mean=False), slice(0, None))], norm="standard"),
]


@parametrize_with_checks(NUMERIC_ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _images(n=6):
    import cv2

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        img = (rng.random((48, 48)) * 40).astype(np.uint8)
        cv2.circle(img, (24, 24), 6 + 2 * i, 255, -1)
        cv2.rectangle(img, (3, 3), (14 + i, 14), 128, -1)
        out.append(img)
    return out


def _media_cases():
    from mmfuse.image import SIFTExtractor
    from mmfuse.text import TextVectorizer

    rng = np.random.default_rng(0)
    sets = [rng.normal(size=(n, 8)).astype(np.float32) for n in (15, 0, 9, 30)]
    texts = ["a red circle on the table", "blue squares everywhere", "", None,
             "the crimson disk", "an emerald block near a window"]
    frame = pd.DataFrame({"image": _images(6), "text": texts})
    fusion = EarlyFusion([
        ("image", _sift_bow(SIFTExtractor), "image"),
        ("text", TextVectorizer(), "text"),
    ])
    return [
        ("SIFTExtractor-dense", SIFTExtractor(mode="dense", step=8, patch_size=16), _images(),
         [42, np.zeros((2, 2, 2, 2))]),
        ("SIFTExtractor-sparse-rootsift", SIFTExtractor(mode="sparse", rootsift=True), _images(),
         [3.5]),
        ("TextVectorizer", TextVectorizer(), texts, [7, pd.DataFrame({"a": texts, "b": texts})]),
        ("BagOfWords", BagOfWords(n_words=4, random_state=0), sets, [np.zeros((4, 8)), "x"]),
        ("EarlyFusion-media", fusion, frame, [np.arange(5.0)]),
    ]


def _sift_bow(SIFTExtractor):
    from sklearn.pipeline import Pipeline

    return Pipeline([("sift", SIFTExtractor(step=8, patch_size=16)),
                     ("bow", BagOfWords(n_words=5, random_state=0))])


@pytest.mark.parametrize("check", MEDIA_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", range(5), ids=lambda i: [
    "SIFTExtractor-dense", "SIFTExtractor-sparse-rootsift", "TextVectorizer", "BagOfWords",
    "EarlyFusion-media"][i])
def test_media_transformer_conformance(case, check):
    name, estimator, X, bad = _media_cases()[case]
    if check.__name__ == "check_wrong_input_clear_error":
        check(estimator, X, bad_inputs=bad)
    else:
        check(estimator, X)
