"""CrossModalRetriever against the index and metrics run by hand on the same embeddings."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.preprocessing import FunctionTransformer

from mmfuse.crossmodal import (
    CCA,
    CrossModalIndex,
    CrossModalRetriever,
    RankingEmbedding,
    SemanticMatching,
)
from mmfuse.crossmodal._retriever import colour_histograms
from mmfuse.crossmodal.metrics import (
    mean_average_precision,
    median_rank,
    precision_at_k,
    relevance_from_labels,
    relevance_from_pairs,
)
from mmfuse.text import TextVectorizer

WORDS = [["painting", "canvas", "museum"], ["football", "goal", "stadium"],
         ["violin", "concert", "melody"]]


def _frame(n=90, seed=0):
    """'Images' are vectors near a class centre, texts draw words of the class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = np.random.default_rng(42).normal(size=(3, 6))
    images = list(centres[labels] + 0.8 * rng.normal(size=(n, 6)))
    texts = [" ".join(rng.choice(WORDS[c] + ["the", "photo", "nice", "day"], size=5))
             for c in labels]
    frame = pd.DataFrame({"image": images, "text": texts}, index=[f"doc{i}" for i in range(n)])
    return frame, labels


def _retriever(method, metric="cosine"):
    return CrossModalRetriever(method, image_pipeline=FunctionTransformer(np.vstack),
                               text_pipeline=TextVectorizer(), metric=metric)


def test_search_matches_a_hand_built_index():
    frame, labels = _frame()
    retriever = _retriever(SemanticMatching()).fit(frame, labels)
    # The same steps by hand.
    images = np.vstack(frame["image"])
    vectorizer = TextVectorizer().fit(frame["text"])
    sm = SemanticMatching().fit(images, vectorizer.transform(frame["text"]), labels)
    index = CrossModalIndex()
    index.add(sm.transform_x(images), ids=list(frame.index))
    queries = ["goal stadium", "a violin concert"]
    scores, ids = index.search(sm.transform_y(vectorizer.transform(queries)), k=4)
    hits = retriever.search(text=queries, k=4)
    assert hits["id"].tolist() == ids.ravel().tolist()
    np.testing.assert_allclose(hits["score"], scores.ravel(), rtol=1e-6)
    assert hits["query"].tolist() == [0] * 4 + [1] * 4
    assert hits["rank"].tolist() == [1, 2, 3, 4] * 2
    assert set(hits["label"][:4]) == {1} and set(hits["label"][4:]) == {2}
    image_hits = retriever.search(image=frame["image"].iloc[0], k=500)  # k capped
    assert len(image_hits) == len(frame) and image_hits["label"].iloc[0] == 0


def test_evaluate_and_score_match_the_metrics():
    frame, labels = _frame(seed=1)
    test, test_labels = _frame(n=60, seed=2)
    retriever = _retriever(CCA(n_components=3), metric="correlation").fit(frame, labels)
    report = retriever.evaluate(test, test_labels, ks=(1, 5))
    cca = retriever.method_
    images = cca.transform_x(np.vstack(test["image"]))
    texts = cca.transform_y(retriever.text_pipeline_.transform(test["text"]))
    center = lambda A: A - A.mean(axis=1, keepdims=True)  # noqa: E731
    unit = lambda A: A / np.linalg.norm(A, axis=1, keepdims=True)  # noqa: E731
    image_to_text = unit(center(images)) @ unit(center(texts)).T
    relevance = relevance_from_labels(test_labels, test_labels)
    assert report["image->text"]["MAP"] == pytest.approx(
        mean_average_precision(image_to_text, relevance), rel=1e-5)
    assert report["text->image"]["MAP"] == pytest.approx(
        mean_average_precision(image_to_text.T, relevance), rel=1e-5)
    assert report["image->text"]["P@5"] == pytest.approx(
        precision_at_k(image_to_text, relevance, 5), rel=1e-5)
    assert retriever.score(test, test_labels) == pytest.approx(
        (report["image->text"]["MAP"] + report["text->image"]["MAP"]) / 2)
    # Without labels: pair relevance.
    pairs = retriever.evaluate(test)
    assert pairs["text->image"]["median rank"] == median_rank(
        image_to_text.T, relevance_from_pairs(np.arange(60), np.arange(60)))
    assert report["image->text"]["MAP"] > 0.45  # chance is about 1/3


def test_index_replaces_the_database_and_grid_search_works():
    frame, labels = _frame(seed=3)
    retriever = _retriever(RankingEmbedding(n_components=3, max_epochs=5,
                                            early_stopping=False, random_state=0))
    retriever.fit(frame, labels)
    other, other_labels = _frame(n=12, seed=4)
    other.index = [f"new{i}" for i in range(12)]
    retriever.index(other, other_labels)
    hits = retriever.search(text="goal", k=3)
    assert all(str(i).startswith("new") for i in hits["id"])
    search = GridSearchCV(_retriever(CCA()), {"method__n_components": [1, 2]},
                          cv=KFold(3, shuffle=True, random_state=0)).fit(frame, labels)
    assert search.best_params_["method__n_components"] in (1, 2)
    assert not hasattr(clone(retriever), "method_")


def test_errors():
    frame, labels = _frame(n=30)
    retriever = _retriever(SemanticMatching())
    with pytest.raises(TypeError, match="DataFrame"):
        retriever.fit(frame.to_numpy(), labels)
    with pytest.raises(ValueError, match="lacks column"):
        retriever.fit(frame.rename(columns={"text": "caption"}), labels)
    with pytest.raises(ValueError, match="labels y are required"):
        retriever.fit(frame)
    with pytest.raises(TypeError, match="two-view estimator"):
        _retriever(TextVectorizer()).fit(frame, labels)
    retriever.fit(frame, labels)
    with pytest.raises(ValueError, match="exactly one"):
        retriever.search(text="goal", image=frame["image"].iloc[0])
    with pytest.raises(ValueError, match="exactly one"):
        retriever.search()
    with pytest.raises(ValueError, match="no query"):
        retriever.search(text=[])
    with pytest.raises(ValueError, match="one label per row"):
        retriever.evaluate(frame, labels[:-1])


def test_colour_histograms_and_default_pipelines_on_images():
    from mmfuse.datasets import make_shapes

    data = make_shapes(n_samples=36, random_state=0)
    hist = colour_histograms(data.frame["image"])
    np.testing.assert_allclose(hist.sum(axis=1), 1, rtol=1e-5)
    frame = data.frame[["image", "text"]]
    # Default pipelines: dense SIFT bag of words for images, TF-IDF for text.
    retriever = CrossModalRetriever(SemanticMatching()).fit(frame, data.target)
    hits = retriever.search(image=frame["image"].iloc[0], k=3)
    assert len(hits) == 3 and set(hits.columns) == {"query", "rank", "id", "score", "label"}
