"""TwoTowerRetriever: an image tower and a text tower trained with a hinge rank loss."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from mmfuse._config import resolve_verbose
from mmfuse.bench.baselines._inputs import KINDS, fit_on_rows, make_featurizer
from mmfuse.bench.baselines._modules import Tower, TwoTowerNet, hinge_rank_loss, make_encoder
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


def _cells(X, name):
    """A column of cells; a 2-D numeric matrix is a column of its rows (feature vectors)."""
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype != object:
        return list(X)
    return as_column(X, modality=name)


class TwoTowerRetriever(BaseEstimator):
    """Two-tower (Siamese-style) cross-modal embedding trained with a hinge rank loss.

    The deep retrieval baseline of the benchmark suites. Each view has its own
    encoder (the kinds of :class:`DeepFusionClassifier`) followed by a linear
    map into a shared ``n_components``-dimensional space and L2
    normalisation; matched pairs are pulled together and in-batch negatives
    pushed at least ``margin`` away in both directions (image -> text and
    text -> image), as in DeViSE / VSE models. With labels, items of the
    query's class are not used as negatives (relevance is by class). Early
    stopping keeps the epoch with the best validation MAP (mean of both
    directions) on a stratified hold-out of the training pairs.

    Parameters
    ----------
    x_encoder : str
        Encoder kind of the first (image) view: ``"lenet"``, ``"convnet"`` or
        ``"mlp"`` (precomputed feature vectors).
    y_encoder : str
        Encoder kind of the second (text) view: ``"text_bag"``, ``"text_gru"``
        or ``"minilm"`` (frozen pretrained sentence encoder + trainable layer).
    n_components : int, default=64
        Dimension of the shared space.
    margin : float, default=0.2
        Hinge margin on cosine similarities.
    hidden : int, default=128
        Width of the encoders' hidden layers.
    epochs : int, default=30
    batch_size : int, default=64
    lr : float, default=1e-3
    weight_decay : float, default=1e-4
    validation_fraction : float, default=0.15
        Share of the training pairs held out for early stopping; 0 trains for
        ``epochs`` epochs and keeps the last weights.
    patience : int, default=5
    max_len, max_vocab, sample_rate, n_mels :
        Input preparation, as in :class:`DeepFusionClassifier`.
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int or None, default=None

    Attributes
    ----------
    model_ : torch.nn.Module
    n_params_ : int
        Trainable parameters (a frozen MiniLM is not counted).
    n_epochs_, best_epoch_ : int
    history_ : list of dict
        ``epoch``, ``train_loss``, ``val_map`` per epoch.
    budget_ : dict
    device_ : str

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.bench.baselines import TwoTowerRetriever
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 120)
    >>> X = rng.normal(size=(120, 6)) + 2 * y[:, None]
    >>> texts = ["red apple fruit" if c else "blue sky cloud" for c in y]
    >>> model = TwoTowerRetriever("mlp", "text_bag", n_components=8, epochs=20,
    ...                           device="cpu", random_state=0).fit(X, texts, y)
    >>> E, F = model.transform_x(X), model.transform_y(texts)
    >>> same = (E @ F.T)[np.equal.outer(y, y)].mean()
    >>> other = (E @ F.T)[~np.equal.outer(y, y)].mean()
    >>> bool(same > other + 0.5)
    True
    """

    _parameter_constraints = {
        "x_encoder": [str],
        "y_encoder": [str],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "margin": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        **TRAINING_CONSTRAINTS,
    }

    def __init__(self, x_encoder, y_encoder, *, n_components=64, margin=0.2, hidden=128,
                 epochs=30, batch_size=64, lr=1e-3, weight_decay=1e-4,
                 validation_fraction=0.15, patience=5, max_len=400, max_vocab=20000,
                 sample_rate=8000, n_mels=40, device="auto", random_state=None,
                 verbose=None):
        self.x_encoder = x_encoder
        self.y_encoder = y_encoder
        self.n_components = n_components
        self.margin = margin
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

    def _featurizer(self, view, kind, verbose):
        return make_featurizer(view, kind, sample_rate=self.sample_rate, n_mels=self.n_mels,
                               max_len=self.max_len, max_vocab=self.max_vocab,
                               device=self.device_, verbose=verbose)

    def fit(self, X, Y, y=None):
        """Train both towers on the paired rows of ``X`` and ``Y``.

        Parameters
        ----------
        X : list, Series or ndarray of shape (n_samples,) or (n_samples, n_features)
            First-view cells (images, or feature vectors as matrix rows).
        Y : list, Series or ndarray of shape (n_samples,)
            Second-view cells (texts).
        y : array-like of shape (n_samples,), default=None
            Class labels: same-class items are not negatives, the validation
            split is stratified and validation relevance is by class. Without
            them, only a row's own pair is relevant.

        Returns
        -------
        self : TwoTowerRetriever
        """
        self._validate_params()
        for view, kind in (("x", self.x_encoder), ("y", self.y_encoder)):
            if kind not in KINDS:
                raise ValueError(f"{view}_encoder={kind!r} is not an encoder kind; expected "
                                 f"one of {KINDS}")
        xs, ys = _cells(X, "x"), _cells(Y, "y")
        if len(xs) != len(ys):
            raise ValueError(f"X has {len(xs)} rows and Y has {len(ys)}; they must be paired")
        if len(xs) < 4:
            raise ValueError(f"{type(self).__name__} needs at least 4 pairs, got {len(xs)}")
        labels = None
        if y is not None:
            y = np.asarray(y)
            if y.shape != (len(xs),):
                raise ValueError(f"y must hold one label per pair ({len(xs)}), got shape "
                                 f"{y.shape}")
            labels = np.unique(y, return_inverse=True)[1].astype(np.int64)
        self.device_ = resolve_device(self.device)
        seed = resolve_seed(self.random_state)
        train_index, val_index = validation_split(len(xs), self.validation_fraction, seed,
                                                  stratify=labels)
        verbose = resolve_verbose(self.verbose)
        self.featurizers_ = {
            "x": fit_on_rows(self._featurizer("x", self.x_encoder, verbose), xs, train_index),
            "y": fit_on_rows(self._featurizer("y", self.y_encoder, verbose), ys, train_index)}
        prepared = {"x": self.featurizers_["x"].transform(xs),
                    "y": self.featurizers_["y"].transform(ys)}
        for view, block in prepared.items():
            if not block.present.all():
                raise ValueError(f"{view}: training pairs need both views; rows "
                                 f"{np.flatnonzero(~block.present)[:10].tolist()} miss it")
        label_tensor = (None if labels is None
                        else torch.from_numpy(labels).to(self.device_))

        with seeded(seed, self.device_):
            towers = {view: Tower(make_encoder(kind, self.featurizers_[view], self.hidden),
                                  self.n_components)
                      for view, kind in (("x", self.x_encoder), ("y", self.y_encoder))}
            self.model_ = TwoTowerNet(towers["x"], towers["y"]).to(self.device_)

            def batch_loss(index):
                ex = self.model_.tower_x(to_device(prepared["x"].take(index), self.device_))
                ey = self.model_.tower_y(to_device(prepared["y"].take(index), self.device_))
                return hinge_rank_loss(ex, ey, self.margin,
                                       None if label_tensor is None else label_tensor[index])

            def validate():
                if val_index.size == 0:
                    return None
                ex = self._embed("x", prepared["x"], val_index)
                ey = self._embed("y", prepared["y"], val_index)
                score = _val_map(ex, ey, None if labels is None else labels[val_index])
                return {"score": score, "val_map": score}

            history, self.best_epoch_, self.n_epochs_ = train(
                self.model_, train_index=train_index, batch_loss=batch_loss, validate=validate,
                desc=type(self).__name__, **training_options(self, seed))
        self.history_ = [{"epoch": h["epoch"], "train_loss": h["train_loss"],
                          "val_map": h.get("val_map")} for h in history]
        self.n_params_ = n_trainable(self.model_)
        self.budget_ = training_budget(self, train_index.size, val_index.size)
        return self

    def _embed(self, view, prepared, index):
        tower = self.model_.tower_x if view == "x" else self.model_.tower_y
        self.model_.eval()
        with torch.no_grad():
            embedded = in_batches(
                lambda rows: tower(to_device(prepared.take(rows), self.device_)), index)
        return embedded.cpu().numpy().astype(np.float64)

    def _transform(self, view, cells):
        check_is_fitted(self, "model_")
        cells = _cells(cells, view)
        prepared = self.featurizers_[view].transform(cells)
        if not prepared.present.all():
            raise ValueError(f"{view}: cannot embed a missing cell (rows "
                             f"{np.flatnonzero(~prepared.present)[:10].tolist()})")
        return self._embed(view, prepared, np.arange(len(cells)))

    def transform_x(self, X):
        """Embed first-view cells (e.g. image queries) into the shared space.

        Returns
        -------
        X_embedded : ndarray of shape (n_samples, n_components)
            Unit-norm rows.
        """
        return self._transform("x", X)

    def transform_y(self, Y):
        """Embed second-view cells (e.g. text queries) into the shared space.

        Returns
        -------
        Y_embedded : ndarray of shape (n_samples, n_components)
            Unit-norm rows.
        """
        return self._transform("y", Y)


def _val_map(ex, ey, labels):
    from mmfuse.crossmodal.metrics import mean_average_precision, relevance_from_labels

    if labels is None:
        relevance = np.eye(ex.shape[0], dtype=bool)
    else:
        relevance = relevance_from_labels(labels, labels)
    scores = ex @ ey.T
    return 0.5 * (mean_average_precision(scores, relevance)
                  + mean_average_precision(scores.T, relevance.T))
