"""Shared training machinery: device, seeding, validation split, the early-stopping loop."""

from __future__ import annotations

import copy
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from tqdm.auto import tqdm

from mmfuse._config import resolve_verbose

#: Rows per forward pass at prediction / validation time.
PREDICT_BATCH = 256

#: Parameter constraints shared by the deep estimators: training budget, input
#: preparation, device, seed and verbosity.
TRAINING_CONSTRAINTS = {
    "hidden": [Interval(Integral, 1, None, closed="left")],
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "patience": [Interval(Integral, 1, None, closed="left")],
    "max_len": [Interval(Integral, 1, None, closed="left")],
    "max_vocab": [Interval(Integral, 1, None, closed="left")],
    "sample_rate": [Interval(Integral, 1, None, closed="left")],
    "n_mels": [Interval(Integral, 1, None, closed="left")],
    "device": [str],
    "random_state": ["random_state"],
    "verbose": ["verbose", None],
}


def training_options(estimator, seed):
    """The keyword arguments of :func:`train` that come from ``estimator``'s parameters."""
    return {"epochs": estimator.epochs, "batch_size": estimator.batch_size,
            "lr": estimator.lr, "weight_decay": estimator.weight_decay,
            "patience": estimator.patience, "seed": seed, "verbose": estimator.verbose}


def training_budget(estimator, n_train, n_val):
    """The ``budget_`` attribute of a fitted deep estimator."""
    return {"epochs": estimator.epochs, "patience": estimator.patience,
            "batch_size": estimator.batch_size,
            "validation_fraction": estimator.validation_fraction, "lr": estimator.lr,
            "weight_decay": estimator.weight_decay, "n_train": int(n_train),
            "n_val": int(n_val)}


def in_batches(forward, index):
    """``forward`` over ``index`` in slices of :data:`PREDICT_BATCH` rows, concatenated."""
    return torch.cat([forward(index[start:start + PREDICT_BATCH])
                      for start in range(0, index.size, PREDICT_BATCH)])


def resolve_device(device):
    """``"auto"`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"``; others as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA device")
    return device


def resolve_seed(random_state):
    """An int seed for torch, NumPy and the validation split."""
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextmanager
def seeded(seed, device):
    """Seed torch inside the block without changing the global RNG state afterwards."""
    devices = [torch.device(device).index or 0] if str(device).startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def validation_split(n_samples, validation_fraction, seed, stratify=None):
    """(train_index, val_index): a seeded hold-out, stratified when every class allows it."""
    index = np.arange(n_samples)
    if not validation_fraction:
        return index, index[:0]
    try:
        train, val = train_test_split(index, test_size=validation_fraction, random_state=seed,
                                      stratify=stratify)
    except ValueError:
        if stratify is None:
            raise
        train, val = train_test_split(index, test_size=validation_fraction, random_state=seed)
    if train.size == 0 or val.size == 0:
        raise ValueError(
            f"validation_fraction={validation_fraction} leaves no training or validation rows "
            f"out of {n_samples}")
    return np.sort(train), np.sort(val)


def to_device(batch, device):
    """NumPy batch dict -> tensors on ``device`` (float32 / int64 / bool kept)."""
    return {name: torch.from_numpy(np.ascontiguousarray(values)).to(device)
            for name, values in batch.items()}


def n_trainable(module):
    """Number of trainable parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def train(module, *, train_index, batch_loss, validate, epochs, batch_size, lr, weight_decay,
          patience, seed, verbose, desc):
    """Adam mini-batch training with early stopping on ``validate()``.

    ``validate()`` returns None (no validation split) or a dict whose
    ``"score"`` is higher-is-better (e.g. minus the validation loss); its
    other entries are recorded in the history. Training stops after
    ``patience`` epochs without a better score. Returns ``(history,
    best_epoch, n_epochs)``; the module ends with the weights of the best
    validation epoch (the last epoch without a validation split).
    """
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr,
                                 weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    history, best_score, best_epoch, best_state, stale = [], -np.inf, 0, None, 0
    bar = tqdm(range(1, epochs + 1), desc=desc, unit="epoch",
               disable=resolve_verbose(verbose) < 1, leave=False)
    epoch = 0
    for epoch in bar:
        module.train()
        order = train_index[torch.randperm(train_index.size, generator=generator).numpy()]
        total, seen = 0.0, 0
        for start in range(0, order.size, batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = batch_loss(index)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * index.size
            seen += index.size
        module.eval()
        with torch.no_grad():
            result = validate()
        score = None if result is None else float(result["score"])
        history.append({"epoch": epoch, "train_loss": total / max(seen, 1),
                        **({} if result is None else result)})
        bar.set_postfix(loss=f"{total / max(seen, 1):.4f}",
                        val="-" if score is None else f"{score:.4f}")
        if score is None:
            best_epoch = epoch
            continue
        if score > best_score:
            best_score, best_epoch, stale = score, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            stale += 1
            if stale >= patience:
                break
    bar.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history, best_epoch, epoch
