import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from mmfuse.blocks import Blocks
from mmfuse.fusion import (
    EarlyFusion,
    KernelFusionClassifier,
    LateFusionClassifier,
    modality_contributions,
)


def _data(seed=0, n=150):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n // 3)
    strong = rng.normal(size=(n, 4)) + 1.2 * np.eye(3)[y] @ rng.normal(size=(3, 4))
    weak = rng.normal(size=(n, 4)) + 0.4 * np.eye(3)[y] @ rng.normal(size=(3, 4))
    noise = rng.normal(size=(n, 4))
    return {"strong": strong, "weak": weak, "noise": noise}, y


def test_scores_equal_cross_val_score_of_hand_built_models():
    X, y = _data()
    late = LateFusionClassifier([(m, LogisticRegression(), m) for m in X])
    report = modality_contributions(late, X, y, cv=5)
    folds = list(StratifiedKFold(5).split(np.zeros(len(y)), y))
    blocks = Blocks(X)

    def cv(names):
        model = LateFusionClassifier([(m, LogisticRegression(), m) for m in names])
        return cross_val_score(model, blocks, y, cv=folds)

    full = cv(list(X))
    for name in X:
        without = cv([m for m in X if m != name])
        alone = cross_val_score(LogisticRegression(), X[name], y, cv=folds)
        assert report.loc[name, "all"] == pytest.approx(full.mean())
        assert report.loc[name, "without"] == pytest.approx(without.mean())
        assert report.loc[name, "alone"] == pytest.approx(alone.mean())
        assert report.loc[name, "adds"] == pytest.approx((full - without).mean())
    assert report.loc["strong", "adds"] > 0.05
    assert report.loc["strong", "adds"] > report.loc["noise", "adds"]
    assert "noise adds" in report.attrs["summary"]


@pytest.mark.parametrize("model", [
    make_pipeline(EarlyFusion([("strong", "passthrough", "strong"),
                               ("noise", "passthrough", "noise")]), LogisticRegression()),
    KernelFusionClassifier([("strong", "passthrough", "strong"),
                            ("noise", "passthrough", "noise")], kernel="linear"),
])
def test_pipelines_and_kernel_fusion(model):
    X, y = _data(seed=1)
    X = {k: X[k] for k in ("strong", "noise")}
    report = modality_contributions(model, X, y, cv=3)
    assert list(report.index) == ["strong", "noise"]
    assert report.loc["strong", "alone"] > report.loc["noise", "alone"] + 0.2


def test_needs_a_fusion_model_with_two_modalities():
    X, y = _data()
    with pytest.raises(TypeError, match="no 'modalities'"):
        modality_contributions(LogisticRegression(), X["strong"], y)
    with pytest.raises(ValueError, match="at least 2"):
        modality_contributions(LateFusionClassifier([("strong", LogisticRegression(), "strong")]),
                               X, y)
