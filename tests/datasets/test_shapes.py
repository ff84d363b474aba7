"""make_shapes / sample_shapes_latent checked against their own generative truth."""

import re

import cv2
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import OneHotEncoder

from mmfuse.datasets import make_shapes, sample_shapes_latent

# Seeds are fixed, so these tests are deterministic; ALPHA only sets how far
# from the truth a sample may be before we call the generator wrong.
ALPHA = 1e-3


@pytest.fixture(scope="module")
def latent_big():
    return sample_shapes_latent(20000, random_state=0)


@pytest.fixture(scope="module")
def truth():
    return make_shapes(1, random_state=0).truth


@pytest.fixture(scope="module")
def captions():
    # Cheap media: the captions do not depend on image or audio parameters.
    return make_shapes(1500, image_size=16, audio_duration=0.05, random_state=1)


def _tokens(text):
    return re.findall(r"[a-z]+", text.lower())


# -- the model as data --------------------------------------------------------


def test_truth_structure_is_consistent(truth):
    variables, edges, cpds = truth["variables"], truth["edges"], truth["cpds"]
    assert set(cpds) == set(variables)
    assert all(p in variables and c in variables for p, c in edges)
    for name, cpd in cpds.items():
        parents = [p for p, c in edges if c == name]
        assert list(cpd.columns) == list(variables[name])
        np.testing.assert_allclose(cpd.to_numpy().sum(axis=1), 1.0)
        assert (cpd.to_numpy() >= 0).all()
        if parents:
            assert list(cpd.index.names) == parents
            assert list(cpd.index) == list(variables[parents[0]])
        else:
            assert len(cpd) == 1
    # Every shape and every colour is dominant in exactly two scenes.
    for name in ("shape", "colour"):
        dominant = cpds[name].idxmax(axis=1)
        assert dominant.value_counts().tolist() == [2] * len(variables[name])
    # A non-class chain exists for structure learning to find.
    assert ("shape", "size") in edges and ("size", "count") in edges


def test_truth_is_a_fresh_copy():
    a = make_shapes(2, random_state=0)
    a.truth["cpds"]["shape"].iloc[:, :] = 0.0
    b = make_shapes(2, random_state=0)
    np.testing.assert_allclose(b.truth["cpds"]["shape"].to_numpy().sum(axis=1), 1.0)


# -- latent variables against the CPDs ----------------------------------------


def test_scene_frequencies_match_prior(truth):
    latent = sample_shapes_latent(3000, random_state=0)
    prior = truth["cpds"]["scene"].iloc[0]
    observed = latent["scene"].value_counts().reindex(prior.index, fill_value=0)
    result = stats.chisquare(observed.to_numpy(), prior.to_numpy() * len(latent))
    assert result.pvalue > ALPHA


def test_chi_square_rejects_a_wrong_prior():
    # The check above has power: a skewed prior is rejected at the same alpha.
    latent = sample_shapes_latent(3000, random_state=0)
    observed = latent["scene"].value_counts().sort_index().to_numpy()
    wrong = np.linspace(1, 2, 6)
    result = stats.chisquare(observed, wrong / wrong.sum() * len(latent))
    assert result.pvalue < ALPHA


@pytest.mark.parametrize("child", ["shape", "colour", "size", "count"])
def test_empirical_conditionals_match_cpds(latent_big, truth, child):
    cpd = truth["cpds"][child]
    parent = cpd.index.name
    counts = pd.crosstab(latent_big[parent], latent_big[child])
    counts = counts.reindex(index=cpd.index, columns=cpd.columns, fill_value=0)
    empirical = counts.div(counts.sum(axis=1), axis=0)
    np.testing.assert_allclose(empirical.to_numpy(), cpd.to_numpy(), atol=0.03)
    for state, row in counts.iterrows():
        expected = cpd.loc[state].to_numpy() * row.sum()
        assert stats.chisquare(row.to_numpy(), expected).pvalue > ALPHA, state


def test_latent_columns_and_types(latent_big, truth):
    assert list(latent_big.columns) == ["scene", "shape", "colour", "size", "count"]
    for name, states in truth["variables"].items():
        assert set(latent_big[name].unique()) <= set(states)
    assert latent_big["count"].dtype == np.int64


