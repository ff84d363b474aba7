"""Per-modality input preparation: media cells -> fixed-shape NumPy arrays.

Each *featurizer* learns what it needs from the training cells only (image
mean/std, vector scaling, the number of log-mel frames, the vocabulary) and
turns a column of cells into a :class:`Prepared` block: row-aligned arrays
plus a boolean ``present`` mask (``False`` for a missing cell: None/NaN).
Missing cells get all-zero inputs; the model decides what to do with them.

Nothing here imports torch: batches are NumPy arrays that the modules in
:mod:`benchmarks.baselines._modules` turn into tensors.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from mmfuse.exceptions import MediaError
from mmfuse.utils._column import is_missing_cell

IMAGE_KINDS = ("lenet", "convnet")
AUDIO_KINDS = ("audio_cnn", "audio_gru")
TEXT_KINDS = ("text_bag", "text_gru", "minilm")
KINDS = IMAGE_KINDS + ("mlp",) + AUDIO_KINDS + TEXT_KINDS

#: Side of the square input of each image encoder, in pixels.
IMAGE_SIZE = {"lenet": 28, "convnet": 64}
#: Channels of each image encoder's input (grey for LeNet, colour for the conv net).
IMAGE_CHANNELS = {"lenet": 1, "convnet": 3}
#: Percentile of the training clips' frame counts used as the fixed number of frames.
FRAMES_PERCENTILE = 95
#: Floor of the log-mel spectrogram, in dB (re 1.0); silence maps to it.
DB_FLOOR = -100.0

_TOKEN = re.compile(r"\w+")
PAD_ID, OOV_ID = 0, 1


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens (``\\w+`` runs) of a text.

    Examples
    --------
    >>> tokenize("The cat's 2 HATS")
    ['the', 'cat', 's', '2', 'hats']
    """
    return _TOKEN.findall(text.lower())


class Prepared:
    """Row-aligned input arrays of one modality, plus the ``present`` mask.

    ``arrays`` maps a name to an array whose first axis is the sample; the
    ragged token lists of a bag-of-words are held as ``flat`` ids plus
    ``offsets`` (CSR) and sliced per batch by :meth:`take`.
    """

    def __init__(self, arrays, present, *, flat=None, offsets=None):
        self.arrays = arrays
        self.present = present
        self.flat = flat
        self.offsets = offsets

    def __len__(self):
        return self.present.shape[0]

    def take(self, index):
        """The arrays of the rows ``index`` (a 1-D integer array)."""
        batch = {name: values[index] for name, values in self.arrays.items()}
        if self.flat is not None:
            starts, stops = self.offsets[index], self.offsets[index + 1]
            pieces = [self.flat[a:b] for a, b in zip(starts, stops, strict=True)]
            batch["ids"] = (np.concatenate(pieces) if pieces else np.zeros(0, np.int64))
            batch["offsets"] = np.concatenate([[0], np.cumsum(stops - starts)[:-1]]).astype(
                np.int64)
        batch["present"] = self.present[index]
        return batch


class _Featurizer:
    def __init__(self, modality, kind):
        self.modality = modality
        self.kind = kind

    def _error(self, reason, sample):
        return MediaError(f"{reason} (encoder {self.kind!r})", modality=self.modality,
                          sample=sample)

    def _present_cells(self, cells):
        """(index, cell) of the present cells."""
        return [(i, c) for i, c in enumerate(cells) if not is_missing_cell(c)]

    def _require_some(self, items):
        if len(items) == 0:
            raise ValueError(
                f"{self.modality}: every training cell is missing; the {self.kind!r} encoder "
                "has nothing to learn from"
            )

    def fit(self, cells):
        raise NotImplementedError

    def transform(self, cells):
        raise NotImplementedError


