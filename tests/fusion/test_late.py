import numpy as np
import pandas as pd
import pytest
from conftest import make_blocks
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.multioutput import MultiOutputClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mmfuse.fusion import LateFusionClassifier, combine_probabilities


def _late(a, b, **kw):
    return LateFusionClassifier([("a", LogisticRegression(), a), ("b", GaussianNB(), b)], **kw)


def _separate(X, y, a, b):
    pa = LogisticRegression().fit(X[:, a], y).predict_proba(X[:, a])
    pb = GaussianNB().fit(X[:, b], y).predict_proba(X[:, b])
    return pa, pb


@pytest.mark.parametrize("rule", ["mean", "product", "max", "vote"])
def test_fixed_rules_match_hand_computation(two_blocks, rule):
    X, y, a, b = two_blocks
    weights = {"a": 2.0, "b": 0.5}
    model = _late(a, b, combine=rule, weights=weights).fit(X, y)
    pa, pb = _separate(X, y, a, b)
    if rule == "mean":
        ref = (2.0 * pa + 0.5 * pb) / 2.5
    elif rule == "product":
        ref = pa**2.0 * pb**0.5
    elif rule == "max":
        ref = np.maximum(2.0 * pa, 0.5 * pb)
    else:
        ref = np.zeros_like(pa)
        ref[np.arange(len(y)), pa.argmax(1)] += 2.0
        ref[np.arange(len(y)), pb.argmax(1)] += 0.5
    ref = ref / ref.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(X), ref, rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.classes_[ref.argmax(1)])


def test_product_rule_is_normalised_product_unweighted():
    p = np.array([[[0.7, 0.2, 0.1]], [[0.3, 0.3, 0.4]], [[0.5, 0.25, 0.25]]])
    expected = np.prod(p[:, 0], axis=0) / np.prod(p[:, 0], axis=0).sum()
    np.testing.assert_allclose(combine_probabilities(p, "product")[0], expected)


def test_stacking_matches_cross_val_predict_reference(two_blocks):
    X, y, a, b = two_blocks
    cv = StratifiedKFold(4)
    model = _late(a, b, combine="stacking", cv=cv).fit(X, y)
    oof_a = cross_val_predict(LogisticRegression(), X[:, a], y, cv=cv, method="predict_proba")
    oof_b = cross_val_predict(GaussianNB(), X[:, b], y, cv=cv, method="predict_proba")
    meta = LogisticRegression(max_iter=1000).fit(np.hstack([oof_a, oof_b]), y)
    pa, pb = _separate(X, y, a, b)
    np.testing.assert_allclose(model.predict_proba(X), meta.predict_proba(np.hstack([pa, pb])),
                               rtol=1e-6)


def test_cv_weights_favour_the_informative_modality():
    # Block "b" is pure noise (signal 0): its learned weight must be below "a"'s.
    X, y = make_blocks(n=150, signal=(1.5, 0.0), seed=1)
    model = _late([0, 1, 2], [3, 4, 5, 6], combine="mean", weights="cv", cv=3).fit(X, y)
    assert model.weights_[0] > model.weights_[1]
    vote = _late([0, 1, 2], [3, 4, 5, 6], combine="vote", weights="cv", cv=3).fit(X, y)
    assert vote.weights_[0] > vote.weights_[1]


def test_missing_modality_at_predict_uses_what_is_present(two_blocks):
    X, y, a, b = two_blocks
    model = _late(a, b, combine="product").fit(X, y)
    Xm = X.copy()
    Xm[:10, b] = np.nan  # modality b absent
    Xm[10:20, a] = np.nan  # modality a absent
    Xm[20:25] = np.nan  # both absent: class prior
    proba = model.predict_proba(Xm)
    pa, pb = _separate(X, y, a, b)
    np.testing.assert_allclose(proba[:10], pa[:10], rtol=1e-7)
    np.testing.assert_allclose(proba[10:20], pb[10:20], rtol=1e-7)
    np.testing.assert_allclose(proba[20:25], np.tile(np.bincount(y) / len(y), (5, 1)))
    own = model.modality_proba(Xm)
    assert np.isnan(own["b"][:10]).all() and not np.isnan(own["b"][10:20]).any()


