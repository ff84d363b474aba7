"""MultiStreamHMMClassifier against hand-combined per-stream HMMClassifiers."""

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from mmfuse.probabilistic import HMMClassifier, MultiStreamHMMClassifier


def hmm():
    return HMMClassifier(n_states=2, topology="ergodic", n_iter=10, random_state=0)


def two_streams(n_per_class=12, seed=0, audio_noise=1.0, video_noise=0.6):
    """Class 0 goes low -> high, class 1 high -> low; video at a third of the audio rate."""
    rng = np.random.default_rng(seed)
    audio, video, y = [], [], []
    for label in (0, 1):
        for _ in range(n_per_class):
            n = int(rng.integers(9, 15)) * 3
            levels = np.r_[np.zeros(n // 2), np.ones(n - n // 2) * 2.0]
            levels = levels if label == 0 else levels[::-1]
            audio.append(np.column_stack([levels, -levels]) + rng.normal(0, audio_noise, (n, 2)))
            video.append(levels[::3, None] + rng.normal(0, video_noise, (n // 3, 1)))
            y.append(label)
    return pd.DataFrame({"audio": audio, "video": video}), np.array(y)


@pytest.fixture(scope="module")
def data():
    return two_streams(seed=0), two_streams(n_per_class=6, seed=1)


def test_late_fusion_equals_weighted_sum_of_stream_models(data):
    (X, y), (X_test, _) = data
    weights = {"audio": 0.3, "video": 0.7}
    clf = MultiStreamHMMClassifier(estimator=hmm(), stream_weights=weights).fit(X, y)
    audio = hmm().fit(list(X["audio"]), y)
    video = hmm().fit(list(X["video"]), y)
    expected = (0.3 * audio.decision_function(list(X_test["audio"]))
                + 0.7 * video.decision_function(list(X_test["video"])))
    np.testing.assert_allclose(clf.decision_function(X_test), expected, rtol=1e-10)
    joint = expected + np.log(np.bincount(y) / len(y))
    np.testing.assert_allclose(clf.predict_proba(X_test),
                               np.exp(joint - logsumexp(joint, axis=1, keepdims=True)),
                               rtol=1e-8)
    np.testing.assert_array_equal(clf.predict(X_test), np.argmax(joint, axis=1))
    streams = clf.stream_log_likelihoods(X_test)
    np.testing.assert_allclose(streams["video"], video.decision_function(list(X_test["video"])))


def test_missing_stream_is_left_out_of_the_late_score(data):
    (X, y), (X_test, _) = data
    clf = MultiStreamHMMClassifier(estimator=hmm()).fit(X, y)
    video_only = hmm().fit(list(X["video"]), y)
    X_missing = X_test.copy()
    X_missing["audio"] = None
    X_missing.loc[0, "video"] = None  # sample 0 has nothing at all
    proba = clf.predict_proba(X_missing)
    np.testing.assert_allclose(proba[1:], video_only.predict_proba(list(X_test["video"][1:])),
                               rtol=1e-8)
    np.testing.assert_allclose(proba[0], np.bincount(y) / len(y))  # the prior


def test_early_fusion_equals_hmm_on_aligned_concatenated_frames(data):
    (X, y), (X_test, _) = data
    clf = MultiStreamHMMClassifier(fusion="early", estimator=hmm()).fit(X, y)

    def concat(frame):  # video is exactly 3x slower: repeat each frame 3 times
        return [np.hstack([a, np.repeat(v, 3, axis=0)])
                for a, v in zip(frame["audio"], frame["video"], strict=True)]

    reference = hmm().fit(concat(X), y)
    np.testing.assert_allclose(clf.decision_function(X_test),
                               reference.decision_function(concat(X_test)), rtol=1e-10)
    bad = X_test.copy()
    bad.loc[2, "video"] = None
    with pytest.raises(ValueError, match="sample 2 lacks stream 'video'"):
        clf.predict(bad)


def test_cv_weights_are_the_best_on_out_of_fold_scores():
    X, y = two_streams(n_per_class=10, seed=3, audio_noise=4.0, video_noise=0.4)
    cv = StratifiedKFold(3)
    clf = MultiStreamHMMClassifier(estimator=hmm(), stream_weights="cv", weight_grid=5,
                                   cv=cv).fit(X, y)
    assert len(clf.cv_scores_) == 5
    np.testing.assert_allclose(clf.cv_scores_[["audio", "video"]].sum(axis=1), 1.0)
    oof = [cross_val_predict(hmm(), list(X[s]), y, cv=cv, method="decision_function")
           for s in ("audio", "video")]
    prior = np.log(np.bincount(y) / len(y))
    accuracy = [np.mean(np.argmax(w * oof[0] + (1 - w) * oof[1] + prior, axis=1) == y)
                for w in np.linspace(0, 1, 5)]
    np.testing.assert_allclose(clf.cv_scores_["accuracy"], accuracy)
    chosen = clf.cv_scores_.loc[(clf.cv_scores_[["audio", "video"]].to_numpy()
                                 == clf.stream_weights_).all(axis=1)]
    assert chosen["accuracy"].iloc[0] == max(accuracy)
    assert clf.stream_weights_[1] >= 0.5  # the clean video stream


def test_errors_clone_and_pickle(data):
    (X, y), (X_test, _) = data
    clf = MultiStreamHMMClassifier(streams=["video"], estimator=hmm())
    with pytest.raises(NotFittedError):
        clf.predict(X_test)
    clf.fit(X, y)
    assert clf.streams_ == ["video"]
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X_test), clf.predict_proba(X_test))
    params = clone(clf).get_params()
    assert params["estimator__n_states"] == 2 and not hasattr(clone(clf), "estimators_")
    with pytest.raises(ValueError, match="'lips' is not a column"):
        MultiStreamHMMClassifier(streams=["lips"]).fit(X, y)
    bad = X.copy()
    bad.at[4, "audio"] = np.zeros((30, 5))
    with pytest.raises(ValueError, match="stream 'audio': sample 4 has 5 features"):
        MultiStreamHMMClassifier(estimator=hmm()).fit(bad, y)
    with pytest.raises(ValueError, match="late fusion only"):
        MultiStreamHMMClassifier(fusion="early", stream_weights={"audio": 1.0}).fit(X, y)
    with pytest.raises(TypeError, match="DataFrame or a mapping"):
        clf.predict(np.zeros((3, 2)))
