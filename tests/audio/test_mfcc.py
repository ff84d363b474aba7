"""MFCCExtractor against a NumPy/SciPy MFCC and a hand-written chain of librosa calls."""

import io
import warnings

import joblib
import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy.fft import dct
from scipy.signal import get_window, sosfreqz

from mmfuse.audio import MFCCExtractor, bandpass_filter, reduce_noise
from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding import VLAD, BagOfWords, FisherVector
from mmfuse.exceptions import MediaError
from mmfuse.utils.estimator_checks import check_media_transformer

SR = 8000


def _word(rng, duration=0.6, pad=0.2):
    """A 'spoken word': two formant-like tones with a pitch glide, in silence + noise."""
    n, n_pad = int(SR * duration), int(SR * pad)
    t = np.arange(n) / SR
    voiced = (np.sin(2 * np.pi * (300 + 200 * t) * t) + 0.5 * np.sin(2 * np.pi * 1500 * t))
    voiced *= np.hanning(n)
    clip = np.concatenate([np.zeros(n_pad), 0.5 * voiced, np.zeros(n_pad)])
    return (clip + 1e-3 * rng.standard_normal(clip.size)).astype(np.float32)


@pytest.fixture
def clips():
    rng = np.random.default_rng(0)
    return [_word(rng, duration=d) for d in (0.6, 0.35, 0.8)]


def reference_mfcc(y, sr, n_mfcc, n_mels, n_fft, win_length, hop_length, fmin=0.0, fmax=None):
    """MFCC written out with NumPy/SciPy: centred frames, Hann window, power spectrum,
    Slaney mel filter bank, dB with an 80 dB floor below the peak, orthonormal DCT-II."""
    padded = np.pad(y.astype(np.float64), n_fft // 2)
    n_frames = 1 + (padded.size - n_fft) // hop_length
    frames = np.stack([padded[i * hop_length:i * hop_length + n_fft] for i in range(n_frames)])
    window = np.zeros(n_fft)
    start = (n_fft - win_length) // 2
    window[start:start + win_length] = get_window("hann", win_length, fftbins=True)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # (n_frames, n_fft // 2 + 1)
    mel_bank = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    mel = power @ mel_bank.T
    db = 10 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max() - 80.0)
    return dct(db, type=2, norm="ortho", axis=1)[:, :n_mfcc]


def test_plain_mfcc_matches_numpy_scipy_reference(clips):
    extractor = MFCCExtractor(sr=SR, deltas=0, cmvn=None, pre_emphasis=0, trim_db=None).fit(clips)
    ds = extractor.transform(clips)
    assert (extractor.n_fft_, extractor.win_length_, extractor.hop_length_) == (256, 200, 80)
    for i, clip in enumerate(clips):
        expected = reference_mfcc(clip, SR, 13, 40, 256, 200, 80)
        assert ds[i].shape == expected.shape
        np.testing.assert_allclose(ds[i], expected, rtol=1e-3, atol=1e-2)


def test_other_rates_and_band_limits_match_reference():
    rng = np.random.default_rng(1)
    clip = rng.standard_normal(16000).astype(np.float32) * 0.1
    extractor = MFCCExtractor(sr=16000, n_mfcc=20, n_mels=64, fmin=100, fmax=7000, deltas=0,
                              cmvn=None, pre_emphasis=0, frame_duration=0.032,
                              hop_duration=0.016)
    ds = extractor.fit_transform([clip])
    expected = reference_mfcc(clip, 16000, 20, 64, 512, 512, 256, fmin=100, fmax=7000)
    np.testing.assert_allclose(ds[0], expected, rtol=1e-3, atol=1e-2)


def test_full_chain_matches_librosa_calls(clips):
    extractor = MFCCExtractor(sr=SR, trim_db=30, energy=True)
    ds = extractor.fit_transform(clips)
    assert extractor.n_features_out_ == 42
    for i, clip in enumerate(clips):
        trimmed, (start, _) = librosa.effects.trim(clip, top_db=30, frame_length=256,
                                                   hop_length=80)
        emphasised = librosa.effects.preemphasis(trimmed, coef=0.97)
        mfcc = librosa.feature.mfcc(y=emphasised, sr=SR, n_mfcc=13, n_fft=256, win_length=200,
                                    hop_length=80, n_mels=40)
        padded = np.pad(emphasised.astype(np.float64), 128)
        n_frames = mfcc.shape[1]
        power = np.array([np.mean(padded[k * 80:k * 80 + 256] ** 2) for k in range(n_frames)])
        base = np.vstack([mfcc, np.log(np.maximum(power, 1e-10))])
        full = np.vstack([base, librosa.feature.delta(base, mode="nearest"),
                          librosa.feature.delta(base, order=2, mode="nearest")]).T
        expected = (full - full.mean(axis=0)) / full.std(axis=0)
        np.testing.assert_allclose(ds[i], expected, rtol=1e-3, atol=2e-3)
        # frame times refer to the untrimmed clip
        np.testing.assert_allclose(ds.positions[ds.offsets[i]:ds.offsets[i + 1], 0],
                                   (start + 80 * np.arange(n_frames)) / SR, atol=1e-6)
        assert start > 0.15 * SR  # the leading silence was trimmed
    np.testing.assert_allclose(ds.extents[:, 0], [c.size / SR for c in clips])


