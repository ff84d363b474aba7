"""The built-in "shapes" dataset: image, caption and audio from a known Bayesian network.

The generative model is plain data (variables, edges, probability tables) so
that tests and the probabilistic module can compare what they learn against
the truth. Each modality sees a different part of the latent state: the image
mostly shows the *shape*, the caption mostly names the *colour*, and the class
(``scene``) is only identifiable from both together.
"""

from __future__ import annotations

import numbers

import cv2
import numpy as np
import pandas as pd
from sklearn.utils import Bunch

# --------------------------------------------------------------------------
# The generative model, as data.
# --------------------------------------------------------------------------

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue")
SIZES = ("small", "large")
COUNTS = (1, 2, 3)

# Every shape and every colour is dominant in exactly two scenes, so neither
# modality alone can tell the scene apart from its "sibling".
SCENES = (
    ("red_circles", "circle", "red"),
    ("green_circles", "circle", "green"),
    ("green_squares", "square", "green"),
    ("blue_squares", "square", "blue"),
    ("blue_triangles", "triangle", "blue"),
    ("red_triangles", "triangle", "red"),
)

# 0.9 rather than 0.85: with 0.85 the Bayes accuracy from (shape, colour) is
# only 0.754, too close to "fusion is clearly better" to be useful; with 0.9 it
# is 0.833, while shape alone or colour alone stays at 0.45.
P_DOMINANT = 0.9
P_SIZE_GIVEN_SHAPE = {  # P(size | shape), columns in SIZES order
    "circle": (0.5, 0.5),
    "square": (0.7, 0.3),
    "triangle": (0.2, 0.8),
}
P_COUNT_GIVEN_SIZE = {  # P(count | size), columns in COUNTS order
    "small": (0.2, 0.4, 0.4),
    "large": (0.6, 0.3, 0.1),
}
EDGES = (("scene", "shape"), ("scene", "colour"), ("shape", "size"), ("size", "count"))
TOPOLOGICAL_ORDER = ("scene", "shape", "colour", "size", "count")

# Caption probabilities (per caption, at noise=1 for the distractor).
P_MENTION_COLOUR = 0.85
P_MENTION_SHAPE = 0.3
P_MENTION_SIZE = 0.3
P_MENTION_COUNT = 0.25
P_DISTRACTOR_COLOUR = 0.1  # multiplied by ``noise``
P_CLOSING_PHRASE = 0.7

# Synonyms as (singular, plural) phrases.
SHAPE_NOUNS = {
    "circle": (("circle", "circles"), ("disk", "disks"), ("round blob", "round blobs")),
    "square": (("square", "squares"), ("box", "boxes"), ("block", "blocks")),
    "triangle": (("triangle", "triangles"), ("wedge", "wedges")),
}
COLOUR_WORDS = {
    "red": ("red", "crimson", "scarlet"),
    "green": ("green", "emerald", "olive"),
    "blue": ("blue", "navy", "azure"),
}
SIZE_WORDS = {"small": ("small", "tiny", "little"), "large": ("large", "big", "huge")}
COUNT_PHRASES = {1: ("one", "a single"), 2: ("two", "a pair of"), 3: ("three",)}
GENERIC_NOUNS = (("object", "objects"), ("shape", "shapes"), ("thing", "things"), ("item", "items"))
OPENINGS = (
    "a picture of",
    "this image shows",
    "here we see",
    "the canvas shows",
    "a drawing of",
    "we can see",
    "a photo with",
)
CLOSINGS = (
    "on a noisy background",
    "near the corner",
    "in the middle of the frame",
    "with some clutter around",
    "drawn by hand",
    "among faint lines",
    "on a plain canvas",
)
DISTRACTOR_PHRASES = (
    "next to a {} stripe",
    "with a faint {} tint in the background",
    "beside some {} paint",
)