def test_make_shapes_latent_agrees_with_sampler_and_frame():
    data = make_shapes(40, random_state=3)
    pd.testing.assert_frame_equal(data.latent, sample_shapes_latent(40, random_state=3))
    names = np.asarray(data.target_names)
    assert data.target.dtype.kind == "i"
    np.testing.assert_array_equal(names[data.target], data.latent["scene"].to_numpy())
    assert len(data.frame) == len(data.latent) == len(data.target) == 40
    assert list(data.frame.columns) == ["image", "text", "audio"]
    assert data.DESCR.strip()


# -- the design: each modality alone is ambiguous, together they are not ------


def test_latent_oracle_shape_or_colour_alone_is_ambiguous():
    latent = sample_shapes_latent(3000, random_state=2)
    y = latent["scene"].to_numpy()

    def accuracy(columns):
        features = OneHotEncoder().fit_transform(latent[columns])
        return cross_val_score(LogisticRegression(max_iter=1000), features, y, cv=3).mean()

    # Bayes accuracies of the true model: 0.45, 0.45 and 0.833.
    assert accuracy(["shape"]) < 0.6
    assert accuracy(["colour"]) < 0.6
    assert accuracy(["shape", "colour"]) > 0.75


# -- images --------------------------------------------------------------------


@pytest.mark.parametrize("image_size", [16, 64, 96])
def test_image_shape_and_dtype(image_size):
    data = make_shapes(5, image_size=image_size, random_state=0)
    for image in data.frame["image"]:
        assert isinstance(image, np.ndarray)
        assert image.shape == (image_size, image_size, 3)
        assert image.dtype == np.uint8


def test_images_are_drawn_in_the_sampled_colour():
    # Without noise the background is grey (B = G = R), so strongly chromatic
    # pixels belong to objects; their dominant channel names the colour (BGR).
    data = make_shapes(60, noise=0.0, random_state=4)
    channel = {"blue": 0, "green": 1, "red": 2}
    for image, colour in zip(data.frame["image"], data.latent["colour"], strict=True):
        pixels = image.reshape(-1, 3).astype(int)
        chromatic = pixels[np.ptp(pixels, axis=1) > 60]
        assert len(chromatic) > 20
        assert np.bincount(chromatic.argmax(axis=1), minlength=3).argmax() == channel[colour]


def test_grey_level_does_not_reveal_colour_reliably():
    # The grey level of the objects (what grayscale SIFT sees) separates the
    # colours far worse than their BGR value does.
    data = make_shapes(450, noise=0.0, random_state=5)
    grey, bgr = [], []
    for image in data.frame["image"]:
        pixels = image.reshape(-1, 3).astype(int)
        mask = np.ptp(pixels, axis=1) > 40
        grey.append([cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).reshape(-1)[mask].mean() / 255])
        bgr.append(pixels[mask].mean(axis=0) / 255)
    y = data.latent["colour"].to_numpy()
    clf = LogisticRegression(max_iter=1000)
    assert cross_val_score(clf, np.array(grey), y, cv=3).mean() < 0.7
    assert cross_val_score(clf, np.array(bgr), y, cv=3).mean() > 0.95


def test_noise_zero_images_have_no_pixel_noise():
    clean = make_shapes(8, noise=0.0, random_state=6).frame["image"]
    noisy = make_shapes(8, noise=2.0, random_state=6).frame["image"]

    def roughness(image):  # mean absolute difference between neighbouring pixels
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(float)
        return np.abs(np.diff(grey, axis=1)).mean()

    assert np.mean([roughness(i) for i in noisy]) > 3 * np.mean([roughness(i) for i in clean])


# -- captions ------------------------------------------------------------------


def test_caption_words_come_from_the_vocabulary(captions):
    truth = captions.truth
    concept_words = {w for words in truth["vocabulary"].values() for w in words}
    filler = set(truth["filler_words"])
    assert not concept_words & filler
    for text in captions.frame["text"]:
        assert isinstance(text, str) and text.strip()
        assert set(_tokens(text)) <= concept_words | filler, text


def test_captions_never_empty_without_noise():
    data = make_shapes(300, image_size=16, audio_duration=0.05, noise=0.0, random_state=2)
    assert all(len(_tokens(t)) >= 3 for t in data.frame["text"])


@pytest.mark.parametrize("concept", ["colour", "shape", "size"])
def test_mention_rates_match_truth(captions, concept):
    truth, latent = captions.truth, captions.latent
    vocabulary = truth["vocabulary"]
    mentioned = [
        bool(set(_tokens(text)) & set(vocabulary[state]))
        for text, state in zip(captions.frame["text"], latent[concept], strict=True)
    ]
    result = stats.binomtest(sum(mentioned), len(mentioned), truth["mention_rates"][concept])
    assert result.pvalue > ALPHA


