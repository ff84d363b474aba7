"""MFCC frames of a column of audio clips, as descriptor sets or per-clip summaries."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from mmfuse._config import resolve_verbose
from mmfuse.audio._filters import _pow2_at_least, bandpass_filter, reduce_noise
from mmfuse.descriptors import DescriptorSet
from mmfuse.exceptions import MediaError
from mmfuse.io import read_audio
from mmfuse.io._audio import native_rate
from mmfuse.utils import as_column, is_missing_cell

MODALITY = "audio"

#: Highest rate ``sr="auto"`` picks: speech and most sound events lie below 8 kHz.
AUTO_MAX_SR = 16000

#: A sample at or above this magnitude is counted as clipped (full scale is 1).
CLIP_LEVEL = 0.999
#: Share of clipped samples above which a clip is reported as clipped.
CLIPPED_SHARE = 0.01
# Floor of the frame power before the log of the energy coefficient (-100 dB).
_ENERGY_FLOOR = 1e-10


class MFCCExtractor(TransformerMixin, BaseEstimator):
    """MFCC frames of each clip in a column: descriptor sets, or a mean/std summary.

    Each clip is read with :func:`mmfuse.io.read_audio` (mixed down to mono
    and resampled to `sr`), optionally band-pass filtered, denoised and
    trimmed of leading and trailing silence, pre-emphasised, and described
    by :func:`librosa.feature.mfcc` frame by frame, with optional log energy
    and :func:`librosa.feature.delta` derivatives, then normalised per clip
    (cepstral mean and variance normalisation, CMVN).

    With ``output="frames"`` the frames of a clip are its local descriptors:
    the result is a :class:`~mmfuse.descriptors.DescriptorSet`, ready for
    :class:`~mmfuse.encoding.BagOfWords` (or VLAD / Fisher vectors) to turn
    into one fixed-length vector per clip, or for
    :class:`~mmfuse.probabilistic.HMMClassifier` to model as a sequence.
    With ``output="summary"`` each clip becomes the mean and standard
    deviation of its frames, a fixed-length vector for any classifier.

    Parameters
    ----------
    sr : int or "auto", default="auto"
        Sample rate the features are computed at, in Hz. Files are resampled
        to it; array cells are taken to be at this rate already (give a
        ``(samples, rate)`` tuple for an array at another rate). ``"auto"``
        (the rule is in ``sr_``): the lowest rate the training clips are
        stored at (read from the file headers and tuples at fit), capped at
        16000, or 16000 when no training clip carries a rate (bare arrays).
        Upsampling a clip cannot add the bands it lacks: an 8 kHz recording
        described at 16 kHz gives mel bands above 4 kHz that hold only the
        resampler's noise. With "auto", 8 kHz telephone-band speech is
        described at 8 kHz (FSDD's official split with an 8-state
        ``HMMClassifier``: 0.973 accuracy, against 0.953 at 16 kHz; see
        ``benchmarks/results/defaults.md``) and anything recorded at 16 kHz
        or more at 16 kHz, as before.
    n_mfcc : int, default=13
        Number of cepstral coefficients, ``c0`` included.
    n_mels : int, default=40
        Number of mel bands.
    frame_duration : float, default=0.025
        Analysis window length in seconds (25 ms). The FFT size is the next
        power of two.
    hop_duration : float, default=0.010
        Step between frames in seconds (10 ms).
    fmin, fmax : float, default=0.0 and None
        Frequency range of the mel filter bank in Hz; None means ``sr / 2``.
    deltas : {0, 1, 2}, default=2
        Append first (1) or first and second (2) time derivatives.
    delta_width : int, default=9
        Odd number of frames the derivatives are fitted over
        (:func:`librosa.feature.delta` ``width``, with ``mode="nearest"``).
    energy : bool, default=False
        Append the log mean power of each frame (``log(rms ** 2)``, from
        :func:`librosa.feature.rms`) as an extra coefficient, before deltas.
    cmvn : {"auto", "utterance", "mean"} or None, default="auto"
        Per-clip normalisation of each coefficient over the clip's frames:
        ``"utterance"`` subtracts the mean and divides by the standard
        deviation (a coefficient constant over the clip is only centred),
        ``"mean"`` only subtracts the mean, None leaves the frames as they
        are. ``"auto"`` is ``"utterance"`` for ``output="frames"`` and None
        for ``output="summary"`` (per-clip normalisation would make every
        summary mean 0 and every standard deviation 1).
    pre_emphasis : float, default=0.97
        Coefficient of the pre-emphasis filter ``y[n] - coef * y[n - 1]``
        (:func:`librosa.effects.preemphasis`); 0 disables it.
    trim_db : float, default=40.0
        Trim leading and trailing parts quieter than the clip's peak by more
        than this many dB (:func:`librosa.effects.trim`); None keeps the
        whole clip. Frame times stay relative to the untrimmed clip. The
        leading and trailing silence of a recorded event is not part of it,
        and a sequence model spends states on it (FSDD, see
        ``benchmarks/results/defaults.md``); a noisy clip whose edges lie
        within 40 dB of its peak is kept whole.
    band : tuple (low, high), default=None
        Band-pass filter the clip to ``low``-``high`` Hz first
        (:func:`~mmfuse.audio.bandpass_filter`); either end may be None.
    denoise : bool, default=False
        Apply stationary spectral gating (:func:`~mmfuse.audio.reduce_noise`,
        needs the ``noisereduce`` package) after band-pass filtering.
    output : {"frames", "summary"}, default="frames"
        Descriptor sets of frames, or per-clip mean and standard deviation.
    silence_threshold : float, default=1e-4
        A clip whose peak magnitude is at most this (about -80 dBFS) is
        silent (see Notes).
    on_error : {"raise", "empty"}, default="raise"
        An unreadable clip (missing file, not audio, empty, zero samples,
        NaN samples, wrong type) raises :class:`~mmfuse.exceptions.MediaError`
        naming the modality, the sample and the source (``"raise"``), or is
        marked missing with no frames, with one warning listing the samples
        (``"empty"``).
    on_silence : {"empty", "raise"}, default="empty"
        A silent clip has no frames (``missing=False``: present, but nothing
        to describe), with one warning listing the samples; or raises.
    n_jobs : int, default=None
        Parallel workers over batches of clips (:class:`joblib.Parallel`).
        The output does not depend on it.
    batch_size : int, default=32
        Clips per parallel task.
    verbose : int, default=None
        ``>= 1`` shows a progress bar over clips; None uses
        ``mmfuse.get_config()["verbose"]``.

    Attributes
    ----------
    n_features_out_ : int
        Length of each frame descriptor (``output="frames"``) or of each
        summary vector (``output="summary"``).
    feature_names_ : ndarray of str
        Names of the frame coefficients: ``mfcc0`` ..., ``log_energy``,
        ``delta_mfcc0`` ..., ``delta2_mfcc0`` ...
    sr_ : int
        The rate the features are computed at: `sr`, or the rate the
        ``"auto"`` rule chose from the training clips.
    n_fft_, hop_length_, win_length_ : int
        The frame parameters in samples at ``sr_``.

    Notes
    -----
    **Policies for awkward clips.** A missing cell (None/NaN) gives no
    frames and ``missing=True`` (a zero row in summary mode). A *silent*
    clip (peak at most `silence_threshold`) has no spectrum to describe:
    by default it gives no frames with ``missing=False`` (a zero row in
    summary mode) and a warning. A *clipped* clip (more than 1% of its
    samples stuck at full scale, in runs of equal values) is described as
    it is, with a warning, since its MFCCs carry the distortion. A *very
    short* clip (after trimming, fewer samples than one analysis window) is
    zero-padded at the end to one window. Derivatives repeat the edge
    frames beyond the ends of the clip (``mode="nearest"`` of
    :func:`librosa.feature.delta`), which works for clips of any number of
    frames.

    ``positions`` of the descriptor set hold ``(time, 0)``, the time in
    seconds of each frame's centre in the original clip; ``extents`` hold
    ``(duration, 0)`` of each clip as read.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.audio import MFCCExtractor
    >>> t = np.arange(8000) / 8000
    >>> clips = [np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 880 * t[:4000]), None]
    >>> mfcc = MFCCExtractor(sr=8000)
    >>> frames = mfcc.fit_transform(clips)
    >>> frames
    DescriptorSet(n_samples=3, n_total=152, n_features=39, missing=1)
    >>> frames.lengths.tolist()
    [101, 51, 0]
    >>> frames.positions[:3, 0].tolist()
    [0.0, 0.01, 0.02]
    >>> mfcc.get_feature_names_out()[[0, 13, 26]].tolist()
    ['mfcc0', 'delta_mfcc0', 'delta2_mfcc0']
    >>> MFCCExtractor(sr=8000, output="summary", deltas=0).fit_transform(clips).shape
    (3, 26)
    """

    _parameter_constraints = {
        "sr": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "n_mfcc": [Interval(Integral, 1, None, closed="left")],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "frame_duration": [Interval(Real, 0, None, closed="neither")],
        "hop_duration": [Interval(Real, 0, None, closed="neither")],
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "deltas": [Interval(Integral, 0, 2, closed="both")],
        "delta_width": [Interval(Integral, 3, None, closed="left")],
        "energy": ["boolean"],
        "cmvn": [StrOptions({"auto", "utterance", "mean"}), None],
        "pre_emphasis": [Interval(Real, 0, 1, closed="left")],
        "trim_db": [Interval(Real, 0, None, closed="neither"), None],
        "band": [tuple, list, None],
        "denoise": ["boolean"],
        "output": [StrOptions({"frames", "summary"})],
        "silence_threshold": [Interval(Real, 0, None, closed="left")],
        "on_error": [StrOptions({"raise", "empty"})],
        "on_silence": [StrOptions({"raise", "empty"})],
        "n_jobs": [Integral, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose", None],
    }

    def __init__(self, sr="auto", *, n_mfcc=13, n_mels=40, frame_duration=0.025,
                 hop_duration=0.010, fmin=0.0, fmax=None, deltas=2, delta_width=9,
                 energy=False, cmvn="auto", pre_emphasis=0.97, trim_db=40.0, band=None,
                 denoise=False, output="frames", silence_threshold=1e-4, on_error="raise",
                 on_silence="empty", n_jobs=None, batch_size=32, verbose=None):
        self.sr = sr
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.frame_duration = frame_duration
        self.hop_duration = hop_duration
        self.fmin = fmin
        self.fmax = fmax
        self.deltas = deltas
        self.delta_width = delta_width
        self.energy = energy
        self.cmvn = cmvn
        self.pre_emphasis = pre_emphasis
        self.trim_db = trim_db
        self.band = band
        self.denoise = denoise
        self.output = output
        self.silence_threshold = silence_threshold
        self.on_error = on_error
        self.on_silence = on_silence
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.verbose = verbose

    # -- fitting ------------------------------------------------------------
    def fit(self, X, y=None):
        """Check the parameters and the input column; MFCCs learn nothing.

        Parameters
        ----------
        X : list, pandas Series, one-column DataFrame or 1-D object array
            Audio cells: paths, encoded bytes, 1-D sample arrays at ``sr_``,
            ``(samples, rate)`` tuples, or None/NaN.
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        cells = as_column(X, modality=MODALITY)
        if self.sr == "auto":
            rates = [rate for cell in cells if not is_missing_cell(cell)
                     if (rate := native_rate(cell)) is not None]
            self.sr_ = min(min(rates, default=AUTO_MAX_SR), AUTO_MAX_SR)
        else:
            self.sr_ = int(self.sr)
        settings = self._settings()
        names = _coefficient_names(settings)
        self.feature_names_ = np.asarray(names, dtype=object)
        self.n_fft_ = settings.n_fft
        self.hop_length_ = settings.hop_length
        self.win_length_ = settings.win_length
        n_frame_features = len(names)
        self.n_features_out_ = (2 * n_frame_features if self.output == "summary"
                                else n_frame_features)
        return self

    def _settings(self) -> _Settings:
        sr = self.sr_
        win_length = max(1, round(self.frame_duration * sr))
        hop_length = max(1, round(self.hop_duration * sr))
        fmax = sr / 2 if self.fmax is None else float(self.fmax)
        if fmax > sr / 2 or fmax <= self.fmin:
            raise ValueError(
                f"fmax must lie in (fmin, sr / 2] = ({self.fmin:g}, {sr / 2:g}] Hz, got "
                f"{self.fmax!r}"
            )
        if self.delta_width % 2 == 0:
            raise ValueError(f"delta_width must be odd, got {self.delta_width}")
        band = None
        if self.band is not None:
            if len(self.band) != 2:
                raise ValueError(f"band must be a (low, high) pair in Hz, got {self.band!r}")
            band = (self.band[0], self.band[1])
            # Fail at fit, not on the first clip.
            bandpass_filter(np.zeros(64), sr, low=band[0], high=band[1])
        cmvn = self.cmvn
        if cmvn == "auto":
            cmvn = "utterance" if self.output == "frames" else None
        return _Settings(
            sr=sr, n_mfcc=int(self.n_mfcc), n_mels=int(self.n_mels),
            n_fft=_pow2_at_least(win_length), win_length=win_length, hop_length=hop_length,
            fmin=float(self.fmin), fmax=fmax, deltas=int(self.deltas),
            delta_width=int(self.delta_width), energy=bool(self.energy), cmvn=cmvn,
            pre_emphasis=float(self.pre_emphasis),
            trim_db=None if self.trim_db is None else float(self.trim_db), band=band,
            denoise=bool(self.denoise), silence_threshold=float(self.silence_threshold),
        )

    # -- transforming -------------------------------------------------------
    def transform(self, X):
        """Describe every clip of the column.

        Parameters
        ----------
        X : list, pandas Series, one-column DataFrame or 1-D object array
            Audio cells: paths, encoded bytes, 1-D sample arrays at ``sr_``,
            ``(samples, rate)`` tuples, or None/NaN.

        Returns
        -------
        features : DescriptorSet or ndarray of shape (n_samples, n_features_out_)
            ``output="frames"``: one descriptor per frame (float32), with
            frame times in ``positions``. ``output="summary"``: float32
            mean and standard deviation of each coefficient over the frames
            (zeros for clips without frames).

        Raises
        ------
        MediaError
            With ``on_error="raise"``, for the first unreadable clip in
            column order; with ``on_silence="raise"``, for the first silent
            one.
        """
        check_is_fitted(self, "n_features_out_")
        settings = self._settings()
        cells = as_column(X, modality=MODALITY)
        indexed = list(enumerate(cells))
        batches = [indexed[i:i + self.batch_size]
                   for i in range(0, len(indexed), self.batch_size)]
        tasks = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(_describe_batch)(batch, settings) for batch in batches)

        results, failed, silent, clipped = [], [], [], []
        with tqdm(total=len(cells), unit="clip", desc=type(self).__name__,
                  disable=resolve_verbose(self.verbose) < 1) as progress:
            for batch_results in tasks:
                for result in batch_results:
                    if result.error is not None:
                        if self.on_error == "raise":
                            raise result.error
                        failed.append(result.error)
                    if result.silent:
                        if self.on_silence == "raise":
                            raise MediaError(
                                f"silent clip (peak magnitude <= silence_threshold="
                                f"{settings.silence_threshold:g}); pass on_silence='empty' to "
                                "describe it with no frames",
                                modality=MODALITY, sample=result.index)
                        silent.append(result.index)
                    if result.clipped:
                        clipped.append(result.index)
                    results.append(result)
                progress.update(len(batch_results))
        if failed:
            _warn_samples(f"{len(failed)} unreadable clip(s) marked missing (on_error='empty')",
                          [e.sample for e in failed], f"; first error: {failed[0]}")
        if silent:
            _warn_samples(f"{len(silent)} silent clip(s) described with no frames "
                          "(on_silence='empty')", silent)
        if clipped:
            _warn_samples(f"{len(clipped)} clipped clip(s) (over {CLIPPED_SHARE:.0%} of samples "
                          "at full scale); their MFCCs carry the distortion", clipped)
        n_frame_features = len(self.feature_names_)
        descriptors = _assemble(results, n_frame_features)
        if self.output == "frames":
            return descriptors
        return _summarise(descriptors)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        ``output="frames"``: the frame coefficients (``mfcc0``, ...,
        ``delta_mfcc0``, ...). ``output="summary"``: ``mfcc0_mean``, ...,
        ``mfcc0_std``, ...

        Parameters
        ----------
        input_features : None
            Ignored; present for scikit-learn API compatibility.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "n_features_out_")
        if self.output == "frames":
            return self.feature_names_.copy()
        return np.asarray([f"{name}_mean" for name in self.feature_names_]
                          + [f"{name}_std" for name in self.feature_names_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = []
        return tags


# -- the work of one joblib task (module level: picklable) ----------------------
class _Settings(NamedTuple):
    sr: int
    n_mfcc: int
    n_mels: int
    n_fft: int
    win_length: int
    hop_length: int
    fmin: float
    fmax: float
    deltas: int
    delta_width: int
    energy: bool
    cmvn: str | None
    pre_emphasis: float
    trim_db: float | None
    band: tuple | None
    denoise: bool
    silence_threshold: float


class _ClipResult(NamedTuple):
    index: int
    frames: np.ndarray | None  # (n_frames, n_features) float32
    times: np.ndarray | None  # (n_frames,) float32, seconds
    duration: float
    missing: bool
    silent: bool
    clipped: bool
    error: MediaError | None


def _coefficient_names(settings: _Settings) -> list[str]:
    base = [f"mfcc{i}" for i in range(settings.n_mfcc)]
    if settings.energy:
        base.append("log_energy")
    names = list(base)
    if settings.deltas >= 1:
        names += [f"delta_{name}" for name in base]
    if settings.deltas >= 2:
        names += [f"delta2_{name}" for name in base]
    return names


def _describe_batch(batch, settings: _Settings) -> list[_ClipResult]:
    results = []
    for index, cell in batch:
        if is_missing_cell(cell):
            results.append(_ClipResult(index, None, None, 0.0, True, False, False, None))
            continue
        try:
            samples, _ = read_audio(cell, sr=settings.sr)
        except (MediaError, ValueError) as exc:
            error = (exc.at(modality=MODALITY, sample=index) if isinstance(exc, MediaError)
                     else MediaError(str(exc), modality=MODALITY, sample=index))
            results.append(_ClipResult(index, None, None, 0.0, True, False, False, error))
            continue
        duration = samples.size / settings.sr
        peak = float(np.max(np.abs(samples)))
        if peak <= settings.silence_threshold:
            results.append(_ClipResult(index, None, None, duration, False, True, False, None))
            continue
        clipped = clipped_share(samples) > CLIPPED_SHARE
        frames, times = _clip_features(samples, settings)
        results.append(_ClipResult(index, frames, times, duration, False, False, clipped, None))
    return results


def clipped_share(samples: np.ndarray) -> float:
    """Share of samples stuck at full scale: at least `CLIP_LEVEL` and equal to the previous one.

    Requiring a flat run tells clipping from a loud clip that merely touches
    full scale (a full-scale sine has no two equal samples at its peaks).
    """
    if samples.size < 2:
        return 0.0
    flat = (samples[1:] == samples[:-1]) & (np.abs(samples[1:]) >= CLIP_LEVEL)
    return float(flat.sum()) / samples.size


def _clip_features(samples: np.ndarray, settings: _Settings):
    """Frames ``(n_frames, n_features)`` and frame times of one non-silent clip."""
    import librosa

    sr = settings.sr
    if settings.band is not None:
        samples = bandpass_filter(samples, sr, low=settings.band[0], high=settings.band[1])
    if settings.denoise:
        samples = reduce_noise(samples, sr)
    start = 0
    if settings.trim_db is not None:
        samples, (start, _) = librosa.effects.trim(
            samples, top_db=settings.trim_db, frame_length=settings.n_fft,
            hop_length=settings.hop_length)
    if samples.size < settings.n_fft:
        samples = librosa.util.fix_length(samples, size=settings.n_fft)
    if settings.pre_emphasis > 0:
        samples = librosa.effects.preemphasis(samples, coef=settings.pre_emphasis)
    coefficients = librosa.feature.mfcc(
        y=samples, sr=sr, n_mfcc=settings.n_mfcc, n_fft=settings.n_fft,
        hop_length=settings.hop_length, win_length=settings.win_length,
        n_mels=settings.n_mels, fmin=settings.fmin, fmax=settings.fmax)
    blocks = [coefficients]
    if settings.energy:
        rms = librosa.feature.rms(y=samples, frame_length=settings.n_fft,
                                  hop_length=settings.hop_length)
        blocks.append(np.log(np.maximum(rms**2, _ENERGY_FLOOR)))
    base = np.vstack(blocks)
    stack = [base]
    for order in range(1, settings.deltas + 1):
        # "nearest" repeats the edge frames; unlike librosa's default "interp" it
        # also works on clips shorter than delta_width frames.
        stack.append(librosa.feature.delta(base, width=settings.delta_width, order=order,
                                           mode="nearest"))
    frames = np.vstack(stack).T.astype(np.float64)
    if settings.cmvn is not None:
        frames = frames - frames.mean(axis=0)
        if settings.cmvn == "utterance":
            std = frames.std(axis=0)
            frames = frames / np.where(std > 0, std, 1.0)
    times = librosa.frames_to_time(np.arange(frames.shape[0]), sr=sr,
                                   hop_length=settings.hop_length) + start / sr
    return frames.astype(np.float32), times.astype(np.float32)


# -- reassembly in the parent -----------------------------------------------------
def _assemble(results: list[_ClipResult], n_features: int) -> DescriptorSet:
    empty = np.zeros((0, n_features), np.float32)
    frames = [empty if r.frames is None else r.frames for r in results]
    times = [np.zeros(0, np.float32) if r.times is None else r.times for r in results]
    lengths = np.array([f.shape[0] for f in frames], dtype=np.int64)
    values = np.concatenate(frames) if frames else empty
    time_column = np.concatenate(times) if times else np.zeros(0, np.float32)
    positions = np.column_stack([time_column, np.zeros_like(time_column)])
    extents = np.array([[r.duration, 0.0] for r in results], dtype=np.float32).reshape(-1, 2)
    return DescriptorSet(values, np.concatenate([[0], np.cumsum(lengths)]),
                         positions=positions, extents=extents,
                         missing=np.array([r.missing for r in results], dtype=bool))


def _summarise(descriptors: DescriptorSet) -> np.ndarray:
    """Mean and standard deviation of each sample's frames; zeros where it has none."""
    n_features = descriptors.n_features
    out = np.zeros((descriptors.n_samples, 2 * n_features), np.float32)
    for i, frames in enumerate(descriptors):
        if frames.shape[0]:
            out[i, :n_features] = frames.mean(axis=0)
            out[i, n_features:] = frames.std(axis=0)
    return out


def _warn_samples(what: str, samples: list, tail: str = "", shown: int = 20) -> None:
    listed = ", ".join(str(s) for s in samples[:shown])
    if len(samples) > shown:
        listed += f", ... ({len(samples) - shown} more)"
    warnings.warn(f"MFCCExtractor: {what}, samples [{listed}]{tail}", UserWarning, stacklevel=3)
