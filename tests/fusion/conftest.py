"""Small two- and three-modality problems with a known generative structure."""

import numpy as np
import pytest


def make_blocks(n=120, n_classes=3, dims=(3, 4), signal=(1.5, 1.0), seed=0):
    """One block per modality; class means differ by ``signal`` in each block."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    blocks = []
    for d, s in zip(dims, signal, strict=True):
        centres = rng.normal(size=(n_classes, d)) * s
        blocks.append(centres[y] + rng.normal(size=(n, d)))
    return np.hstack(blocks), y


@pytest.fixture
def two_blocks():
    X, y = make_blocks()
    return X, y, [0, 1, 2], [3, 4, 5, 6]
