import numpy as np
import pytest
from conftest import make_blocks
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import normalize

from mmfuse.fusion import (
    BlockNormalizer,
    EarlyFusion,
    HierarchicalFusionClassifier,
    LateFusionClassifier,
)

A, B, C = [0, 1, 2], [3, 4, 5, 6], [7, 8]
MODS = [("a", "passthrough", A), ("b", "passthrough", B), ("c", "passthrough", C)]


@pytest.fixture
def three():
    return make_blocks(n=120, dims=(3, 4, 2), signal=(1.0, 1.0, 0.8), seed=0)


def _lr_proba(X, y, cols):
    Z = normalize(X[:, cols])
    return LogisticRegression(max_iter=1000).fit(Z, y).predict_proba(Z)


def test_nested_late_tree_is_mean_of_means(three):
    X, y = three
    model = HierarchicalFusionClassifier(MODS, tree=(("a", "b"), "c")).fit(X, y)
    pa, pb, pc = (_lr_proba(X, y, cols) for cols in (A, B, C))
    np.testing.assert_allclose(model.predict_proba(X), ((pa + pb) / 2 + pc) / 2, rtol=1e-6)
    assert model.tree_["children"][0]["name"] == "a+b"


def test_flat_tree_equals_late_fusion(three):
    X, y = three
    model = HierarchicalFusionClassifier(MODS, tree=("a", "b", "c"), combine="product").fit(X, y)
    late = LateFusionClassifier(
        [(n, Pipeline([("n", BlockNormalizer()), ("clf", LogisticRegression(max_iter=1000))]), c)
         for n, _, c in MODS], combine="product").fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), late.predict_proba(X), rtol=1e-6)


def test_early_group_under_late_root(three):
    X, y = three
    tree = ({"fusion": "early", "children": ["a", "b"]}, "c")
    model = HierarchicalFusionClassifier(MODS, tree=tree).fit(X, y)
    ones = np.ones((len(y), 1))
    Zab = np.hstack([normalize(X[:, A]), ones, normalize(X[:, B]), ones])
    pab = LogisticRegression(max_iter=1000).fit(Zab, y).predict_proba(Zab)
    np.testing.assert_allclose(model.predict_proba(X), (pab + _lr_proba(X, y, C)) / 2, rtol=1e-6)


def test_late_group_under_early_root_uses_out_of_fold_probabilities(three):
    X, y = three
    cv = StratifiedKFold(3)
    tree = {"fusion": "early", "children": ["c", {"fusion": "late", "children": ["a", "b"]}]}
    model = HierarchicalFusionClassifier(MODS, tree=tree, cv=cv).fit(X, y)
    group = LateFusionClassifier(
        [(n, Pipeline([("n", BlockNormalizer()), ("clf", LogisticRegression(max_iter=1000))]),
          [i for i, p in enumerate(A + B) if p in c]) for n, _, c in MODS[:2]])
    oof = cross_val_predict(group, X[:, A + B], y, cv=cv, method="predict_proba")
    ones = np.ones((len(y), 1))
    Z = np.hstack([normalize(X[:, C]), ones, normalize(oof), ones])
    root = LogisticRegression(max_iter=1000).fit(Z, y)
    group.fit(X[:, A + B], y)
    Zt = np.hstack([normalize(X[:, C]), ones, normalize(group.predict_proba(X[:, A + B])), ones])
    np.testing.assert_allclose(model.predict_proba(X), root.predict_proba(Zt), rtol=1e-5)


def test_missing_group_and_multi_output(three):
    X, y = three
    Xm = X.copy()
    Xm[:20, A + B] = np.nan  # the whole (a, b) group is absent for 20 samples
    Y = np.column_stack([y, y % 2])
    model = HierarchicalFusionClassifier(MODS, tree=(("a", "b"), "c")).fit(Xm, Y)
    proba = model.predict_proba(Xm)
    assert isinstance(proba, list) and len(proba) == 2
    only_c = HierarchicalFusionClassifier(MODS[2:], tree=("c",)).fit(Xm, Y)
    for p, q in zip(proba, only_c.predict_proba(Xm), strict=True):
        np.testing.assert_allclose(p[:20], q[:20], rtol=1e-6)  # decided by c alone
    early = HierarchicalFusionClassifier(MODS, tree=(("a", "b"), "c"), fusion="early",
                                         cv=3).fit(Xm, Y)
    assert early.predict(Xm).shape == Y.shape


def test_dataframe_columns_and_early_fusion_pipeline_equivalence(three):
    import pandas as pd

    X, y = three
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    mods = [("a", "passthrough", ["f0", "f1", "f2"]), ("b", "passthrough", ["f3", "f4"])]
    model = HierarchicalFusionClassifier(mods, tree=("a", "b"), fusion="early").fit(df, y)
    ref = Pipeline([("fusion", EarlyFusion(mods, missing="zero", add_indicator=True)),
                    ("clf", LogisticRegression(max_iter=1000))]).fit(df, y)
    np.testing.assert_allclose(model.predict_proba(df), ref.predict_proba(df), rtol=1e-6)


@pytest.mark.parametrize("tree, message", [
    (("a", "zz"), "not a modality"),
    (("a", ("a", "b")), "more than once"),
    (("a", "b"), r"\['c'\] are not in the tree"),
    (({"children": ["a"], "fusion": "middle"}, "b", "c"), "'early' or 'late'"),
    (({"kids": ["a"]}, "b", "c"), "needs 'children'"),
])
def test_bad_trees(three, tree, message):
    X, y = three
    with pytest.raises(ValueError, match=message):
        HierarchicalFusionClassifier(MODS, tree=tree).fit(X, y)
