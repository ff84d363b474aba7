import numpy as np
import pytest
from conftest import make_blocks
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from mmfuse.fusion import CascadeFusionClassifier

A, B = [0, 1, 2], [3, 4, 5, 6]


def _cascade(**kw):
    return CascadeFusionClassifier([("a", "passthrough", A), ("b", "passthrough", B)], **kw)


def _stage_features(X):
    """Hand-built stage inputs: L2-normalised block plus a presence column of ones."""
    ones = np.ones((len(X), 1))
    za = np.hstack([normalize(X[:, A]), ones])
    return za, np.hstack([za, normalize(X[:, B]), ones])


def test_threshold_zero_stops_at_first_stage_and_one_goes_to_last():
    X, y = make_blocks(n=120, seed=0)
    za, zab = _stage_features(X)
    first = LogisticRegression(max_iter=1000).fit(za, y)
    last = LogisticRegression(max_iter=1000).fit(zab, y)
    early = _cascade(threshold=0.0).fit(X, y)
    np.testing.assert_allclose(early.predict_proba(X), first.predict_proba(za), rtol=1e-6)
    assert np.all(early.decision_stage(X) == 0)
    late = _cascade(threshold=1.0).fit(X, y)
    np.testing.assert_allclose(late.predict_proba(X), last.predict_proba(zab), rtol=1e-6)


def test_mixed_threshold_routes_by_confidence_and_reports_compute():
    X, y = make_blocks(n=150, seed=1)
    za, zab = _stage_features(X)
    first = LogisticRegression(max_iter=1000).fit(za, y)
    last = LogisticRegression(max_iter=1000).fit(zab, y)
    model = _cascade(threshold=0.7, costs={"a": 1.0, "b": 4.0}).fit(X, y)
    confident = first.predict_proba(za).max(axis=1) >= 0.7
    assert 0 < confident.mean() < 1
    expected = np.where(confident[:, None], first.predict_proba(za), last.predict_proba(zab))
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=1e-6)
    np.testing.assert_array_equal(model.decision_stage(X), (~confident).astype(int))
    report = model.cascade_report(X, y)
    np.testing.assert_allclose(report.table["reached"], [1.0, np.mean(~confident)])
    np.testing.assert_allclose(report.table["decided"], [confident.mean(), np.mean(~confident)])
    used = 1.0 * len(y) + 4.0 * np.sum(~confident)
    assert report.saved_compute == pytest.approx(1 - used / (5.0 * len(y)))
    pred = model.predict(X)
    assert report.table["accuracy"].iloc[0] == pytest.approx(np.mean(pred[confident]
                                                                     == y[confident]))


def test_missing_modality_and_multi_output():
    X, y = make_blocks(n=120, seed=2)
    Xm = X.copy()
    Xm[::5, B] = np.nan
    Y = np.column_stack([y, y % 2])
    model = _cascade(threshold=0.8, costs={"a": 1.0, "b": 1.0}).fit(Xm, Y)
    assert model.predict(Xm).shape == Y.shape
    proba = model.predict_proba(Xm)
    assert isinstance(proba, list) and proba[1].shape == (120, 2)
    report = model.cascade_report(Xm)
    # absent modalities cost nothing: the second stage computed at most the present rows
    assert report.relative_compute <= 1.0
    Xt = X[:10].copy()
    Xt[:, B] = np.nan
    assert model.predict(Xt).shape == (10, 2)


def test_measured_costs_and_bad_thresholds():
    X, y = make_blocks(n=60, seed=3)
    model = _cascade().fit(X, y)
    assert model.costs_.shape == (2,) and np.all(model.costs_ >= 0)
    with pytest.raises(ValueError, match="threshold must be"):
        _cascade(threshold=[0.5, 0.6]).fit(X, y)
    with pytest.raises(ValueError, match="costs must name every modality"):
        _cascade(costs={"a": 1.0}).fit(X, y)
