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


def test_power_normalisation_against_numpy():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(15, 6))
    P = np.sign(X) * np.abs(X) ** 0.3
    ref = P / np.linalg.norm(P, axis=1, keepdims=True)
    np.testing.assert_allclose(BlockNormalizer("power", alpha=0.3).fit_transform(X), ref)
    out = BlockNormalizer("power").fit_transform(sp.csr_matrix(np.abs(X)))
    np.testing.assert_allclose(out.toarray(), np.sqrt(np.abs(X)) / np.linalg.norm(
        np.sqrt(np.abs(X)), axis=1, keepdims=True))


def test_per_block_norms_and_balanced_weights():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 12))
    fusion = EarlyFusion([("wide", "passthrough", list(range(9))),
                          ("narrow", "passthrough", [9, 10, 11])],
                         norm={"wide": None, "narrow": "power"}, weights="balanced")
    Z = fusion.fit_transform(X)
    w_wide, w_narrow = np.sqrt(6 / 9), np.sqrt(6 / 3)
    assert fusion.weights_ == pytest.approx({"wide": w_wide, "narrow": w_narrow})
    np.testing.assert_allclose(Z[:, :9], w_wide * X[:, :9])
    P = np.sign(X[:, 9:]) * np.sqrt(np.abs(X[:, 9:]))
    np.testing.assert_allclose(Z[:, 9:], w_narrow * P / np.linalg.norm(P, axis=1, keepdims=True))
    np.testing.assert_allclose(fusion.transform(X), Z)
    with pytest.raises(ValueError, match="norm values must be one of"):
        EarlyFusion([("a", "passthrough", [0])], norm={"a": "l7"}).fit(X)


def test_cv_weights_pick_the_best_grid_point():
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    X = np.hstack([rng.normal(size=(80, 2)) + y[:, None], rng.normal(size=(80, 5))])
    grid = (0.25, 1.0, 4.0)
    mods = [("signal", "passthrough", [0, 1]), ("noise", "passthrough", [2, 3, 4, 5, 6])]
    fusion = EarlyFusion(mods, norm="l2", weights="cv", weight_grid=grid, cv=4).fit(X, y)
    # Coordinate ascent by hand, in block order, strict improvement only.
    base = EarlyFusion(mods).fit_transform(X)

    def score(ws, wn):
        Z = np.hstack([ws * base[:, :2], wn * base[:, 2:]])
        return cross_val_score(LogisticRegression(max_iter=1000), Z, y, cv=4,
                               scoring="neg_log_loss").mean()

    best, weights = score(1.0, 1.0), [1.0, 1.0]
    for i in range(2):
        for w in grid:
            trial = list(weights)
            trial[i] = w
            if trial != weights and (s := score(*trial)) > best + 1e-12:
                best, weights = s, trial
    assert [fusion.weights_["signal"], fusion.weights_["noise"]] == weights
    assert fusion.weights_["signal"] > fusion.weights_["noise"]
    with pytest.raises(ValueError, match="pass y"):
        EarlyFusion(mods, weights="cv").fit(X)


def test_missing_modality_imputed_with_indicator():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(20, 5)) + 3
    Xm = X.copy()
    Xm[[2, 7, 11], 3:] = np.nan
    fusion = EarlyFusion([("a", "passthrough", [0, 1, 2]),
                          ("b", StandardScaler(), [3, 4])],
                         norm=None, missing="mean", add_indicator=True)
    Z = fusion.fit_transform(Xm)
    present = ~np.isnan(Xm[:, 3])
    Xb = X[present][:, 3:]
    ref_b = (Xb - Xb.mean(0)) / Xb.std(0)  # scaler learned from present rows only
    np.testing.assert_allclose(Z[present][:, 4:6], ref_b)
    np.testing.assert_allclose(Z[~present][:, 4:6], 0, atol=1e-12)  # mean of standardised
    np.testing.assert_array_equal(Z[:, 6], present)
    np.testing.assert_array_equal(Z[:, 3], 1.0)
    assert fusion.get_feature_names_out().tolist() == [
        "a__x0", "a__x1", "a__x2", "a__present", "b__x3", "b__x4", "b__present"]
    zero = EarlyFusion([("b", "passthrough", [3, 4])], missing="zero").fit(Xm)
    np.testing.assert_array_equal(zero.transform(Xm)[~present], 0)
    with pytest.raises(ValueError, match="add_indicator=True needs"):
        EarlyFusion([("b", "passthrough", [3, 4])], add_indicator=True).fit(Xm)
    Xm[:, 3:] = np.nan
    with pytest.raises(ValueError, match="modality 'b' is missing for every one"):
        fusion.fit(Xm)


def test_modality_block_on_sparse_text_with_none():
    texts = ["red circle", None, "blue square", "red square", float("nan"), "blue circle"]
    from mmfuse.fusion import ModalityBlock

    block = ModalityBlock(TfidfVectorizer(), fill="mean", add_indicator=True).fit(
        pd.Series(texts))
    Z = block.transform(pd.Series(texts))
    assert sp.issparse(Z)
    dense = Z.toarray()
    ref = TfidfVectorizer().fit_transform([t for t in texts if isinstance(t, str)]).toarray()
    np.testing.assert_allclose(dense[[0, 2, 3, 5], :-1], ref)
    np.testing.assert_allclose(dense[[1, 4], :-1], np.tile(ref.mean(0), (2, 1)))
    np.testing.assert_array_equal(dense[:, -1], [1, 0, 1, 1, 0, 1])
    assert block.get_feature_names_out()[-1] == "present"


def test_nested_parameters_reach_the_block_transformers():
    fusion = EarlyFusion([("text", TfidfVectorizer(), "text"), ("num", "passthrough", ["x"])])
    assert fusion.get_params()["text__min_df"] == 1
    fusion.set_params(text__min_df=2)
    assert fusion.modalities[0][1].min_df == 2
