"""Read one audio cell (path, encoded bytes, array or ``(array, rate)``) into float samples."""

from __future__ import annotations

import io
import os
from numbers import Integral, Real

import numpy as np

from mmfuse.exceptions import MediaError
from mmfuse.io._source import _BYTES_TYPES, describe_source, read_file_bytes

#: Default cap on the duration of an encoded clip, in seconds (one hour).
DEFAULT_MAX_DURATION = 3600.0

# Full-scale divisors of integer PCM arrays: the value that maps to 1.0.
_INT_SCALES = {np.dtype(np.int8): 2.0**7, np.dtype(np.int16): 2.0**15,
               np.dtype(np.int32): 2.0**31, np.dtype(np.int64): 2.0**63}


def read_audio(source, *, sr=None, source_sr=None, mono=True,
               max_duration=DEFAULT_MAX_DURATION, res_type="soxr_hq"):
    """Read an audio clip from a path, encoded bytes or an array of samples.

    Encoded audio (WAV, FLAC, OGG/Vorbis, MP3 and the other formats of
    libsndfile) is decoded with :mod:`soundfile`; channels are mixed down
    with :func:`librosa.to_mono` and the clip is resampled with
    :func:`librosa.resample` when ``sr`` asks for another rate. A path, its
    bytes and the decoded array therefore give the same samples.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview, ndarray or tuple
        A path to an audio file (a ``str`` is a path: audio cells have no
        inline text form); the encoded content of an audio file; decoded
        samples as a 1-D array, or 2-D ``(n_channels, n_samples)`` (librosa's
        order), whose rate is ``source_sr``; or a tuple ``(samples, rate)``.
        Sample dtypes: floating point as is (full scale is ``[-1, 1]``);
        signed integers are PCM and are divided by their full scale
        (``int16`` by 32768); ``uint8`` is 8-bit PCM centred at 128.
    sr : int, default=None
        Rate to return, in Hz: the clip is resampled to it. None keeps the
        source's rate.
    source_sr : int, default=None
        Rate of an array `source`. When None, an array is taken to be at
        ``sr`` already; it is an error for both to be None, since bare
        samples carry no rate. Ignored for files, bytes and tuples, whose
        rate is known.
    mono : bool, default=True
        True: mix the channels down to one (their mean) and return a 1-D
        array. False: return ``(n_channels, n_samples)``, also for a mono
        source.
    max_duration : float or None, default=3600.0
        Refuse encoded clips longer than this many seconds, read from the
        file header before anything is decoded. None disables the check.
        Arrays are already in memory and are not checked.
    res_type : str, default="soxr_hq"
        Resampling method of :func:`librosa.resample`.

    Returns
    -------
    samples : ndarray of float32
        Shape ``(n_samples,)`` when `mono`, else ``(n_channels, n_samples)``.
        A new array (never a view of `source`).
    sr : int
        Its sample rate.

    Raises
    ------
    MediaError
        Missing or unreadable file; empty data; data that is not audio
        libsndfile can decode; a clip with zero samples; NaN or infinite
        samples; an array of unsupported shape or dtype; a clip longer than
        `max_duration`; a source of another type. The message names the
        source.
    ValueError
        Bad `sr`, `source_sr` or `max_duration`, or an array without a rate.

    Notes
    -----
    A silent clip (all zeros) is valid audio and is returned as it is;
    feature extractors decide what to do with it (see
    :class:`mmfuse.audio.MFCCExtractor`).

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from mmfuse.io import read_audio
    >>> tone = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000).astype(np.float32)
    >>> buffer = io.BytesIO()
    >>> sf.write(buffer, tone, 8000, format="WAV", subtype="PCM_16")
    >>> samples, rate = read_audio(buffer.getvalue())
    >>> samples.shape, samples.dtype, rate
    ((8000,), dtype('float32'), 8000)
    >>> read_audio(buffer.getvalue(), sr=16000)[0].shape
    (16000,)
    >>> stereo = np.stack([tone, np.zeros_like(tone)])  # (n_channels, n_samples)
    >>> mixed, _ = read_audio(stereo, source_sr=8000)
    >>> bool(np.allclose(mixed, tone / 2))
    True
    >>> read_audio(b"")
    Traceback (most recent call last):
    ...
    mmfuse.exceptions.MediaError: input ('<bytes of length 0>'): empty audio data (0 bytes)
    """
    sr = _check_rate(sr, "sr")
    source_sr = _check_rate(source_sr, "source_sr")
    if max_duration is not None and (
        isinstance(max_duration, bool) or not isinstance(max_duration, Real) or max_duration <= 0
    ):
        raise ValueError(f"max_duration must be a positive number or None, got {max_duration!r}")

    where = describe_source(source)
    if isinstance(source, tuple):
        if len(source) != 2 or not isinstance(source[0], np.ndarray):
            raise MediaError(
                "a tuple audio cell must be (samples array, sample rate)", source=where)
        try:
            rate = _check_rate(source[1], "the rate of a (samples, rate) cell")
        except ValueError as exc:
            raise MediaError(str(exc), source=where) from None
        samples = _from_array(source[0], where)
    elif isinstance(source, np.ndarray):
        rate = source_sr if source_sr is not None else sr
        if rate is None:
            raise ValueError(
                f"audio {where}: an array of samples carries no sample rate; pass source_sr= "
                "(or sr=), or give the cell as a (samples, rate) tuple"
            )
        samples = _from_array(source, where)
    elif isinstance(source, (str, os.PathLike)):
        if isinstance(source, str) and not source:
            raise MediaError("empty path", source=where)
        samples, rate = _decode(read_file_bytes(source, kind="audio"), where, max_duration)
    elif isinstance(source, _BYTES_TYPES):
        samples, rate = _decode(bytes(source), where, max_duration)
    else:
        raise MediaError(
            f"cannot read audio from a {type(source).__name__}; expected a path, the encoded "
            "bytes of an audio file, an array of samples or a (samples, rate) tuple",
            source=where,
        )

    if samples.shape[0] == 0:
        raise MediaError("the clip has no channels", source=where)
    if samples.shape[1] == 0:
        raise MediaError("the clip has no samples (zero length)", source=where)
    finite = np.isfinite(samples)
    if not finite.all():
        first = int(np.argmin(finite.all(axis=0)))
        raise MediaError(
            f"the clip contains NaN or infinite samples (first at sample {first}, "
            f"{first / rate:.3f} s)",
            source=where,
        )
    if mono and samples.shape[0] > 1:
        import librosa

        samples = librosa.to_mono(samples)[None, :]
    if sr is not None and sr != rate:
        import librosa

        samples = librosa.resample(samples, orig_sr=rate, target_sr=sr, res_type=res_type,
                                   axis=-1)
        rate = sr
    samples = np.array(samples, dtype=np.float32, copy=True, order="C")
    return (samples[0] if mono else samples), int(rate)