class ImageFeaturizer(_Featurizer):
    """2-D/3-D image arrays -> ``x (n, C, S, S)`` float32, standardised with training stats.

    Images of any size are resized (``cv2.INTER_AREA``) to the encoder's
    square input; LeNet takes grey (the mean of the colour channels), the conv
    net three channels (grey images replicated, an alpha channel dropped).
    """

    def _read(self, index, cell):
        if not isinstance(cell, np.ndarray):
            raise self._error(f"expected an image array (H, W[, C]), got {type(cell).__name__}",
                              index)
        if cell.ndim not in (2, 3) or cell.size == 0 or (
                cell.ndim == 3 and cell.shape[2] not in (1, 3, 4)):
            raise self._error(f"expected an image array (H, W) or (H, W, 1|3|4), got shape "
                              f"{cell.shape}", index)
        if not (np.issubdtype(cell.dtype, np.number) or cell.dtype == bool):
            raise self._error(f"expected a numeric image array, got dtype {cell.dtype}", index)
        image = cell.astype(np.float32)
        if not np.isfinite(image).all():
            raise self._error("the image holds NaN or infinite values", index)
        import cv2

        size = IMAGE_SIZE[self.kind]
        if image.ndim == 3:
            image = image[:, :, :3]
        if IMAGE_CHANNELS[self.kind] == 1:
            if image.ndim == 3:
                image = image.mean(axis=2)
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)[None]
        else:
            if image.ndim == 2 or image.shape[2] == 1:
                image = np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
            image = np.transpose(image, (2, 0, 1))
        return image

    def _stack(self, cells):
        size, channels = IMAGE_SIZE[self.kind], IMAGE_CHANNELS[self.kind]
        x = np.zeros((len(cells), channels, size, size), dtype=np.float32)
        present = np.zeros(len(cells), dtype=bool)
        for index, cell in self._present_cells(cells):
            x[index] = self._read(index, cell)
            present[index] = True
        return x, present

    def fit(self, cells):
        x, present = self._stack(cells)
        self._require_some(np.flatnonzero(present))
        self.mean_ = float(x[present].mean())
        std = float(x[present].std())
        self.std_ = std if std > 0 else 1.0
        return self

    def transform(self, cells):
        x, present = self._stack(cells)
        x[present] = (x[present] - self.mean_) / self.std_
        return Prepared({"x": x}, present)


class VectorFeaturizer(_Featurizer):
    """Precomputed 1-D feature vectors -> ``x (n, d)`` float32, standardised per feature."""

    def _stack(self, cells, n_features=None):
        rows = {}
        for index, cell in self._present_cells(cells):
            try:
                vector = np.asarray(cell, dtype=np.float32)
            except (TypeError, ValueError):
                raise self._error(f"expected a numeric feature vector, got "
                                  f"{type(cell).__name__}", index) from None
            if vector.ndim != 1 or vector.size == 0:
                raise self._error(f"expected a 1-D feature vector, got shape {vector.shape}",
                                  index)
            if n_features is None:
                n_features = vector.size
            if vector.size != n_features:
                raise self._error(f"expected {n_features} features, got {vector.size}", index)
            if not np.isfinite(vector).all():
                raise self._error("the feature vector holds NaN or infinite values", index)
            rows[index] = vector
        x = np.zeros((len(cells), n_features or 0), dtype=np.float32)
        present = np.zeros(len(cells), dtype=bool)
        for index, vector in rows.items():
            x[index] = vector
            present[index] = True
        return x, present

    def fit(self, cells):
        x, present = self._stack(cells)
        self._require_some(np.flatnonzero(present))
        self.n_features_ = x.shape[1]
        self.mean_ = x[present].mean(axis=0)
        std = x[present].std(axis=0)
        self.std_ = np.where(std > 0, std, 1.0).astype(np.float32)
        return self

    def transform(self, cells):
        x, present = self._stack(cells, self.n_features_)
        x[present] = (x[present] - self.mean_) / self.std_
        return Prepared({"x": x}, present)


