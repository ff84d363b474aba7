"""Test helpers shared by the scale-out tests (importable by worker processes)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from mmfuse.descriptors import DescriptorSet


class Recorder(TransformerMixin, BaseEstimator):
    """Wraps a transformer; logs each call's first file, and can fail on one file.

    ``fail_on``: a substring of a cell. ``fail_with="error"`` raises
    RuntimeError while ``log_dir/fault`` exists (a fault outside the
    transformer, so fixing it does not change the transformer); ``"exit"``
    kills the process once (a marker file remembers it).
    """

    def __init__(self, inner=None, log_dir=None, fail_on=None, fail_with="error"):
        self.inner = inner
        self.log_dir = log_dir
        self.fail_on = fail_on
        self.fail_with = fail_with

    def fit(self, X, y=None):
        self.inner.fit(X)  # fitted in place, so get_params(deep=True) reaches it
        self.fitted_ = True
        return self

    def transform(self, X):
        cells = list(X)
        with open(Path(self.log_dir) / "calls.log", "a") as log:
            log.write(f"{cells[0]}\n")
        if self.fail_on is not None and any(self.fail_on in str(c) for c in cells):
            marker = Path(self.log_dir) / "died_once"
            if self.fail_with == "exit" and not marker.exists():
                marker.touch()
                os._exit(1)
            if self.fail_with == "error" and (Path(self.log_dir) / "fault").exists():
                raise RuntimeError(f"injected failure on {self.fail_on}")
        return self.inner.transform(cells)


def calls(log_dir) -> list[str]:
    path = Path(log_dir) / "calls.log"
    return path.read_text().splitlines() if path.exists() else []


def assert_descriptor_sets_equal(a: DescriptorSet, b: DescriptorSet):
    for name in ("values", "offsets", "positions", "extents", "missing"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def working_memory_column(cells):
    """One row per cell holding mmfuse's working_memory setting where it runs."""
    import mmfuse

    return np.full((len(cells), 1), float(mmfuse.get_config()["working_memory"]))
