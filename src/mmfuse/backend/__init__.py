"""Array namespace selection (NumPy or CuPy) and the hot kernels.

This is the only module that knows CuPy exists. Everything above asks it for
an array namespace and for kernels, and gets NumPy or CuPy arrays back as
configured with :func:`mmfuse.config_context`. On CuPy arrays the kernels
take the fused CUDA fast paths of ``_cupy_kernels`` (compiled on first use;
CuPy is never imported unless a GPU is asked for).
"""

from mmfuse.backend._kmeans import kmeans_codebook, lloyd_kmeans
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
    for_row_blocks,
    gmm_fisher_statistics,
    gmm_posteriors,
    gmm_segment_statistics,
    segment_histogram,
    segment_ids,
    segment_moments,
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
    "for_row_blocks",
    "gmm_fisher_statistics",
    "gmm_posteriors",
    "gmm_segment_statistics",
    "cupy_available",
    "get_namespace",
    "kmeans_codebook",
    "lloyd_kmeans",
    "segment_histogram",
    "segment_ids",
    "segment_moments",
    "segment_residuals",
    "soft_assign",
    "squared_norms",
    "to_numpy",
    "to_output",
]