class AudioFeaturizer(_Featurizer):
    """Waveforms -> standardised log-mel spectrograms ``x (n, n_mels, T)`` and ``lengths``.

    ``librosa.feature.melspectrogram`` (FFT of about 64 ms, hop a quarter of
    it) then ``librosa.power_to_db(ref=1.0)`` floored at -100 dB, so a silent
    (all-zero) clip is a valid, constant spectrogram. ``T`` is the 95th
    percentile of the training clips' frame counts: longer clips keep their
    first ``T`` frames, shorter ones are padded with the silence floor.
    Each mel band is standardised with the training frames' mean and std.
    """

    def __init__(self, modality, kind, *, sample_rate, n_mels):
        super().__init__(modality, kind)
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.n_fft = int(2 ** np.ceil(np.log2(0.064 * sample_rate)))
        self.hop_length = self.n_fft // 4

    def _logmel(self, index, cell):
        if not isinstance(cell, np.ndarray) or not np.issubdtype(cell.dtype, np.number):
            raise self._error(f"expected a 1-D float waveform array, got "
                              f"{type(cell).__name__}", index)
        if cell.ndim != 1 or cell.size == 0:
            raise self._error(f"expected a non-empty 1-D waveform, got shape {cell.shape}",
                              index)
        wave = cell.astype(np.float32)
        if not np.isfinite(wave).all():
            raise self._error("the waveform holds NaN or infinite values", index)
        import librosa

        power = librosa.feature.melspectrogram(
            y=wave, sr=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length,
            n_mels=self.n_mels)
        return librosa.power_to_db(power, ref=1.0, amin=10 ** (DB_FLOOR / 10),
                                   top_db=None).astype(np.float32)

    def _spectrograms(self, cells):
        return {index: self._logmel(index, cell) for index, cell in self._present_cells(cells)}

    def fit(self, cells):
        specs = self._spectrograms(cells)
        self._require_some(specs)
        frames = np.array([s.shape[1] for s in specs.values()])
        self.n_frames_ = max(1, int(np.ceil(np.percentile(frames, FRAMES_PERCENTILE))))
        stacked = np.concatenate(list(specs.values()), axis=1)
        self.mean_ = stacked.mean(axis=1)
        std = stacked.std(axis=1)
        self.std_ = np.where(std > 0, std, 1.0).astype(np.float32)
        return self

    def transform(self, cells):
        specs = self._spectrograms(cells)
        n, n_frames = len(cells), self.n_frames_
        floor = ((DB_FLOOR - self.mean_) / self.std_).astype(np.float32)
        x = np.zeros((n, self.n_mels, n_frames), dtype=np.float32)
        lengths = np.ones(n, dtype=np.int64)
        present = np.zeros(n, dtype=bool)
        for index, spec in specs.items():
            spec = spec[:, :n_frames]
            x[index] = floor[:, None]
            x[index, :, : spec.shape[1]] = (spec - self.mean_[:, None]) / self.std_[:, None]
            lengths[index] = spec.shape[1]
            present[index] = True
        return Prepared({"x": x, "lengths": lengths}, present)


def read_texts(featurizer, cells):
    """{index: text} of the present cells; a non-string cell is a MediaError."""
    texts = {}
    for index, cell in featurizer._present_cells(cells):
        if not isinstance(cell, str):
            raise featurizer._error(
                f"expected a str (or None/NaN for a missing text), got {type(cell).__name__}",
                index)
        texts[index] = cell
    return texts


