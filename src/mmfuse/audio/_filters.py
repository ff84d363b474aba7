"""Clean-up of a clip before feature extraction: band-pass filtering and noise reduction."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np


def bandpass_filter(samples, sr, *, low=None, high=None, order=4):
    """Zero-phase Butterworth band-pass (or low-/high-pass) filter of a clip.

    A Butterworth filter of ``order`` designed with :func:`scipy.signal.butter`
    as second-order sections, run forwards and backwards with
    :func:`scipy.signal.sosfiltfilt` so that it adds no delay (the effective
    order doubles).

    Parameters
    ----------
    samples : array-like of shape (n_samples,) or (n_channels, n_samples)
        The clip; filtered along the last axis.
    sr : int
        Its sample rate, in Hz.
    low : float, default=None
        Lower cut-off in Hz; None for a low-pass filter.
    high : float, default=None
        Upper cut-off in Hz, below the Nyquist frequency ``sr / 2``; None for
        a high-pass filter.
    order : int, default=4
        Order of the Butterworth design.

    Returns
    -------
    filtered : ndarray of float32, same shape as `samples`

    Raises
    ------
    ValueError
        Neither cut-off given, ``low >= high``, or a cut-off outside
        ``(0, sr / 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.audio import bandpass_filter
    >>> t = np.arange(8000) / 8000
    >>> clip = np.sin(2 * np.pi * 100 * t) + np.sin(2 * np.pi * 1000 * t)
    >>> kept = bandpass_filter(clip, 8000, low=500, high=2000)
    >>> spectrum = np.abs(np.fft.rfft(kept[1000:-1000]))
    >>> freqs = np.fft.rfftfreq(6000, 1 / 8000)
    >>> float(freqs[spectrum.argmax()])
    1000.0
    """
    from scipy.signal import butter, sosfiltfilt

    samples = np.asarray(samples, dtype=np.float64)
    if isinstance(sr, bool) or not isinstance(sr, Integral) or sr < 1:
        raise ValueError(f"sr must be a positive int (Hz), got {sr!r}")
    if isinstance(order, bool) or not isinstance(order, Integral) or order < 1:
        raise ValueError(f"order must be a positive int, got {order!r}")
    nyquist = sr / 2
    for name, value in (("low", low), ("high", high)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, Real) or not 0 < value < nyquist
        ):
            raise ValueError(
                f"{name} must be a frequency in (0, {nyquist:g}) Hz (the Nyquist frequency of "
                f"sr={sr}), got {value!r}"
            )
    if low is None and high is None:
        raise ValueError("bandpass_filter needs low=, high= or both")
    if low is not None and high is not None and low >= high:
        raise ValueError(f"low must be below high, got low={low!r}, high={high!r}")
    if low is None:
        sos = butter(order, high, btype="lowpass", fs=sr, output="sos")
    elif high is None:
        sos = butter(order, low, btype="highpass", fs=sr, output="sos")
    else:
        sos = butter(order, [low, high], btype="bandpass", fs=sr, output="sos")
    # sosfiltfilt pads by 3 * (2 * n_sections + 1) samples; shorter clips get less padding.
    default_pad = 3 * (2 * sos.shape[0] + 1)
    padlen = min(default_pad, samples.shape[-1] - 1)
    return sosfiltfilt(sos, samples, axis=-1, padlen=max(padlen, 0)).astype(np.float32)


def reduce_noise(samples, sr, *, stationary=True, strength=1.0, noise=None,
                 noise_share=0.2, **options):
    """Spectral-gating noise reduction with the ``noisereduce`` package.

    Estimates a noise threshold for each frequency from a sample of noise
    and attenuates the time-frequency bins below it
    (:func:`noisereduce.reduce_noise`, Sainburg 2020). When no noise sample
    is given, the quietest `noise_share` of the clip, in 32 ms frames, is
    taken as the noise: this suits clips with pauses, such as isolated
    words between silences. (noisereduce's own estimate from the whole clip
    treats a signal present most of the time as noise and gates it away.)
    The gating mask is not smoothed over frequency or time unless
    ``freq_mask_smooth_hz`` / ``time_mask_smooth_ms`` are passed: noisereduce's
    default 500 Hz smoothing blurs the harmonics of voiced speech into the
    gated bins between them.

    Parameters
    ----------
    samples : array-like of shape (n_samples,) or (n_channels, n_samples)
        The clip.
    sr : int
        Its sample rate, in Hz.
    stationary : bool, default=True
        True: one threshold per frequency for the whole clip (steady hum,
        hiss). False: a threshold that follows the noise over time.
    strength : float in [0, 1], default=1.0
        How much of the gated energy to remove (``prop_decrease``).
    noise : array-like of shape (n_noise_samples,), default=None
        A recording of the noise alone, to estimate the threshold from;
        None takes the quietest part of the clip (see `noise_share`).
    noise_share : float in (0, 1], default=0.2
        Share of the clip's 32 ms frames, the quietest ones, used as the
        noise sample when `noise` is None.
    **options
        Further keyword arguments of :func:`noisereduce.reduce_noise`.

    Returns
    -------
    denoised : ndarray of float32, same shape as `samples`

    Raises
    ------
    ImportError
        If ``noisereduce`` is not installed (``pip install noisereduce``, or
        mmfuse's ``audio`` extra).

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.audio import reduce_noise
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(16000) / 8000
    >>> tone = np.where(t > 1, np.sin(2 * np.pi * 440 * t), 0.0)
    >>> noisy = tone + 0.05 * rng.normal(size=t.size)
    >>> cleaned = reduce_noise(noisy, 8000)
    >>> bool(np.std(cleaned[:4000]) < np.std(noisy[:4000]) / 3)  # the noise-only half
    True
    """
    try:
        import noisereduce
    except ImportError as exc:
        raise ImportError(
            "reduce_noise needs the 'noisereduce' package: pip install noisereduce "
            "(or mmfuse[audio])"
        ) from exc
    if isinstance(sr, bool) or not isinstance(sr, Integral) or sr < 1:
        raise ValueError(f"sr must be a positive int (Hz), got {sr!r}")
    if not isinstance(strength, Real) or not 0 <= strength <= 1:
        raise ValueError(f"strength must be in [0, 1], got {strength!r}")
    if not isinstance(noise_share, Real) or not 0 < noise_share <= 1:
        raise ValueError(f"noise_share must be in (0, 1], got {noise_share!r}")
    samples = np.asarray(samples, dtype=np.float32)
    if noise is None:
        noise = _quietest_part(samples.reshape(-1, samples.shape[-1]).mean(axis=0), sr,
                               noise_share)
    kwargs = {"n_fft": min(1024, _pow2_at_least(int(0.064 * sr))),
              "freq_mask_smooth_hz": None, "time_mask_smooth_ms": None}
    kwargs.update(options)
    denoised = noisereduce.reduce_noise(
        y=samples, sr=sr, stationary=stationary, prop_decrease=float(strength),
        y_noise=np.asarray(noise, dtype=np.float32), **kwargs,
    )
    return np.asarray(denoised, dtype=np.float32)


def _quietest_part(samples: np.ndarray, sr: int, share: float) -> np.ndarray:
    """The quietest `share` of the clip's 32 ms frames, concatenated in time order."""
    frame = max(1, int(0.032 * sr))
    n_frames = samples.size // frame
    if n_frames < 2:
        return samples
    frames = samples[:n_frames * frame].reshape(n_frames, frame)
    energy = np.mean(frames.astype(np.float64) ** 2, axis=1)
    keep = np.sort(np.argsort(energy, kind="stable")[:max(1, int(round(share * n_frames)))])
    return frames[keep].reshape(-1)


def _pow2_at_least(n: int) -> int:
    """Smallest power of two >= n (at least 2)."""
    return 1 << max(1, int(np.ceil(np.log2(max(n, 2)))))