def native_rate(source) -> int | None:
    """The sample rate a clip is stored at, read from its header without decoding it.

    Parameters
    ----------
    source : audio cell
        A path, encoded bytes, a ``(samples, rate)`` tuple or an array.

    Returns
    -------
    rate : int or None
        The stored rate; None for a bare array (it carries no rate), a
        missing cell, or a source whose header cannot be read (reading it
        later raises the clear error of :func:`read_audio`).
    """
    import soundfile as sf

    if isinstance(source, tuple) and len(source) == 2:
        rate = source[1]
        if isinstance(rate, Integral) and not isinstance(rate, bool) and rate >= 1:
            return int(rate)
        return None
    try:
        if isinstance(source, (str, os.PathLike)) and str(source):
            return int(sf.info(os.fspath(source)).samplerate)
        if isinstance(source, _BYTES_TYPES) and len(source):
            return int(sf.info(io.BytesIO(bytes(source))).samplerate)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError):
        return None
    return None


def _check_rate(rate, name):
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, Integral) or rate < 1:
        raise ValueError(f"{name} must be a positive int (Hz) or None, got {rate!r}")
    return int(rate)


def _decode(data: bytes, where: str, max_duration):
    import soundfile as sf

    if len(data) == 0:
        raise MediaError("empty audio data (0 bytes)", source=where)
    try:
        with sf.SoundFile(io.BytesIO(data)) as handle:
            rate, n_frames = int(handle.samplerate), int(handle.frames)
            if max_duration is not None and n_frames > max_duration * rate:
                raise MediaError(
                    f"clip of {n_frames / rate:.1f} s exceeds max_duration={max_duration:g} s "
                    "(refused before decoding; raise max_duration to read it)",
                    source=where,
                )
            samples = handle.read(dtype="float32", always_2d=True)
    except MediaError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise MediaError(
            f"cannot decode the audio (not a format libsndfile reads, or corrupt data: {exc}); "
            "supported formats include WAV, FLAC, OGG and MP3",
            source=where,
        ) from None
    return np.ascontiguousarray(samples.T), rate


def _from_array(array: np.ndarray, where: str) -> np.ndarray:
    """``(n_channels, n_samples)`` float samples of an array cell."""
    if array.ndim not in (1, 2):
        raise MediaError(
            f"an audio array must be 1-D (n_samples,) or 2-D (n_channels, n_samples), got "
            f"shape {array.shape}",
            source=where,
        )
    samples = array[None, :] if array.ndim == 1 else array
    dtype = samples.dtype
    if np.issubdtype(dtype, np.floating):
        return samples.astype(np.float32)
    if dtype in _INT_SCALES:
        return (samples / _INT_SCALES[dtype]).astype(np.float32)
    if dtype == np.uint8:
        return ((samples.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    raise MediaError(
        f"unsupported audio dtype {dtype}; pass float samples in [-1, 1] or signed integer "
        "PCM (int16, int32)",
        source=where,
    )