def test_distractor_colour_rate_scales_with_noise(captions):
    def wrong_colour_rate(data):
        vocabulary = data.truth["vocabulary"]
        hits = []
        for text, colour in zip(data.frame["text"], data.latent["colour"], strict=True):
            others = {w for c in data.truth["variables"]["colour"] if c != colour
                      for w in vocabulary[c]}
            hits.append(bool(set(_tokens(text)) & others))
        return sum(hits), len(hits)

    k, n = wrong_colour_rate(captions)
    assert stats.binomtest(k, n, captions.truth["distractor_colour_rate"]).pvalue > ALPHA
    clean = make_shapes(300, image_size=16, audio_duration=0.05, noise=0.0, random_state=1)
    assert clean.truth["distractor_colour_rate"] == 0.0
    assert wrong_colour_rate(clean)[0] == 0


# -- audio ---------------------------------------------------------------------


def test_audio_has_energy_at_the_shape_and_colour_tones():
    data = make_shapes(12, noise=0.1, random_state=7)
    rate, truth = data.audio_sample_rate, data.truth
    for clip, shape, colour in zip(
        data.frame["audio"], data.latent["shape"], data.latent["colour"], strict=True
    ):
        assert clip.dtype == np.float32 and clip.ndim == 1
        assert len(clip) == round(rate * 0.5)
        magnitude = np.abs(np.fft.rfft(clip))
        freqs = np.fft.rfftfreq(len(clip), 1.0 / rate)
        for band, expected in [((200, 1000), truth["shape_tones"][shape]),
                               ((1000, 2000), truth["colour_tones"][colour])]:
            in_band = (freqs >= band[0]) & (freqs < band[1])
            peak = freqs[in_band][magnitude[in_band].argmax()]
            assert abs(peak - expected) < 0.04 * expected


def test_audio_parameters_set_length():
    data = make_shapes(3, audio_sample_rate=16000, audio_duration=0.25, random_state=0)
    assert data.audio_sample_rate == 16000
    assert all(len(clip) == 4000 for clip in data.frame["audio"])


# -- randomness ----------------------------------------------------------------


def _assert_same(a, b):
    pd.testing.assert_frame_equal(a.latent, b.latent)
    assert a.frame["text"].tolist() == b.frame["text"].tolist()
    for column in ("image", "audio"):
        for x, y in zip(a.frame[column], b.frame[column], strict=True):
            np.testing.assert_array_equal(x, y)


def test_same_seed_same_data_different_seed_different_data():
    _assert_same(make_shapes(10, random_state=11), make_shapes(10, random_state=11))
    _assert_same(
        make_shapes(10, random_state=np.random.default_rng(11)),
        make_shapes(10, random_state=np.random.default_rng(11)),
    )
    _assert_same(
        make_shapes(10, random_state=np.random.RandomState(11)),
        make_shapes(10, random_state=np.random.RandomState(11)),
    )
    a, b = make_shapes(10, random_state=11), make_shapes(10, random_state=12)
    assert a.frame["text"].tolist() != b.frame["text"].tolist()
    assert not np.array_equal(a.frame["image"].iloc[0], b.frame["image"].iloc[0])
    assert not np.array_equal(a.frame["audio"].iloc[0], b.frame["audio"].iloc[0])


def test_modalities_use_independent_streams():
    a = make_shapes(10, random_state=5)
    b = make_shapes(10, audio_duration=0.2, random_state=5)
    assert a.frame["text"].tolist() == b.frame["text"].tolist()
    for x, y in zip(a.frame["image"], b.frame["image"], strict=True):
        np.testing.assert_array_equal(x, y)


# -- input validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 2.5}, TypeError, "n_samples"),
        ({"image_size": 8}, ValueError, "image_size"),
        ({"audio_sample_rate": 2000}, ValueError, "audio_sample_rate"),
        ({"audio_duration": 0}, ValueError, "audio_duration"),
        ({"noise": -1}, ValueError, "noise"),
        ({"noise": float("nan")}, ValueError, "noise"),
        ({"random_state": "seed"}, TypeError, "random_state"),
    ],
)
def test_bad_parameters_are_rejected(kwargs, error, match):
    kwargs = {"n_samples": 2, **kwargs}
    with pytest.raises(error, match=match):
        make_shapes(**kwargs)


def test_sample_shapes_latent_rejects_bad_n_samples():
    with pytest.raises(ValueError, match="n_samples"):
        sample_shapes_latent(-3)
