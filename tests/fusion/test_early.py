import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mmfuse.fusion import BlockNormalizer, EarlyFusion


def test_block_normalizer_against_numpy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 7))
    X[3] = 0
    out = BlockNormalizer("l2").fit_transform(X)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(out, np.divide(X, norms, where=norms > 0, out=np.zeros_like(X)))
    out = BlockNormalizer("l1").fit_transform(X)
    np.testing.assert_allclose(np.abs(out).sum(axis=1)[[0, 1, 2, 4]], 1)
    out = BlockNormalizer("standard").fit_transform(X)
    ref = (X - X.mean(0)) / X.std(0) / np.sqrt(7)
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    np.testing.assert_allclose((out**2).sum(axis=1).mean(), 1, rtol=1e-6)
    Xs = sp.csr_matrix(X)
    assert sp.issparse(BlockNormalizer("l2").fit_transform(Xs))


def test_wide_block_does_not_drown_narrow_block():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(50, 201)) * 100)
    df.columns = [f"w{i}" for i in range(200)] + ["n"]
    fusion = EarlyFusion([("wide", StandardScaler(), [f"w{i}" for i in range(200)]),
                          ("narrow", StandardScaler(), ["n"])]).fit(df)
    Z = fusion.transform(df)
    wide, narrow = Z[:, fusion.block_slices_["wide"]], Z[:, fusion.block_slices_["narrow"]]
    np.testing.assert_allclose(np.linalg.norm(wide, axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(narrow, axis=1), 1, rtol=1e-6)
    weighted = EarlyFusion([("wide", StandardScaler(), [f"w{i}" for i in range(200)]),
                            ("narrow", StandardScaler(), ["n"])], weights={"wide": 0.25})
    Zw = weighted.fit_transform(df)
    np.testing.assert_allclose(np.linalg.norm(Zw[:, :200], axis=1), 0.25, rtol=1e-6)


def test_mixed_sparse_text_and_dense_blocks_in_gridsearch():
    texts = ["red circle", "blue square", "red square", "blue circle"] * 10
    df = pd.DataFrame({"text": texts, "x": np.arange(40.0) % 4})
    y = np.array([0, 1, 0, 1] * 10)
    model = Pipeline([
        ("fusion", EarlyFusion([("text", TfidfVectorizer(), "text"),
                                ("num", "passthrough", ["x"])])),
        ("clf", LogisticRegression()),
    ])
    search = GridSearchCV(model, {"fusion__norm": ["l2", "standard"],
                                  "fusion__weights": [None, {"num": 0.1}]}, cv=2).fit(df, y)
    assert search.best_score_ == 1.0
    names = search.best_estimator_[0].get_feature_names_out().tolist()
    assert names[-1] == "num__x" and "text__red" in names


def test_mapping_input_and_mismatched_lengths():
    fusion = EarlyFusion([("a", "passthrough", ["a"]), ("b", "passthrough", ["b"])])
    out = fusion.fit_transform({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert out.shape == (2, 2)
    with pytest.raises(ValueError, match=r"different numbers of samples \('a': 2, 'b': 3\)"):
        fusion.fit({"a": [1.0, 2.0], "b": [3.0, 4.0, 5.0]})


def test_bad_specs():
    df = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match="unique"):
        EarlyFusion([("a", "passthrough", ["a"]), ("a", "passthrough", ["a"])]).fit(df)
    with pytest.raises(ValueError, match="unknown modalities"):
        EarlyFusion([("a", "passthrough", ["a"])], weights={"zz": 1.0}).fit(df)
    with pytest.raises(ValueError, match="Reshape"):
        EarlyFusion([("a", "passthrough", [0])]).fit(np.array([1.0, 2.0]))