def test_cmvn_modes_and_summary(clips):
    raw = MFCCExtractor(sr=SR, cmvn=None).fit_transform(clips)
    centred = MFCCExtractor(sr=SR, cmvn="mean").fit_transform(clips)
    normalised = MFCCExtractor(sr=SR).fit_transform(clips)
    for i in range(len(clips)):
        np.testing.assert_allclose(centred[i], raw[i] - raw[i].mean(axis=0), atol=1e-4)
        np.testing.assert_allclose(normalised[i].mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(normalised[i].std(axis=0), 1, atol=1e-4)
    summary = MFCCExtractor(sr=SR, output="summary")  # cmvn="auto" -> None
    X = summary.fit_transform(clips + [None])
    assert X.shape == (4, 78) and X.dtype == np.float32
    expected = np.array([np.concatenate([f.mean(axis=0), f.std(axis=0)]) for f in raw])
    np.testing.assert_allclose(X[:3], expected, rtol=1e-5, atol=1e-5)
    assert not X[3].any()
    names = summary.get_feature_names_out()
    assert names[0] == "mfcc0_mean" and names[39] == "mfcc0_std" and names.size == 78


def test_feature_names_and_deltas_option(clips):
    extractor = MFCCExtractor(sr=SR, deltas=1, energy=True).fit(clips)
    names = extractor.get_feature_names_out().tolist()
    assert names[:2] == ["mfcc0", "mfcc1"] and names[13] == "log_energy"
    assert names[14] == "delta_mfcc0" and names[-1] == "delta_log_energy" and len(names) == 28
    assert extractor.transform(clips).n_features == 28


def test_frames_feed_codebook_encoders(clips):
    ds = MFCCExtractor(sr=SR).fit_transform(clips + [None])
    codes = BagOfWords(n_words=8, random_state=0).fit(ds).transform(ds)
    assert codes.shape == (4, 8)
    np.testing.assert_allclose(codes.sum(axis=1), [1, 1, 1, 0], atol=1e-6)
    for encoder, width in ((VLAD(n_words=4, random_state=0), 4 * 39),
                           (FisherVector(n_words=3, random_state=0), 2 * 3 * 39)):
        vectors = encoder.fit(ds).transform(ds)
        assert vectors.shape == (4, width) and np.all(np.isfinite(vectors))
        assert not vectors[3].any() and np.all(np.linalg.norm(vectors[:3], axis=1) > 0)


def test_file_bytes_and_tuple_cells_agree(tmp_path, clips):
    buffer = io.BytesIO()
    sf.write(buffer, clips[0], SR, format="WAV", subtype="FLOAT")
    path = tmp_path / "word.wav"
    path.write_bytes(buffer.getvalue())
    upsampled = librosa.resample(clips[0], orig_sr=SR, target_sr=16000)
    extractor = MFCCExtractor(sr=SR).fit([path])
    ds = extractor.transform([path, str(path), buffer.getvalue(), clips[0]])
    for i in (1, 2, 3):
        np.testing.assert_allclose(ds[i], ds[0], atol=1e-5)
    # a (samples, rate) cell at another rate is resampled to sr first
    resampled = extractor.transform([(upsampled, 16000)])
    assert abs(resampled.lengths[0] - ds.lengths[0]) <= 1


def _wav(clip, rate, subtype="FLOAT"):
    buffer = io.BytesIO()
    sf.write(buffer, clip, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def test_auto_rate_is_the_lowest_stored_rate_capped_at_16k(tmp_path, clips):
    narrow = tmp_path / "narrow.wav"
    narrow.write_bytes(_wav(clips[0], SR))
    wide = librosa.resample(clips[1], orig_sr=SR, target_sr=44100)
    cells = [narrow, _wav(wide, 44100), (clips[2], SR), None]
    # lowest stored rate among paths, bytes and tuples; the rate read from the
    # header, as soundfile reads it
    auto = MFCCExtractor().fit(cells)
    assert auto.sr_ == sf.info(str(narrow)).samplerate == SR
    np.testing.assert_array_equal(auto.transform(cells).values,
                                  MFCCExtractor(sr=SR).fit(cells).transform(cells).values)
    # clips stored at 44.1 kHz only: capped at 16 kHz, the old default
    only_wide = [_wav(wide, 44100), (librosa.resample(clips[0], orig_sr=SR, target_sr=22050),
                                     22050)]
    capped = MFCCExtractor().fit(only_wide)
    assert capped.sr_ == 16000
    np.testing.assert_array_equal(capped.transform(only_wide).values,
                                  MFCCExtractor(sr=16000).fit_transform(only_wide).values)
    # bare arrays carry no rate: 16 kHz; an explicit rate is kept as given
    assert MFCCExtractor().fit(clips).sr_ == 16000
    assert MFCCExtractor(sr=22050).fit([narrow]).sr_ == 22050
    # a header that cannot be read does not decide the rate; transform names it
    auto_bad = MFCCExtractor().fit([narrow, b"not audio"])
    assert auto_bad.sr_ == SR
    with pytest.raises(MediaError, match="sample 1"):
        auto_bad.transform([narrow, b"not audio"])


def test_missing_cells_and_containers(clips):
    column = pd.Series([clips[0], None, np.nan, clips[1]], index=[5, 6, 7, 8])
    ds = MFCCExtractor(sr=SR).fit_transform(column.to_frame("audio"))
    assert ds.missing.tolist() == [False, True, True, False]
    assert ds.lengths[1] == ds.lengths[2] == 0 and ds.lengths[0] > 0


# -- awkward clips ----------------------------------------------------------------------
def test_silent_clips_policy(clips):
    silent = np.zeros(SR // 2, np.float32)
    extractor = MFCCExtractor(sr=SR).fit(clips)
    with pytest.warns(UserWarning, match=r"1 silent clip.*samples \[1\]"):
        ds = extractor.transform([clips[0], silent])
    assert ds.lengths[1] == 0 and not ds.missing[1]
    assert np.all(np.isfinite(ds.values))
    with pytest.raises(MediaError, match="audio sample 1.*silent"):
        MFCCExtractor(sr=SR, on_silence="raise").fit(clips).transform([clips[0], silent])
    # Below the threshold is silence too; above it is not.
    quiet = np.full(SR // 2, 5e-5, np.float32)
    with pytest.warns(UserWarning, match="silent"):
        assert MFCCExtractor(sr=SR).fit(clips).transform([quiet]).lengths[0] == 0


def test_clipped_clips_are_described_with_a_warning(clips):
    clipped = np.clip(clips[2] * 20, -1, 1)
    with pytest.warns(UserWarning, match=r"1 clipped clip.*samples \[0\]"):
        ds = MFCCExtractor(sr=SR).fit_transform([clipped, clips[0]])
    assert ds.lengths[0] > 0 and np.all(np.isfinite(ds.values))
    # a loud but unclipped tone that touches full scale is not reported
    tone = np.sin(2 * np.pi * 440 * np.arange(SR) / SR).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MFCCExtractor(sr=SR).fit_transform([tone])


@pytest.mark.parametrize("n_samples", [1, 10, 100, 255])
def test_very_short_clips_are_padded_to_one_window(n_samples):
    rng = np.random.default_rng(n_samples)
    clip = rng.standard_normal(n_samples).astype(np.float32) * 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # librosa's "n_fft too large" warning must not appear
        ds = MFCCExtractor(sr=SR).fit_transform([clip])
    assert ds.lengths[0] == 1 + 256 // 80
    assert np.all(np.isfinite(ds.values))
    padded = np.concatenate([clip, np.zeros(256 - n_samples, np.float32)])
    plain = MFCCExtractor(sr=SR, deltas=0, cmvn=None, pre_emphasis=0).fit_transform([clip])
    np.testing.assert_allclose(plain[0], reference_mfcc(padded, SR, 13, 40, 256, 200, 80),
                               rtol=1e-3, atol=1e-2)


@pytest.mark.parametrize("bad, match", [
    (b"", "empty audio data"),
    (np.array([0.1, np.nan, 0.2] * 100, np.float32), "NaN"),
    (np.zeros(0, np.float32), "no samples"),
    (42, "cannot read audio from a int"),
    ("no/such/file.wav", "not found"),
    (np.zeros((2, 2, 2)), "1-D"),
])
def test_bad_clips_raise_naming_modality_and_sample(clips, bad, match):
    extractor = MFCCExtractor(sr=SR).fit(clips)
    with pytest.raises(MediaError, match=f"audio sample 1.*{match}") as info:
        extractor.transform([clips[0], bad, clips[1]])
    assert info.value.modality == "audio" and info.value.sample == 1


def test_on_error_empty_marks_missing_and_warns(clips):
    extractor = MFCCExtractor(sr=SR, on_error="empty").fit(clips)
    with pytest.warns(UserWarning, match=r"2 unreadable clip.*samples \[1, 3\]"):
        ds = extractor.transform([clips[0], b"junk", clips[1], 7, clips[2], None])
    assert ds.missing.tolist() == [False, True, False, True, False, True]
    assert ds.lengths[[1, 3, 5]].tolist() == [0, 0, 0]


def test_parameters_are_checked(clips):
    with pytest.raises(ValueError, match="fmax"):
        MFCCExtractor(sr=SR, fmax=6000).fit(clips)
    with pytest.raises(ValueError, match="delta_width must be odd"):
        MFCCExtractor(sr=SR, delta_width=4).fit(clips)
    with pytest.raises(ValueError, match="Nyquist"):
        MFCCExtractor(sr=SR, band=(100, 5000)).fit(clips)
    with pytest.raises(ValueError, match="cmvn"):
        MFCCExtractor(sr=SR, cmvn="global").fit(clips)


def test_parallel_batches_give_the_same_frames(clips):
    many = clips * 3
    serial = MFCCExtractor(sr=SR, batch_size=2).fit_transform(many)
    with joblib.parallel_config(backend="threading"):
        parallel = MFCCExtractor(sr=SR, batch_size=2, n_jobs=2).fit_transform(many)
    assert parallel == serial


def test_band_pass_and_denoise_options_run(clips):
    rng = np.random.default_rng(3)
    noisy = clips[0] + 0.02 * rng.standard_normal(clips[0].size).astype(np.float32)
    ds = MFCCExtractor(sr=SR, band=(200, 3000), denoise=True).fit_transform([noisy])
    assert ds.lengths[0] > 0 and np.all(np.isfinite(ds.values))


def test_media_conformance(clips):
    check_media_transformer(MFCCExtractor(sr=SR), clips + [None],
                            bad_inputs=[np.zeros((3, 4)), "clip.wav"])
    check_media_transformer(MFCCExtractor(sr=SR, output="summary"), clips,
                            bad_inputs=[np.zeros((3, 4))])


def test_output_type(clips):
    assert isinstance(MFCCExtractor(sr=SR).fit_transform(clips), DescriptorSet)


# -- filters ---------------------------------------------------------------------------
def test_bandpass_gain_matches_the_designed_response():
    """Zero-phase filtering applies |H(f)|^2 of the Butterworth design (scipy.signal.sosfreqz)."""
    from scipy.signal import butter

    t = np.arange(4 * SR) / SR
    sos = butter(4, [300, 2000], btype="bandpass", fs=SR, output="sos")
    for frequency in (100.0, 1000.0, 3000.0):
        tone = np.sin(2 * np.pi * frequency * t)
        filtered = bandpass_filter(tone, SR, low=300, high=2000)
        inner = slice(SR, -SR)
        gain = np.std(filtered[inner]) / np.std(tone[inner])
        _, response = sosfreqz(sos, worN=[frequency], fs=SR)
        np.testing.assert_allclose(gain, np.abs(response[0]) ** 2, rtol=0.02, atol=1e-3)
    low = bandpass_filter(np.sin(2 * np.pi * 3000 * t), SR, high=500)
    assert np.std(low[SR:-SR]) < 1e-3
    with pytest.raises(ValueError, match="low must be below high"):
        bandpass_filter(t, SR, low=2000, high=300)
    with pytest.raises(ValueError, match="needs low"):
        bandpass_filter(t, SR)


@pytest.mark.parametrize("kind", ["tone", "harmonics"])
def test_reduce_noise_improves_snr(kind):
    """A known signal between pauses, plus white noise: denoising must raise the SNR."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    if kind == "tone":
        source = 0.5 * np.sin(2 * np.pi * 500 * t)
    else:  # a voiced-speech-like harmonic series at 150 Hz
        source = 0.3 * sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
    signal = np.where((t > 0.5) & (t < 1.5), source, 0.0)
    noisy = signal + 0.05 * rng.standard_normal(t.size)
    cleaned = reduce_noise(noisy, SR)
    assert cleaned.shape == noisy.shape and cleaned.dtype == np.float32

    def snr(x):
        return 10 * np.log10(np.sum(signal**2) / np.sum((x - signal) ** 2))

    assert snr(cleaned) > snr(noisy) + 3
    # an explicit noise recording works too
    assert snr(reduce_noise(noisy, SR, noise=noisy[:3000])) > snr(noisy) + 3