# Audio: one tone per shape and one per colour (Hz).
SHAPE_TONES = {"circle": 300.0, "square": 500.0, "triangle": 700.0}
COLOUR_TONES = {"red": 1100.0, "green": 1400.0, "blue": 1700.0}
TONE_JITTER = 0.02  # relative frequency jitter per clip
TONE_AMPLITUDE = (0.1, 0.25)
# White noise std at noise=1. At 0.3 an MFCC summary still names the shape and
# the colour about 95 % of the time (and the FFT peak nearly always), so audio
# is informative but imperfect; values stay mostly within [-1, 1].
AUDIO_NOISE_STD = 0.3

# Image: BGR base colours whose grey levels differ (about 99 / 113 / 126) but
# overlap once each object's brightness is jittered by +-30 %, so grey-level
# features cannot read the colour off reliably while colour features can.
COLOUR_BGR = {"red": (50, 55, 205), "green": (60, 160, 40), "blue": (240, 140, 55)}
BRIGHTNESS_JITTER = (0.7, 1.3)
RADIUS_FRACTION = {"small": 0.14, "large": 0.22}  # circumradius / image_size
# Upright squares and apex-up triangles, rotated by at most this many degrees:
# dense SIFT is computed upright, so free rotation would hide the shape.
ROTATION_JITTER = 10.0
IMAGE_NOISE_STD = 6.0  # pixel noise std at noise=1
TEXTURE_AMPLITUDE = 15.0  # smooth background texture amplitude at noise=1
MAX_CLUTTER = 4  # up to round(MAX_CLUTTER * noise) clutter marks per image


def _split_words(phrases) -> list[str]:
    words = []
    for phrase in phrases:
        for word in phrase.split():
            if word not in words:
                words.append(word)
    return words


_COUNT_FILLER = ("a", "of")  # the articles inside "a single", "a pair of"


def _filler_words() -> list[str]:
    phrases = [*OPENINGS, *CLOSINGS, *(p.format("") for p in DISTRACTOR_PHRASES)]
    phrases += [" ".join(pair) for pair in GENERIC_NOUNS]
    phrases += ["a an some", " ".join(_COUNT_FILLER)]
    return _split_words(phrases)


def _count_words(count: int) -> list[str]:
    return [w for w in _split_words(COUNT_PHRASES[count]) if w not in _COUNT_FILLER]


def _shapes_truth() -> dict:
    """Build a fresh copy of the generating model's structure and tables."""
    scene_names = [name for name, _, _ in SCENES]
    variables = {
        "scene": scene_names,
        "shape": list(SHAPES),
        "colour": list(COLOURS),
        "size": list(SIZES),
        "count": list(COUNTS),
    }

    def conditional(child, states, parent, rows):
        frame = pd.DataFrame(
            np.asarray(rows, dtype=float),
            index=pd.Index(variables[parent], name=parent),
            columns=pd.Index(states, name=child),
        )
        return frame

    def dominant_rows(states, dominant_of_scene):
        p_other = (1.0 - P_DOMINANT) / (len(states) - 1)
        return [
            [P_DOMINANT if state == dominant_of_scene[scene] else p_other for state in states]
            for scene in scene_names
        ]

    shape_of = {name: shape for name, shape, _ in SCENES}
    colour_of = {name: colour for name, _, colour in SCENES}
    cpds = {
        "scene": pd.DataFrame(
            np.full((1, len(scene_names)), 1.0 / len(scene_names)),
            index=pd.Index(["prior"]),
            columns=pd.Index(scene_names, name="scene"),
        ),
        "shape": conditional("shape", SHAPES, "scene", dominant_rows(SHAPES, shape_of)),
        "colour": conditional("colour", COLOURS, "scene", dominant_rows(COLOURS, colour_of)),
        "size": conditional("size", SIZES, "shape", [P_SIZE_GIVEN_SHAPE[s] for s in SHAPES]),
        "count": conditional("count", COUNTS, "size", [P_COUNT_GIVEN_SIZE[s] for s in SIZES]),
    }
    vocabulary = {shape: _split_words(p for pair in SHAPE_NOUNS[shape] for p in pair)
                  for shape in SHAPES}
    vocabulary.update({colour: list(COLOUR_WORDS[colour]) for colour in COLOURS})
    vocabulary.update({size: list(SIZE_WORDS[size]) for size in SIZES})
    vocabulary.update({count: _count_words(count) for count in COUNTS})
    return {
        "variables": variables,
        "edges": list(EDGES),
        "cpds": cpds,
        "vocabulary": vocabulary,
        "filler_words": _filler_words(),
        "mention_rates": {
            "colour": P_MENTION_COLOUR,
            "shape": P_MENTION_SHAPE,
            "size": P_MENTION_SIZE,
            "count": P_MENTION_COUNT,
        },
        "shape_tones": dict(SHAPE_TONES),
        "colour_tones": dict(COLOUR_TONES),
        "colour_bgr": dict(COLOUR_BGR),
    }


