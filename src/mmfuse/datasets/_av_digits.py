"""Audio-visual digits: each FSDD recording paired with an MNIST image of the same digit."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from mmfuse.datasets._fsdd import FSDD_SAMPLE_RATE, load_fsdd
from mmfuse.datasets._mnist import load_mnist
from mmfuse.datasets._shapes import _check_generator

#: Pixel noise std (0-255 scale) and occluding-square side (pixels) at ``noise=1``.
IMAGE_NOISE_STD = 70.0
IMAGE_OCCLUSION = 12
#: Signal-to-noise ratio of the added white noise, in dB, at ``noise=1``;
#: ``noise=n`` gives ``AUDIO_SNR_DB - 10 * (n - 1)`` dB.
AUDIO_SNR_DB = 0.0

_DESCR = """\
Audio-visual digits (AV-MNIST style, FSDD + MNIST)
---------------------------------------------------
One sample per Free Spoken Digit Dataset recording, paired with an MNIST
image of the same digit. FSDD's official split decides the split: training
recordings (takes 5-49) are paired with MNIST training images, test
recordings (takes 0-4) with MNIST test images, so no image is shared between
train and test. Within a split an image is not reused while unused images of
its digit remain. ``noise`` degrades both media so that neither modality is
close to perfect: Gaussian pixel noise and an occluding square on the image,
white noise at a fixed signal-to-noise ratio on the audio.
Licences: FSDD CC BY-SA 4.0, MNIST CC BY-SA 3.0; nothing is written to disk.
"""


def load_av_digits(mnist_path=None, fsdd_path=None, *, noise=0.0, subset="all",
                   n_samples=None, random_state=0):
    """Pair every FSDD recording with an MNIST image of the same digit.

    The AV-MNIST construction on the free datasets: the spoken and the
    written digit are two views of one label. Pairing and degradation are
    reproducible from ``random_state``.

    Parameters
    ----------
    mnist_path, fsdd_path : str or path-like, default=None
        The ``mnist`` and ``fsdd`` folders (or folders holding them); None
        uses ``$MMFUSE_DATA`` (see :func:`mmfuse.datasets.find_dataset`).
    noise : float, default=0.0
        Difficulty knob, at least 0. ``0`` leaves both media clean. Otherwise
        each image gets Gaussian pixel noise of std ``70 * noise`` (0-255
        scale) and a black square of side ``round(12 * noise)`` pixels at a
        random place, and each recording white noise at
        ``-10 * (noise - 1)`` dB signal-to-noise ratio (0 dB at ``noise=1``),
        relative to the recording's own power.
    subset : {"all", "train", "test"}, default="all"
        FSDD's official split (test = takes 0-4).
    n_samples : int or None, default=None
        Keep a stratified random subset of this many samples (before pairing).
    random_state : int, numpy Generator or None, default=0
        Seed for the pairing, the subset and the noise.

    Returns
    -------
    data : sklearn.utils.Bunch
        - ``frame``: DataFrame with ``image`` (28 x 28 uint8 arrays) and
          ``audio`` (float32 arrays at 8 kHz) columns.
        - ``target``: int array, the digit.
        - ``speaker``: str array (FSDD speaker, a group for splits).
        - ``is_test``: bool array, FSDD's official test set.
        - ``mnist_index``: index of the image in its MNIST subset.
        - ``target_names``, ``sample_rate`` (8000), ``noise``, ``DESCR``.

    Raises
    ------
    FileNotFoundError
        When MNIST or FSDD is absent.
    ValueError
        When a split lacks MNIST images of a digit, or bad parameters.

    Examples
    --------
    >>> from mmfuse.datasets import load_av_digits
    >>> data = load_av_digits(noise=1.0, n_samples=50)  # doctest: +SKIP
    >>> data.frame.columns.tolist(), data.frame["image"].iloc[0].shape  # doctest: +SKIP
    (['image', 'audio'], (28, 28))
    """
    if not isinstance(noise, Real) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    if subset not in ("all", "train", "test"):
        raise ValueError(f"subset must be 'all', 'train' or 'test', got {subset!r}")
    rng = _check_generator(random_state)
    fsdd = load_fsdd(fsdd_path, subset=subset)
    keep = np.arange(len(fsdd.target))
    if n_samples is not None:
        if int(n_samples) < 1:
            raise ValueError(f"n_samples must be >= 1 or None, got {n_samples!r}")
        keep = _stratified_subset(fsdd.target, int(n_samples), rng)
    target = fsdd.target[keep]
    is_test = fsdd.is_test[keep]
    pair_rng, image_rng, audio_rng = rng.spawn(3)

    images = np.empty((len(keep), 28, 28), dtype=np.uint8)
    mnist_index = np.empty(len(keep), dtype=np.int64)
    for split_is_test, mnist_subset in ((False, "train"), (True, "test")):
        rows = np.flatnonzero(is_test == split_is_test)
        if rows.size == 0:
            continue
        mnist = load_mnist(mnist_path, subset=mnist_subset)
        chosen = _pair_by_digit(target[rows], mnist.target, pair_rng, mnist_subset)
        images[rows] = mnist.images[chosen]
        mnist_index[rows] = chosen

    from mmfuse.io import read_audio

    audio = []
    for i, index in enumerate(keep):
        samples = read_audio(fsdd.audio[index], sr=FSDD_SAMPLE_RATE)[0].astype(np.float32)
        audio.append(_noisy_audio(samples, noise, audio_rng) if noise > 0 else samples)
        if noise > 0:
            images[i] = _noisy_image(images[i], noise, image_rng)
    frame = pd.DataFrame({"image": list(images), "audio": audio})
    return Bunch(frame=frame, target=target, speaker=fsdd.speaker[keep], is_test=is_test,
                 mnist_index=mnist_index, target_names=[str(d) for d in range(10)],
                 sample_rate=FSDD_SAMPLE_RATE, noise=float(noise), DESCR=_DESCR)


def _stratified_subset(target, n, rng) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    if n >= len(target):
        return np.arange(len(target))
    seed = int(rng.integers(np.iinfo(np.int32).max))
    keep, _ = train_test_split(np.arange(len(target)), train_size=n, stratify=target,
                               random_state=seed)
    return np.sort(keep)


def _pair_by_digit(digits, mnist_target, rng, mnist_subset) -> np.ndarray:
    """For each digit, MNIST indices of that digit, without reuse until exhausted."""
    chosen = np.empty(len(digits), dtype=np.int64)
    for digit in np.unique(digits):
        rows = np.flatnonzero(digits == digit)
        pool = np.flatnonzero(mnist_target == digit)
        if pool.size == 0:
            raise ValueError(f"MNIST {mnist_subset} has no image of digit {digit}")
        reps = -(-rows.size // pool.size)
        order = np.concatenate([rng.permutation(pool) for _ in range(reps)])
        chosen[rows] = order[:rows.size]
    return chosen


def _noisy_image(image, noise, rng) -> np.ndarray:
    out = image.astype(np.float64) + rng.normal(scale=IMAGE_NOISE_STD * noise, size=image.shape)
    side = min(int(round(IMAGE_OCCLUSION * noise)), image.shape[0])
    if side > 0:
        r, c = rng.integers(0, image.shape[0] - side + 1, size=2)
        out[r:r + side, c:c + side] = 0
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _noisy_audio(samples, noise, rng) -> np.ndarray:
    power = float(np.mean(samples.astype(np.float64) ** 2))
    snr_db = AUDIO_SNR_DB - 10.0 * (noise - 1.0)
    std = np.sqrt(power / 10 ** (snr_db / 10)) if power > 0 else 0.0
    return (samples + rng.normal(scale=std, size=samples.shape)).astype(np.float32)


__all__ = ["load_av_digits"]