def test_missing_modality_at_fit_trains_on_present_rows(two_blocks):
    X, y, a, b = two_blocks
    Xm = X.copy()
    Xm[::3, b] = np.nan
    model = _late(a, b, combine="mean").fit(Xm, y)
    keep = ~np.isnan(Xm[:, b[0]])
    ref = GaussianNB().fit(X[keep][:, b], y[keep])
    np.testing.assert_allclose(model.named_estimators_.b.theta_, ref.theta_)
    stacked = _late(a, b, combine="stacking", cv=3).fit(Xm, y)
    assert stacked.stack_indicators_
    assert stacked.predict(Xm).shape == y.shape


def test_missing_whole_modality_at_fit_is_a_clear_error(two_blocks):
    X, y, a, b = two_blocks
    Xm = X.copy()
    Xm[:, b] = np.nan
    with pytest.raises(ValueError, match="modality 'b' is missing for every one"):
        _late(a, b).fit(Xm, y)


def test_class_unseen_by_one_modality_gets_zero_probability(two_blocks):
    X, y, a, b = two_blocks
    Xm = X.copy()
    Xm[np.ix_(np.flatnonzero(y == 2), b)] = np.nan  # modality b never sees class 2
    model = _late(a, b, combine="mean").fit(Xm, y)
    own = model.modality_proba(X)
    np.testing.assert_array_equal(own["b"][:, 2], 0)
    assert model.predict_proba(X).shape == (len(y), 3)


def test_multi_output_matches_per_output_fits(two_blocks):
    X, y, a, b = two_blocks
    Y = np.column_stack([y, (y + np.arange(len(y))) % 2])
    model = _late(a, b, combine="mean").fit(X, Y)
    assert model.predict(X).shape == (len(y), 2)
    proba = model.predict_proba(X)
    assert isinstance(proba, list) and len(proba) == 2
    for j in range(2):
        pa, pb = _separate(X, Y[:, j], a, b)
        np.testing.assert_allclose(proba[j], (pa + pb) / 2, rtol=1e-7)
    stacked = _late(a, b, combine="stacking", cv=3).fit(X, Y)
    assert isinstance(stacked.final_estimator_, MultiOutputClassifier)
    assert stacked.predict(X).shape == Y.shape


def test_media_frame_with_none_cells_and_gridsearch():
    from mmfuse.text import TextVectorizer

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    words = np.array(["red apple", "blue sky"])
    texts = [f"{words[c]} and more" if rng.random() > 0.1 else "and more" for c in y]
    texts[0] = None
    df = pd.DataFrame({"text": texts, "x1": rng.normal(size=60) + y, "x2": rng.normal(size=60)})
    model = LateFusionClassifier([
        ("text", Pipeline([("tfidf", TextVectorizer()), ("clf", LogisticRegression())]), "text"),
        ("num", Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]),
         ["x1", "x2"]),
    ])
    search = GridSearchCV(model, {"text__clf__C": [0.1, 10.0], "combine": ["mean", "product"]},
                          cv=3).fit(df, y)
    assert search.best_score_ > 0.8
    assert "text__clf__C" in model.get_params()
    fitted = search.best_estimator_
    only_text = df.assign(x1=np.nan, x2=np.nan)
    own = fitted.modality_proba(only_text)["text"]
    np.testing.assert_allclose(fitted.predict_proba(only_text)[1:], own[1:])


def test_bad_parameters(two_blocks):
    X, y, a, b = two_blocks
    with pytest.raises(ValueError, match="unknown modalities"):
        _late(a, b, weights={"zz": 1.0}).fit(X, y)
    with pytest.raises(ValueError, match="not used with combine='stacking'"):
        _late(a, b, weights={"a": 1.0}, combine="stacking").fit(X, y)
    with pytest.raises(ValueError, match="unique"):
        LateFusionClassifier([("a", GaussianNB(), a), ("a", GaussianNB(), b)]).fit(X, y)
    with pytest.raises(ValueError, match="modality 'b': cannot select columns"):
        _late(a, [3, 99]).fit(X, y)
    fitted = _late(a, b).fit(X, y)
    with pytest.raises(ValueError, match="Reshape"):
        fitted.predict(X[0])
    assert clone(fitted).get_params()["a__C"] == 1.0