# --------------------------------------------------------------------------
# Sampling.
# --------------------------------------------------------------------------


def _check_generator(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.RandomState):
        # sklearn-style callers: derive a Generator reproducibly from it.
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if random_state is None or isinstance(
        random_state, (numbers.Integral, np.random.Generator, np.random.SeedSequence)
    ):
        return np.random.default_rng(random_state)
    raise TypeError(
        "random_state must be None, an int, a numpy Generator or RandomState, "
        f"got {type(random_state).__name__}"
    )


def _check_n_samples(n_samples) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise TypeError(f"n_samples must be an int, got {type(n_samples).__name__}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    return int(n_samples)


def _sample_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``probs`` (rows sum to 1), as column indices."""
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1))
    return np.minimum((cumulative <= u).sum(axis=1), probs.shape[1] - 1)


def _sample_latent_codes(n_samples: int, truth: dict, rng: np.random.Generator) -> dict:
    """Ancestral sampling in topological order; returns state indices per variable."""
    parents_of = {name: [p for p, c in truth["edges"] if c == name] for name in truth["variables"]}
    codes = {}
    for name in TOPOLOGICAL_ORDER:
        table = truth["cpds"][name].to_numpy()
        parents = parents_of[name]
        if parents:
            cards = [len(truth["variables"][p]) for p in parents]
            rows = np.ravel_multi_index([codes[p] for p in parents], cards)
            probs = table[rows]
        else:
            probs = np.broadcast_to(table[0], (n_samples, table.shape[1]))
        codes[name] = _sample_categorical(probs, rng)
    return codes


def _codes_to_frame(codes: dict, truth: dict) -> pd.DataFrame:
    columns = {}
    for name in TOPOLOGICAL_ORDER:
        states = truth["variables"][name]
        if all(isinstance(s, numbers.Integral) for s in states):
            columns[name] = np.asarray(states, dtype=np.int64)[codes[name]]
        else:
            columns[name] = [states[i] for i in codes[name]]
    return pd.DataFrame(columns)


def sample_shapes_latent(n_samples, random_state=None) -> pd.DataFrame:
    """Sample only the discrete latent variables of the shapes dataset.

    Draws ``scene, shape, colour, size, count`` by ancestral sampling from the
    same probability tables that :func:`make_shapes` uses (they are returned
    there as ``truth``). With the same integer ``random_state`` the result
    equals ``make_shapes(n_samples, random_state=...).latent``. Cheap enough
    for probabilistic-model tests with many thousands of samples.

    Parameters
    ----------
    n_samples : int
        Number of samples, at least 1.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None
        Seed or generator, for reproducible draws.

    Returns
    -------
    latent : pandas.DataFrame
        One row per sample; columns ``scene``, ``shape``, ``colour``, ``size``
        (strings) and ``count`` (int 1-3).

    See Also
    --------
    make_shapes : the full multimodal dataset with image, caption and audio.

    Examples
    --------
    >>> from mmfuse.datasets import sample_shapes_latent
    >>> latent = sample_shapes_latent(5, random_state=0)
    >>> list(latent.columns)
    ['scene', 'shape', 'colour', 'size', 'count']
    >>> len(latent)
    5
    """
    n_samples = _check_n_samples(n_samples)
    rng = _check_generator(random_state)
    truth = _shapes_truth()
    return _codes_to_frame(_sample_latent_codes(n_samples, truth, rng), truth)


# --------------------------------------------------------------------------
# Rendering the modalities.
# --------------------------------------------------------------------------


def _background(image_size: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    # Dark or light background, so every object keeps some contrast.
    level = rng.uniform(5, 40) if rng.random() < 0.5 else rng.uniform(200, 245)
    grid = rng.uniform(-1.0, 1.0, size=(4, 4)).astype(np.float32)
    texture = cv2.resize(grid, (image_size, image_size), interpolation=cv2.INTER_CUBIC)
    return level + TEXTURE_AMPLITUDE * noise * texture


def _polygon(centre, radius, n_vertices, angle) -> np.ndarray:
    theta = angle + 2.0 * np.pi * np.arange(n_vertices) / n_vertices
    points = np.stack([centre[0] + radius * np.cos(theta), centre[1] + radius * np.sin(theta)], 1)
    return np.round(points).astype(np.int32)


def _draw_object(canvas, shape, centre, radius, bgr, angle):
    if shape == "circle":
        cx, cy = (round(float(v)) for v in centre)
        cv2.circle(canvas, (cx, cy), round(radius * 0.8), bgr, -1, cv2.LINE_AA)
    elif shape == "square":  # upright at angle 0
        cv2.fillPoly(canvas, [_polygon(centre, radius, 4, angle + np.pi / 4)], bgr, cv2.LINE_AA)
    else:  # apex up at angle 0 (image y axis points down)
        cv2.fillPoly(canvas, [_polygon(centre, radius, 3, angle - np.pi / 2)], bgr, cv2.LINE_AA)


def _place_objects(count, radius, image_size, rng):
    """Random centres, re-drawn a few times to limit overlap."""
    low, high = radius, image_size - radius
    centres = []
    for _ in range(count):
        best, best_gap = None, -np.inf
        for _try in range(8):
            c = rng.uniform(low, high, size=2)
            gap = min((np.linalg.norm(c - o) for o in centres), default=np.inf)
            if gap > best_gap:
                best, best_gap = c, gap
            if gap >= 2 * radius:
                break
        centres.append(best)
    return centres


def _render_image(shape, colour, size, count, image_size, noise, rng) -> np.ndarray:
    canvas = np.repeat(_background(image_size, noise, rng)[:, :, None], 3, axis=2)

    n_clutter = rng.integers(0, round(MAX_CLUTTER * noise) + 1)
    for _ in range(n_clutter):
        grey = float(rng.uniform(0, 255))
        if rng.random() < 0.5:
            p1 = tuple(int(v) for v in rng.integers(0, image_size, size=2))
            p2 = tuple(int(v) for v in rng.integers(0, image_size, size=2))
            cv2.line(canvas, p1, p2, (grey, grey, grey), 1, cv2.LINE_AA)
        else:
            centre = tuple(int(v) for v in rng.integers(0, image_size, size=2))
            blob = max(1, round(image_size * rng.uniform(0.01, 0.03)))
            cv2.circle(canvas, centre, blob, (grey, grey, grey), -1, cv2.LINE_AA)

    base_radius = RADIUS_FRACTION[size] * image_size
    base_bgr = np.asarray(COLOUR_BGR[colour], dtype=float)
    for centre in _place_objects(count, base_radius, image_size, rng):
        radius = base_radius * rng.uniform(0.85, 1.15)
        bgr = np.clip(base_bgr * rng.uniform(*BRIGHTNESS_JITTER) + rng.normal(0, 8, 3), 0, 255)
        angle = np.deg2rad(rng.uniform(-ROTATION_JITTER, ROTATION_JITTER))
        _draw_object(canvas, shape, centre, radius, tuple(float(v) for v in bgr), angle)

    canvas += rng.normal(0.0, IMAGE_NOISE_STD * noise, size=canvas.shape)
    return np.clip(np.round(canvas), 0, 255).astype(np.uint8)


def _choice(options, rng):
    return options[rng.integers(len(options))]


def _caption(shape, colour, size, count, noise, rng) -> str:
    plural = count > 1
    words = []
    if rng.random() < P_MENTION_COUNT:
        words.append(_choice(COUNT_PHRASES[count], rng))
    elif not plural:
        words.append("a")
    else:
        words.append("some")
    if rng.random() < P_MENTION_SIZE:
        words.append(_choice(SIZE_WORDS[size], rng))
    if rng.random() < P_MENTION_COLOUR:
        words.append(_choice(COLOUR_WORDS[colour], rng))
    nouns = SHAPE_NOUNS[shape] if rng.random() < P_MENTION_SHAPE else GENERIC_NOUNS
    words.append(_choice(nouns, rng)[int(plural)])
    if words[0] == "a" and words[1][0] in "aeiou":
        words[0] = "an"

    parts = [_choice(OPENINGS, rng), " ".join(words)]
    if rng.random() < P_CLOSING_PHRASE:
        parts.append(_choice(CLOSINGS, rng))
    if rng.random() < P_DISTRACTOR_COLOUR * noise:
        wrong = _choice([c for c in COLOURS if c != colour], rng)
        parts.append(_choice(DISTRACTOR_PHRASES, rng).format(_choice(COLOUR_WORDS[wrong], rng)))
    return " ".join(parts)


def _render_audio(shapes, colours, sample_rate, duration, noise, rng) -> np.ndarray:
    """All clips at once: (n_samples, n_frames) float32, two enveloped tones each."""
    n = len(shapes)
    n_frames = max(1, round(sample_rate * duration))
    t = np.arange(n_frames) / sample_rate
    freqs = np.stack(
        [[SHAPE_TONES[s] for s in shapes], [COLOUR_TONES[c] for c in colours]], axis=1
    ) * rng.uniform(1 - TONE_JITTER, 1 + TONE_JITTER, size=(n, 2))
    onset = rng.uniform(0.0, 0.35, size=(n, 2)) * duration
    length = rng.uniform(0.45, 0.65, size=(n, 2)) * duration
    amplitude = rng.uniform(*TONE_AMPLITUDE, size=(n, 2))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 2))

    clips = np.zeros((n, n_frames))
    for k in range(2):
        x = (t[None, :] - onset[:, k, None]) / length[:, k, None]
        envelope = np.where((x >= 0) & (x <= 1), np.sin(np.pi * np.clip(x, 0, 1)) ** 2, 0.0)
        tone = np.sin(2 * np.pi * freqs[:, k, None] * t[None, :] + phase[:, k, None])
        clips += amplitude[:, k, None] * envelope * tone
    clips += rng.normal(0.0, AUDIO_NOISE_STD * noise, size=clips.shape)
    return clips.astype(np.float32)


def _check_params(image_size, audio_sample_rate, audio_duration, noise):
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral):
        raise TypeError(f"image_size must be an int, got {type(image_size).__name__}")
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16 pixels, got {image_size}")
    # The highest tone (with jitter) must stay below the Nyquist frequency.
    nyquist_min = 2 * max(COLOUR_TONES.values()) * (1 + TONE_JITTER)
    if (
        isinstance(audio_sample_rate, bool)
        or not isinstance(audio_sample_rate, numbers.Integral)
        or not audio_sample_rate > nyquist_min
    ):
        raise ValueError(
            f"audio_sample_rate must be an int > {nyquist_min:.0f} Hz so that every tone is "
            f"representable, got {audio_sample_rate!r}"
        )
    if not isinstance(audio_duration, numbers.Real) or not 0.05 <= audio_duration <= 60:
        raise ValueError(f"audio_duration must be in [0.05, 60] seconds, got {audio_duration!r}")
    if not isinstance(noise, numbers.Real) or not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")


_DESCR = """\
Shapes: a generated image / caption / audio dataset with a known generative model
=================================================================================

Each sample is a small scene of 1-3 identical objects. The class ``scene`` has
6 equiprobable states ({scenes}). Each scene has a dominant shape and a dominant
colour; every shape and every colour is dominant in exactly two scenes.

The latent variables form a discrete Bayesian network with edges
{edges}:
P(shape | scene) and P(colour | scene) put {p_dom} on the dominant state and
share the rest evenly; P(size | shape) makes squares mostly small and
triangles mostly large; P(count | size) gives small objects more copies. The
exact tables are in ``truth["cpds"]``, and :func:`sample_shapes_latent` draws
from them without rendering anything.

Modalities. ``image``: a uint8 BGR array with the objects drawn in their
colour (brightness jittered per object so that grey level does not reveal the
colour), on a textured dark or light background with clutter and pixel noise;
grayscale features (SIFT) see mainly the shape. ``text``: a caption that names
the colour with probability {p_col}, the shape with probability {p_shape}, and
the size or count sometimes, amid scene-agnostic filler words, plus (with
probability {p_dis} x noise) a wrong colour word in a context phrase. ``audio``:
a float32 clip with one tone per shape ({shape_tones} Hz) and one per colour
({colour_tones} Hz), each with a random onset and a sin^2 envelope, plus white
noise. The ``noise`` parameter scales image noise, texture and clutter, the
caption distractor rate and the audio noise.

Why it is useful. Shape alone or colour alone identifies the scene with a
Bayes accuracy of only 0.45; the pair (shape, colour) gives 0.83. So a
classifier on grayscale image features or on caption features alone is
limited, and fusing image and text must help. The known tables also let
structure- and parameter-learning code be checked against the truth.
"""


def make_shapes(
    n_samples=600,
    *,
    image_size=64,
    audio_sample_rate=8000,
    audio_duration=0.5,
    noise=1.0,
    random_state=None,
) -> Bunch:
    """Generate the multimodal "shapes" dataset from a known Bayesian network.

    A class ``scene`` (6 states) generates a shape and a colour (each with a
    dominant state per scene), the shape generates a size, and the size a
    count of objects. The image shows mainly the shape, the caption mainly
    names the colour, and the audio plays one tone for each; so no single
    grayscale-image or text feature set can identify the scene well, while
    fusing them can. The generating model is returned as plain data in
    ``truth``.

    Parameters
    ----------
    n_samples : int, default=600
        Number of samples.
    image_size : int, default=64
        Height and width of the square images, in pixels (at least 16).
    audio_sample_rate : int, default=8000
        Sample rate of the audio clips, in Hz; must exceed twice the highest
        tone (about 3470 Hz).
    audio_duration : float, default=0.5
        Length of each audio clip, in seconds.
    noise : float, default=1.0
        Difficulty knob, at least 0: scales pixel noise, background texture
        and clutter in images, the rate of wrong colour words in captions and
        the audio noise. ``noise=0`` gives clean images and audio and no
        distractors; the latent ambiguity of the model is unaffected.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None
        Seed or generator. The latent variables are drawn first, exactly as in
        :func:`sample_shapes_latent`; images, captions and audio then use
        independent child streams, so changing e.g. ``audio_duration`` leaves
        the images and captions of a given seed unchanged.

    Returns
    -------
    data : sklearn.utils.Bunch
        - ``frame``: pandas DataFrame with columns ``image`` (uint8 arrays of
          shape ``(image_size, image_size, 3)``, BGR), ``text`` (str) and
          ``audio`` (1-D float32 arrays of ``round(audio_sample_rate *
          audio_duration)`` samples).
        - ``target``: int array of scene indices.
        - ``target_names``: list of scene names, indexed by ``target``.
        - ``latent``: DataFrame of the sampled variables ``scene``, ``shape``,
          ``colour``, ``size`` (str) and ``count`` (int).
        - ``truth``: dict with ``variables`` ({name: states}), ``edges``
          ([(parent, child)]), ``cpds`` ({name: DataFrame P(name | parent)},
          rows = parent states, or a single ``"prior"`` row for the root,
          columns = states), ``vocabulary`` ({state: caption words}),
          ``filler_words``, ``mention_rates`` (probability that a caption
          names the colour / shape / size / count), ``distractor_colour_rate``
          (probability of a wrong colour word, ``min(1, 0.1 * noise)``),
          ``shape_tones``, ``colour_tones`` (Hz) and ``colour_bgr`` (base
          colour of the objects, BGR).
        - ``audio_sample_rate``: int.
        - ``DESCR``: description of the generative model.

    See Also
    --------
    sample_shapes_latent : draw only the discrete latent variables.

    Examples
    --------
    >>> from mmfuse.datasets import make_shapes
    >>> data = make_shapes(12, random_state=0)
    >>> data.frame.shape
    (12, 3)
    >>> data.frame["image"].iloc[0].shape, data.frame["image"].iloc[0].dtype
    ((64, 64, 3), dtype('uint8'))
    >>> data.frame["audio"].iloc[0].shape
    (4000,)
    >>> data.target_names[data.target[0]] == data.latent["scene"].iloc[0]
    True
    >>> data.truth["cpds"]["shape"].loc["red_circles"].round(2).tolist()
    [0.9, 0.05, 0.05]
    """
    n_samples = _check_n_samples(n_samples)
    _check_params(image_size, audio_sample_rate, audio_duration, noise)
    image_size = int(image_size)
    noise = float(noise)
    rng = _check_generator(random_state)

    truth = _shapes_truth()
    truth["distractor_colour_rate"] = min(1.0, P_DISTRACTOR_COLOUR * noise)
    codes = _sample_latent_codes(n_samples, truth, rng)
    latent = _codes_to_frame(codes, truth)
    image_rng, text_rng, audio_rng = rng.spawn(3)

    rows = list(latent[["shape", "colour", "size", "count"]].itertuples(index=False, name=None))
    images = np.empty(n_samples, dtype=object)
    images[:] = [_render_image(*row, image_size, noise, image_rng) for row in rows]
    texts = [_caption(*row, noise, text_rng) for row in rows]
    clips = _render_audio(
        latent["shape"], latent["colour"], audio_sample_rate, audio_duration, noise, audio_rng
    )
    audio = np.empty(n_samples, dtype=object)
    audio[:] = [clip.copy() for clip in clips]

    frame = pd.DataFrame({"image": images, "text": texts, "audio": audio})
    edges = ", ".join(f"{p} -> {c}" for p, c in truth["edges"])
    descr = _DESCR.format(
        scenes=", ".join(truth["variables"]["scene"]),
        edges=edges,
        p_dom=P_DOMINANT,
        p_col=P_MENTION_COLOUR,
        p_shape=P_MENTION_SHAPE,
        p_dis=P_DISTRACTOR_COLOUR,
        shape_tones="/".join(f"{v:.0f}" for v in SHAPE_TONES.values()),
        colour_tones="/".join(f"{v:.0f}" for v in COLOUR_TONES.values()),
    )
    return Bunch(
        frame=frame,
        target=codes["scene"].astype(np.int64),
        target_names=list(truth["variables"]["scene"]),
        latent=latent,
        truth=truth,
        audio_sample_rate=int(audio_sample_rate),
        DESCR=descr,
    )
