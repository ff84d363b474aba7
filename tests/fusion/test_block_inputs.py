"""Fusion inputs as users hold them: a mapping of named blocks (issue 16, part 2).

Each block may be a list of media cells, a dense 2-D array, a scipy sparse
matrix (kept sparse), a DataFrame or a pandas column of vectors; every fusion
estimator and CrossModalRetriever accept them. References: the same models
fitted by hand with scikit-learn on each block, or the same estimator on the
old input (a DataFrame with one column per feature).
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.preprocessing import FunctionTransformer

from mmfuse.blocks import Blocks, stack_vector_column
from mmfuse.crossmodal import CrossModalRetriever, SemanticMatching
from mmfuse.fusion import (
    CascadeFusionClassifier,
    EarlyFusion,
    HierarchicalFusionClassifier,
    KernelFusionClassifier,
    LateFusionClassifier,
)
from mmfuse.text import TextVectorizer

SEEN = []


class TypeSpy(TransformerMixin, BaseEstimator):
    """Passes its input through, recording the type it was given."""

    def fit(self, X, y=None):
        SEEN.append("sparse" if sp.issparse(X) else type(X).__name__)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return X

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"f{i}" for i in range(self.n_features_in_)], dtype=object)


def _data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n // 3)
    image = rng.normal(size=(n, 6)) + 0.8 * np.eye(3)[y] @ rng.normal(size=(3, 6))
    words = np.array(["red", "green", "blue"])
    texts = [f"{words[c]} {words[rng.integers(3)]} item" for c in y]
    text = sp.random(n, 300, density=0.03, random_state=seed, format="csr")
    text = sp.hstack([text, sp.csr_matrix(np.eye(3)[y] * rng.uniform(0.2, 1, (n, 1)))]).tocsr()
    return image, text, texts, y


def _as_type(block, kind):
    if kind == "dense":
        return block
    if kind == "sparse":
        return sp.csr_matrix(block)
    if kind == "frame":
        return pd.DataFrame(block, columns=[f"c{j}" for j in range(block.shape[1])])
    if kind == "series":
        return pd.Series(list(block))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["dense", "sparse", "frame", "series"])
def test_late_fusion_equals_per_block_sklearn(kind):
    image, text, _, y = _data()
    X = {"image": _as_type(image, kind), "text": text}
    late = LateFusionClassifier([("image", LogisticRegression(), "image"),
                                 ("text", LogisticRegression(), "text")]).fit(X, y)
    reference = (LogisticRegression().fit(image, y).predict_proba(image)
                 + LogisticRegression().fit(text, y).predict_proba(text)) / 2
    np.testing.assert_allclose(late.predict_proba(X), reference, rtol=1e-6, atol=1e-8)


def test_media_cells_beside_sparse_block():
    image, text, texts, y = _data()
    X = {"caption": texts, "text": text}
    late = LateFusionClassifier([
        ("caption", _pipeline(TextVectorizer(), LogisticRegression()), "caption"),
        ("text", LogisticRegression(), "text")]).fit(X, y)
    caption_model = _pipeline(TextVectorizer(), LogisticRegression()).fit(texts, y)
    reference = (caption_model.predict_proba(texts)
                 + LogisticRegression().fit(text, y).predict_proba(text)) / 2
    np.testing.assert_allclose(late.predict_proba(X), reference, rtol=1e-6, atol=1e-8)


def _pipeline(*steps):
    from sklearn.pipeline import make_pipeline

    return make_pipeline(*steps)


@pytest.mark.parametrize("kind", ["dense", "sparse", "frame", "series"])
def test_early_fusion_on_blocks_equals_spread_dataframe(kind):
    image, text, _, _ = _data()
    dense_text = text.toarray()
    X = {"image": _as_type(image, kind), "text": _as_type(dense_text, "dense")}
    fused = EarlyFusion([("image", "passthrough", "image"), ("text", "passthrough", "text")],
                        weights={"text": 0.5}).fit(X)
    # the old way: one DataFrame column per feature
    frame = pd.DataFrame(np.hstack([image, dense_text]),
                         columns=[f"i{j}" for j in range(6)] + [f"t{j}" for j in range(303)])
    reference = EarlyFusion([("image", "passthrough", [f"i{j}" for j in range(6)]),
                             ("text", "passthrough", [f"t{j}" for j in range(303)])],
                            weights={"text": 0.5}).fit(frame)
    Z = fused.transform(X)
    Z = Z.toarray() if sp.issparse(Z) else Z
    np.testing.assert_allclose(Z, reference.transform(frame), rtol=1e-6, atol=1e-9)
    assert fused.block_slices_ == reference.block_slices_
    assert fused.get_feature_names_out()[0].startswith("image__")


def test_early_fusion_keeps_sparse_blocks_sparse():
    image, text, _, _ = _data()
    fused = EarlyFusion([("image", "passthrough", "image"), ("text", "passthrough", "text")])
    Z = fused.fit_transform({"image": image, "text": text})
    assert sp.issparse(Z) and Z.shape == (90, 6 + 303)
    np.testing.assert_allclose(sp.linalg.norm(Z[:, 6:], axis=1), 1, rtol=1e-6)


ESTIMATORS = {
    "early": lambda m: _pipeline(EarlyFusion(m), LogisticRegression()),
    "late_mean": lambda m: LateFusionClassifier(
        [(n, _pipeline(t, LogisticRegression()), c) for n, t, c in m]),
    "late_stacking": lambda m: LateFusionClassifier(
        [(n, _pipeline(t, LogisticRegression()), c) for n, t, c in m], combine="stacking", cv=3),
    "kernel": lambda m: KernelFusionClassifier(m, kernel="linear"),
    "cascade": lambda m: CascadeFusionClassifier(m),
    "hierarchical": lambda m: HierarchicalFusionClassifier(m, tree=["image", "text"], cv=3),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("kind", ["dense", "frame", "series", "sparse"])
def test_every_fusion_estimator_accepts_blocks_and_keeps_sparse(name, kind):
    image, text, _, y = _data()
    X = {"image": _as_type(image, kind), "text": text}
    SEEN.clear()
    model = ESTIMATORS[name]([("image", TypeSpy(), "image"), ("text", TypeSpy(), "text")])
    model.fit(X, y)
    assert "sparse" in SEEN  # the TF-IDF-like block reached its transformer sparse
    if kind == "sparse":
        assert set(SEEN) == {"sparse"}
    accuracy = np.mean(model.predict(X) == y)
    assert accuracy > 0.9
    with pytest.raises(ValueError, match="blocks"):
        model.predict({"image": _as_type(image, kind)[:10] if kind != "series"
                       else pd.Series(list(image[:10])), "text": text[:11]})


def test_length_mismatch_names_the_blocks():
    image, text, _, y = _data()
    with pytest.raises(ValueError, match=r"'image': 90, 'text': 80"):
        LateFusionClassifier([("image", LogisticRegression(), "image"),
                              ("text", LogisticRegression(), "text")]).fit(
            {"image": image, "text": text[:80]}, y)


def test_unknown_block_is_named():
    image, text, _, y = _data()
    with pytest.raises(ValueError, match=r"no block 'picture'.*\['image', 'text'\]"):
        LateFusionClassifier([("image", LogisticRegression(), "picture"),
                              ("text", LogisticRegression(), "text")]).fit(
            {"image": image, "text": text}, y)


def test_missing_rows_of_a_dense_block_are_a_missing_modality():
    image, text, _, y = _data()
    image = image.copy()
    image[::5] = np.nan
    late = LateFusionClassifier([("image", LogisticRegression(), "image"),
                                 ("text", LogisticRegression(), "text")]).fit(
        {"image": image, "text": text}, y)
    proba = late.predict_proba({"image": image, "text": text})
    text_only = LogisticRegression().fit(text, y).predict_proba(text)
    np.testing.assert_allclose(proba[::5], text_only[::5], rtol=1e-6)


def test_blocks_work_with_sklearn_model_selection():
    image, text, _, y = _data()
    X = Blocks({"image": image, "text": text})
    model = LateFusionClassifier([("image", LogisticRegression(), "image"),
                                  ("text", LogisticRegression(), "text")])
    scores = cross_val_score(model, X, y, cv=3)
    # reference: the old input, one DataFrame column per feature
    frame = pd.DataFrame(np.hstack([image, text.toarray()]))
    frame.columns = [f"c{j}" for j in range(frame.shape[1])]
    spread = LateFusionClassifier([("image", LogisticRegression(), list(frame.columns[:6])),
                                   ("text", LogisticRegression(), list(frame.columns[6:]))])
    np.testing.assert_allclose(scores, cross_val_score(spread, frame, y, cv=3))
    search = GridSearchCV(model, {"image__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["image__C"] in (0.01, 1.0)


def test_stack_vector_column_rules():
    column = pd.Series([np.array([1.0, 2.0]), None, [3, 4]])
    np.testing.assert_array_equal(stack_vector_column(column),
                                  [[1, 2], [np.nan, np.nan], [3, 4]])
    assert stack_vector_column(pd.Series([np.ones(2), np.ones(3)])) is None  # ragged
    assert stack_vector_column(["a text", None]) is None


def test_crossmodal_retriever_accepts_blocks():
    image, _, texts, y = _data()
    frame = pd.DataFrame({"image": list(image), "text": texts})
    by_frame = CrossModalRetriever(SemanticMatching(),
                                   image_pipeline=FunctionTransformer(np.vstack),
                                   text_pipeline=TextVectorizer()).fit(frame, y)
    by_blocks = CrossModalRetriever(SemanticMatching(), image_pipeline=FunctionTransformer(),
                                    text_pipeline=TextVectorizer()).fit(
        {"image": image, "text": texts}, y)
    a = by_frame.similarities(frame)
    b = by_blocks.similarities({"image": image, "text": texts})
    np.testing.assert_allclose(a["image->text"], b["image->text"], rtol=1e-6, atol=1e-9)
    assert by_blocks.score({"image": image, "text": texts}, y) == pytest.approx(
        by_frame.score(frame, y))


def test_dataframe_vector_column_and_equal_length_clips():
    """A DataFrame column of feature vectors is one 2-D block; a column of equal-length
    audio clips stays a column of clips for the media transformer."""
    from mmfuse.audio import MFCCExtractor

    image, _, _, y = _data()
    rng = np.random.default_rng(1)
    t = np.arange(4000) / 8000
    clips = [np.sin(2 * np.pi * (300 + 200 * c) * t) + 0.3 * rng.normal(size=t.size)
             for c in y]
    frame = pd.DataFrame({"image": list(image), "audio": clips})

    def audio_model():
        return _pipeline(MFCCExtractor(sr=8000, output="summary"), LogisticRegression())

    late = LateFusionClassifier([("image", LogisticRegression(), "image"),
                                 ("audio", audio_model(), "audio")]).fit(frame, y)
    reference = (LogisticRegression().fit(image, y).predict_proba(image)
                 + audio_model().fit(clips, y).predict_proba(clips)) / 2
    np.testing.assert_allclose(late.predict_proba(frame), reference, rtol=1e-6, atol=1e-8)