def test_members_without_predict_proba_are_platt_calibrated():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 300)
    image = rng.normal(size=(300, 6)) + y[:, None]
    text = rng.normal(size=(300, 8)) - 0.5 * y[:, None]
    X = {"image": image, "text": text}
    late = LateFusionClassifier([("image", LinearSVC(), "image"),
                                 ("text", LinearSVC(), "text")]).fit(X, y)
    assert isinstance(late.named_estimators_.image, CalibratedClassifierCV)
    # by hand: each view's LinearSVC calibrated on 3 folds, probabilities averaged
    by_hand = [CalibratedClassifierCV(LinearSVC(), method="sigmoid", cv=3).fit(block, y)
               for block in (image, text)]
    expected = (by_hand[0].predict_proba(image) + by_hand[1].predict_proba(text)) / 2
    np.testing.assert_allclose(late.predict_proba(X), expected, atol=1e-10)
    stacked = LateFusionClassifier([("image", LinearSVC(), "image"),
                                    ("text", LinearSVC(), "text")], combine="stacking").fit(X, y)
    assert stacked.score(X, y) > 0.7
    with pytest.raises(ValueError, match="neither predict_proba nor decision_function"):
        LateFusionClassifier([("image", "passthrough", "image")]).fit(X, y)


class _CountingScaler(StandardScaler):
    """StandardScaler that counts its fits (class attribute; reset per test)."""

    fits = 0

    def fit(self, X, y=None, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


def test_oof_refit_final_step_matches_hand_stacking_on_shared_features(two_blocks):
    X, y, a, b = two_blocks
    Xm = X.copy()
    Xm[::4, b] = np.nan  # missing rows: the shared features cover the present rows only
    cv = StratifiedKFold(4)
    _CountingScaler.fits = 0
    model = LateFusionClassifier(
        [("a", Pipeline([("s", _CountingScaler()), ("clf", LogisticRegression())]), a),
         ("b", Pipeline([("s", _CountingScaler()), ("clf", GaussianNB())]), b)],
        combine="stacking", cv=cv, oof_refit="final_step").fit(Xm, y)
    assert _CountingScaler.fits == 2  # once per modality, not once per fold
    # by hand: scaler fitted once on each modality's rows, only the classifier per fold
    keep = ~np.isnan(Xm[:, b[0]])
    fa = StandardScaler().fit_transform(X[:, a])
    fb = StandardScaler().fit_transform(X[keep][:, b])
    oof_a = cross_val_predict(LogisticRegression(), fa, y, cv=cv, method="predict_proba")
    oof_b = np.tile(np.bincount(y) / len(y), (len(y), 1))
    oof_b[keep] = cross_val_predict(GaussianNB(), fb, y[keep], cv=cv, method="predict_proba")
    meta = LogisticRegression(max_iter=1000).fit(
        np.hstack([oof_a, oof_b, np.column_stack([np.ones(len(y)), keep])]), y)
    np.testing.assert_allclose(model.final_estimator_.coef_, meta.coef_, rtol=1e-6, atol=1e-9)
    # the fitted members are the pipelines fitted once on all rows
    sa = StandardScaler().fit(X[:, a])
    np.testing.assert_allclose(model.named_estimators_.a[0].mean_, sa.mean_)
    # per-fold refit (the default) gives different out-of-fold features
    default = clone(model).set_params(oof_refit="pipeline")
    _CountingScaler.fits = 0
    default.fit(Xm, y)
    assert _CountingScaler.fits == 2 + 2 * cv.get_n_splits()


def test_oof_refit_final_step_calibrates_the_last_step_alone():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 240)
    X = {"image": rng.normal(size=(240, 5)) + y[:, None],
         "text": rng.normal(size=(240, 7)) - 0.7 * y[:, None]}
    Y = np.column_stack([y, y % 2])
    for target in (y, Y):
        model = LateFusionClassifier(
            [("image", Pipeline([("s", StandardScaler()), ("svm", LinearSVC())]), "image"),
             ("text", Pipeline([("s", StandardScaler()), ("lr", LogisticRegression())]), "text")],
            combine="stacking", oof_refit="final_step").fit(X, target)
        image = model.named_estimators_.image
        assert isinstance(image, Pipeline)
        last = image.steps[-1][1]
        if target.ndim == 1:
            assert isinstance(last, CalibratedClassifierCV)
            ref = CalibratedClassifierCV(LinearSVC(), method="sigmoid", cv=3).fit(
                StandardScaler().fit_transform(X["image"]), y)
            np.testing.assert_allclose(image.predict_proba(X["image"]),
                                       ref.predict_proba(StandardScaler().fit_transform(
                                           X["image"])), atol=1e-10)
        else:
            assert isinstance(last, MultiOutputClassifier)
        assert np.mean(model.predict(X) == target) > 0.6


