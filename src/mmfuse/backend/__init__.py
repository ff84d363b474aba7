"""Array namespace selection (NumPy or CuPy) and the hot kernels.

This is the only module that knows CuPy exists. Everything above asks it for
an array namespace and for kernels, and gets NumPy or CuPy arrays back as
configured with :func:`mmfuse.config_context`.
"""

from mmfuse.backend._namespace import (
    DeviceUnavailableError,
    asarray,
    cupy_available,
    get_namespace,
    to_numpy,
    to_output,
)
from mmfuse.backend.kernels import (
    assign_nearest,
    chunk_rows,
    cosine_topk,
    gmm_posteriors,
    segment_histogram,
    segment_ids,
    segment_residuals,
    soft_assign,
    squared_norms,
)

__all__ = [
    "DeviceUnavailableError",
    "asarray",
    "assign_nearest",
    "chunk_rows",
    "cosine_topk",
    "gmm_posteriors",
    "cupy_available",
    "get_namespace",
    "segment_histogram",
    "segment_ids",
    "segment_residuals",
    "soft_assign",
    "squared_norms",
    "to_numpy",
    "to_output",
]
