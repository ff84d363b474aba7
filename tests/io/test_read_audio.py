"""read_audio: sources agree with soundfile, mixdown and resampling are right, bad audio named."""

import io

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from mmfuse.exceptions import MediaError
from mmfuse.io import read_audio

RATE = 8000


@pytest.fixture
def pcm():
    """Half a second of a chirp-like int16 signal, mono."""
    t = np.arange(RATE // 2) / RATE
    signal = 0.6 * np.sin(2 * np.pi * (300 + 400 * t) * t) + 0.1 * np.sin(2 * np.pi * 1200 * t)
    return np.round(signal * 32767).astype(np.int16)


def _encode(samples, rate=RATE, fmt="WAV", subtype="PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
def test_path_bytes_and_array_give_the_same_samples(tmp_path, pcm, fmt):
    data = _encode(pcm, fmt=fmt)
    path = tmp_path / f"clip_\u00e9.{fmt.lower()}"
    path.write_bytes(data)
    reference, reference_rate = sf.read(io.BytesIO(data), dtype="float32")
    assert reference_rate == RATE

    outputs = [read_audio(path), read_audio(str(path)), read_audio(data),
               read_audio(bytearray(data)), read_audio(memoryview(data)),
               read_audio(pcm, source_sr=RATE), read_audio(pcm, sr=RATE),
               read_audio((pcm, RATE))]
    for samples, rate in outputs:
        assert rate == RATE
        assert samples.dtype == np.float32 and samples.shape == pcm.shape
        np.testing.assert_array_equal(samples, reference)
    # int16 PCM is scaled by its full scale, as libsndfile does.
    np.testing.assert_array_equal(outputs[-1][0], pcm / np.float32(32768))


def test_integer_and_float_arrays_are_scaled_to_full_scale():
    ints32 = np.array([0, 2**30, -(2**31)], dtype=np.int32)
    np.testing.assert_allclose(read_audio(ints32, source_sr=RATE)[0], [0, 0.5, -1.0])
    uint8 = np.array([128, 192, 0], dtype=np.uint8)
    np.testing.assert_allclose(read_audio(uint8, source_sr=RATE)[0], [0, 0.5, -1.0])
    floats = np.array([0.25, -0.5], dtype=np.float64)
    out, _ = read_audio(floats, source_sr=RATE)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, floats.astype(np.float32))
    assert not np.shares_memory(out, floats)
    same_dtype = np.array([0.25, -0.5], dtype=np.float32)
    assert not np.shares_memory(read_audio(same_dtype, source_sr=RATE)[0], same_dtype)


def test_stereo_mixdown_is_the_channel_mean(tmp_path, pcm):
    left = pcm
    right = (pcm // 3).astype(np.int16)
    data = _encode(np.column_stack([left, right]))  # soundfile: (frames, channels)
    mono, rate = read_audio(data)
    expected = (left.astype(np.float64) + right) / 2 / 32768
    np.testing.assert_allclose(mono, expected, atol=1e-6)
    both, _ = read_audio(data, mono=False)
    assert both.shape == (2, pcm.size)
    np.testing.assert_allclose(both[1], right / 32768, atol=1e-7)
    # An array in librosa's (n_channels, n_samples) order mixes down the same way.
    np.testing.assert_allclose(read_audio(both, source_sr=rate)[0], mono, atol=1e-7)
    # mono=False keeps a channel axis for mono sources too.
    assert read_audio(pcm, source_sr=RATE, mono=False)[0].shape == (1, pcm.size)


@pytest.mark.parametrize("target", [16000, 11025, 4000])
def test_resampling_matches_the_analytic_signal(target):
    """A 440 Hz tone resampled anywhere is the same tone sampled at the new rate."""
    duration, frequency = 0.5, 440.0
    tone = np.sin(2 * np.pi * frequency * np.arange(int(RATE * duration)) / RATE)
    out, rate = read_audio(tone, source_sr=RATE, sr=target)
    assert rate == target and out.size == int(np.ceil(target * duration))
    expected = np.sin(2 * np.pi * frequency * np.arange(out.size) / target)
    inner = slice(out.size // 10, -out.size // 10)  # away from edge effects
    np.testing.assert_allclose(out[inner], expected[inner], atol=2e-3)
    # and agrees with scipy's polyphase resampler, an independent implementation
    if target == 16000:
        np.testing.assert_allclose(out[inner], resample_poly(tone, 2, 1)[inner], atol=2e-3)


def test_no_resampling_when_rates_agree(pcm):
    samples, rate = read_audio(_encode(pcm), sr=RATE)
    assert rate == RATE and samples.size == pcm.size


# -- bad audio ------------------------------------------------------------------------
def test_empty_data_and_empty_file(tmp_path):
    with pytest.raises(MediaError, match="empty audio data"):
        read_audio(b"")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.wav.*empty audio data"):
        read_audio(empty)
    with pytest.raises(MediaError, match="empty path"):
        read_audio("")


def test_zero_samples(tmp_path):
    with pytest.raises(MediaError, match="no samples"):
        read_audio(_encode(np.zeros(0, np.int16)))
    with pytest.raises(MediaError, match="no samples"):
        read_audio(np.zeros(0, np.float32), source_sr=RATE)
    with pytest.raises(MediaError, match="no channels"):
        read_audio(np.zeros((0, 10), np.float32), source_sr=RATE)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_nan_and_infinite_samples(bad_value):
    samples = np.zeros(800, np.float32)
    samples[400] = bad_value
    with pytest.raises(MediaError, match=r"NaN or infinite samples \(first at sample 400, 0.050 s"):
        read_audio(samples, source_sr=RATE)
    # Float WAV files can carry NaN too.
    with pytest.raises(MediaError, match="NaN or infinite"):
        read_audio(_encode(samples, subtype="FLOAT"))


def test_missing_file_directory_and_undecodable_data(tmp_path):
    with pytest.raises(MediaError, match=r"nope\.wav.*not found"):
        read_audio(tmp_path / "nope.wav")
    with pytest.raises(MediaError, match="directory"):
        read_audio(tmp_path)
    text_file = tmp_path / "notes.wav"
    text_file.write_text("this is not audio at all", encoding="utf-8")
    with pytest.raises(MediaError, match=r"notes\.wav.*cannot decode the audio"):
        read_audio(text_file)
    truncated = _encode(np.zeros(4000, np.int16))[:30]
    with pytest.raises(MediaError, match="cannot decode"):
        read_audio(truncated)


@pytest.mark.parametrize("bad", [42, 3.5, None, ["a.wav"], {"path": "a.wav"}])
def test_wrong_types_are_named(bad):
    with pytest.raises(MediaError, match=f"cannot read audio from a {type(bad).__name__}"):
        read_audio(bad)


@pytest.mark.parametrize("array, match", [
    (np.zeros((2, 3, 4)), "1-D .* or 2-D"),
    (np.ones(10, dtype=bool), "unsupported audio dtype bool"),
    (np.ones(10, dtype=complex), "unsupported audio dtype complex"),
    (np.array(["a", "b"]), "unsupported audio dtype"),
])
def test_bad_arrays(array, match):
    with pytest.raises(MediaError, match=match):
        read_audio(array, source_sr=RATE)


def test_bad_tuples_and_rates(pcm):
    with pytest.raises(MediaError, match=r"\(samples array, sample rate\)"):
        read_audio((pcm,))
    with pytest.raises(MediaError, match="positive int"):
        read_audio((pcm, -5))
    with pytest.raises(ValueError, match="no sample rate"):
        read_audio(pcm)
    with pytest.raises(ValueError, match="sr must be a positive int"):
        read_audio(pcm, sr=0)
    with pytest.raises(ValueError, match="max_duration"):
        read_audio(pcm, sr=RATE, max_duration=-1)


def test_max_duration_is_checked_before_decoding(monkeypatch):
    data = _encode(np.zeros(RATE * 3, np.int16))
    with pytest.raises(MediaError, match=r"3\.0 s exceeds max_duration=2 s"):
        read_audio(data, max_duration=2)

    def forbidden_read(self, *args, **kwargs):
        raise AssertionError("samples were decoded although the header was over the limit")

    monkeypatch.setattr(sf.SoundFile, "read", forbidden_read)
    with pytest.raises(MediaError, match="max_duration"):
        read_audio(data, max_duration=2)
    monkeypatch.undo()
    assert read_audio(data, max_duration=None)[0].size == RATE * 3


def test_silence_is_valid_audio():
    samples, rate = read_audio(np.zeros(RATE, np.int16), source_sr=RATE)
    assert rate == RATE and not samples.any()
