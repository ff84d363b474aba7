"""Shared fixtures and markers: gpu / realdata tests skip cleanly when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``$MMFUSE_DATA`` or ``../shared/datasets`` next to the repository, if present."""
    env = os.environ.get("MMFUSE_DATA")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "datasets"]:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture
def data_dir():
    path = shared_data_dir()
    if path is None:
        pytest.skip("real datasets absent (set MMFUSE_DATA)")
    return path


def pytest_collection_modifyitems(config, items):
    from mmfuse.backend import cupy_available

    skip_gpu = pytest.mark.skip(reason="needs CuPy and an NVIDIA GPU")
    has_gpu = cupy_available()
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(skip_gpu)