def _held_out_counts(X, y, a, b):
    """The auto rule's McNemar counts by hand: members refitted without the first fold of
    StratifiedKFold(5), mean and product of their probabilities on that fold."""
    train, held = next(StratifiedKFold(5).split(X, y))
    pa = LogisticRegression().fit(X[train][:, a], y[train]).predict_proba(X[held][:, a])
    pb = GaussianNB().fit(X[train][:, b], y[train]).predict_proba(X[held][:, b])
    mean_right = (pa + pb).argmax(1) == y[held]
    product_right = (pa * pb).argmax(1) == y[held]
    return int(np.sum(product_right & ~mean_right)), int(np.sum(mean_right & ~product_right))


def test_auto_rule_picks_the_product_for_independent_modalities():
    """Modalities independent given the class: the product is the Bayes rule, and with
    enough held-out samples it is significantly better than the mean."""
    X, y = make_blocks(n=1500, n_classes=6, dims=(4, 4), signal=(0.9, 0.9), seed=1)
    a, b = [0, 1, 2, 3], [4, 5, 6, 7]
    auto = _late(a, b).fit(X, y)
    only_product, only_mean = _held_out_counts(X, y, a, b)
    assert auto.auto_counts_ == {"only_product": only_product, "only_mean": only_mean}
    assert only_product - only_mean >= 2 * np.sqrt(only_product + only_mean)
    assert auto.combine_ == "product"
    product = _late(a, b, combine="product").fit(X, y)
    np.testing.assert_allclose(auto.predict_proba(X), product.predict_proba(X))


def test_auto_rule_keeps_the_mean_without_a_significant_gain(two_blocks):
    X, y, a, b = two_blocks
    auto = _late(a, a).fit(X, y)  # the same evidence twice: the product only sharpens it
    assert auto.auto_counts_ == {"only_product": 0, "only_mean": 0}
    assert auto.combine_ == "mean"
    auto = _late(a, b).fit(X, y)
    only_product, only_mean = _held_out_counts(X, y, a, b)
    assert auto.auto_counts_ == {"only_product": only_product, "only_mean": only_mean}
    assert only_product - only_mean < 2 * np.sqrt(only_product + only_mean)
    assert auto.combine_ == "mean"
    mean = _late(a, b, combine="mean").fit(X, y)
    np.testing.assert_allclose(auto.predict_proba(X), mean.predict_proba(X))
    # with weights="cv", all folds' out-of-fold probabilities decide
    cv = _late(a, b, weights="cv").fit(X, y)
    assert cv.combine_ in ("mean", "product")
    oof = [cross_val_predict(est, X[:, cols], y, cv=StratifiedKFold(5), method="predict_proba")
           for est, cols in ((LogisticRegression(), a), (GaussianNB(), b))]
    mean_right = (oof[0] + oof[1]).argmax(1) == y
    product_right = (oof[0] * oof[1]).argmax(1) == y
    assert cv.auto_counts_ == {"only_product": int(np.sum(product_right & ~mean_right)),
                               "only_mean": int(np.sum(mean_right & ~product_right))}