class TokenFeaturizer(_Featurizer):
    """Texts -> token ids over a training vocabulary.

    The vocabulary holds the ``max_vocab`` most frequent training tokens seen
    at least twice; id 0 pads, id 1 is out-of-vocabulary. ``text_gru`` gets a
    padded ``ids (n, L)`` matrix truncated at ``max_len`` tokens plus
    ``lengths``; ``text_bag`` gets every token (CSR ``flat``/``offsets``), as a
    bag of words needs no truncation. An empty text has length 0.
    """

    def __init__(self, modality, kind, *, max_len, max_vocab):
        super().__init__(modality, kind)
        self.max_len = max_len
        self.max_vocab = max_vocab

    def fit(self, cells):
        texts = read_texts(self, cells)
        self._require_some(texts)
        counts = Counter()
        for text in texts.values():
            counts.update(tokenize(text))
        kept = [w for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if c >= 2]
        self.vocabulary_ = {w: i + 2 for i, w in enumerate(kept[: self.max_vocab])}
        self.n_ids_ = len(self.vocabulary_) + 2
        return self

    def _ids(self, text):
        vocabulary = self.vocabulary_
        return np.fromiter((vocabulary.get(t, OOV_ID) for t in tokenize(text)), dtype=np.int64)

    def transform(self, cells):
        texts = read_texts(self, cells)
        n = len(cells)
        present = np.zeros(n, dtype=bool)
        present[list(texts)] = True
        ids = [self._ids(texts[i]) if i in texts else np.zeros(0, np.int64) for i in range(n)]
        if self.kind == "text_bag":
            lengths = np.array([a.size for a in ids], dtype=np.int64)
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            flat = np.concatenate(ids) if n else np.zeros(0, np.int64)
            return Prepared({}, present, flat=flat, offsets=offsets)
        ids = [a[: self.max_len] for a in ids]
        lengths = np.array([a.size for a in ids], dtype=np.int64)
        padded = np.full((n, max(1, int(lengths.max(initial=0)))), PAD_ID, dtype=np.int64)
        for i, a in enumerate(ids):
            padded[i, : a.size] = a
        return Prepared({"ids": padded, "lengths": lengths}, present)


class SentenceFeaturizer(_Featurizer):
    """Texts -> frozen MiniLM sentence embeddings ``x (n, 384)`` (cached per text)."""

    def __init__(self, modality, kind, *, device, verbose):
        super().__init__(modality, kind)
        self.device = device
        self.verbose = verbose

    def _embed(self, cells):
        from mmfuse.bench.baselines._minilm import MiniLMEncoder

        texts = read_texts(self, cells)
        encoder = MiniLMEncoder(device=self.device, verbose=self.verbose)
        x = np.zeros((len(cells), encoder.n_dims), dtype=np.float32)
        present = np.zeros(len(cells), dtype=bool)
        if texts:
            x[list(texts)] = encoder.fit_transform(list(texts.values()))
            present[list(texts)] = True
        return x, present

    def fit(self, cells):
        self._require_some(read_texts(self, cells))
        return self

    def transform(self, cells):
        x, present = self._embed(cells)
        return Prepared({"x": x}, present)


def fit_on_rows(featurizer, cells, rows):
    """Fit ``featurizer`` on ``cells[rows]``; a bad cell's error names its row in ``cells``."""
    try:
        return featurizer.fit([cells[i] for i in rows])
    except MediaError as exc:
        if exc.sample is None:
            raise
        raise exc.at(sample=int(rows[exc.sample])) from None


def make_featurizer(modality, kind, *, sample_rate=8000, n_mels=40, max_len=400,
                    max_vocab=20000, device="cpu", verbose=0):
    """The featurizer for an encoder ``kind`` (one of :data:`KINDS`)."""
    if kind in IMAGE_KINDS:
        return ImageFeaturizer(modality, kind)
    if kind == "mlp":
        return VectorFeaturizer(modality, kind)
    if kind in AUDIO_KINDS:
        return AudioFeaturizer(modality, kind, sample_rate=sample_rate, n_mels=n_mels)
    if kind in ("text_bag", "text_gru"):
        return TokenFeaturizer(modality, kind, max_len=max_len, max_vocab=max_vocab)
    if kind == "minilm":
        return SentenceFeaturizer(modality, kind, device=device, verbose=verbose)
    raise ValueError(f"{modality}: unknown encoder kind {kind!r}; expected one of {KINDS}")
