"""Helpers shared by the NumPy kernels (:mod:`mmfuse.backend.kernels`) and their CuPy
fast paths (:mod:`mmfuse.backend._cupy_kernels`): both import them from here, so the
two kernel modules do not import each other."""

from __future__ import annotations

import numpy as np

from mmfuse._config import get_config

_MiB = 1 << 20


def _namespace_of(x):
    module = type(x).__module__
    if module.startswith("cupy"):
        import cupy

        return cupy
    return np


def chunk_rows(n_rows: int, bytes_per_row: int, working_memory: int | None = None) -> int:
    """Rows per chunk so that ``rows * bytes_per_row`` fits the memory budget.

    Parameters
    ----------
    n_rows : int
        Total number of rows to process.
    bytes_per_row : int
        Temporary bytes one row needs.
    working_memory : int, default=None
        Budget in MiB; defaults to ``mmfuse.get_config()["working_memory"]``.

    Returns
    -------
    chunk : int
        At least 1 and at most ``max(n_rows, 1)``.

    Examples
    --------
    >>> from mmfuse.backend import chunk_rows
    >>> chunk_rows(10_000, bytes_per_row=4 * 1024, working_memory=1)
    256
    """
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    budget = int(working_memory) * _MiB
    rows = max(1, budget // max(1, int(bytes_per_row)))
    return int(min(rows, max(n_rows, 1)))


def squared_norms(X):
    """Row-wise squared Euclidean norms, accumulated in the input precision.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.backend import squared_norms
    >>> squared_norms(np.array([[3.0, 4.0]], dtype=np.float32))
    array([25.], dtype=float32)
    """
    xp = _namespace_of(X)
    return xp.einsum("ij,ij->i", X, X)
