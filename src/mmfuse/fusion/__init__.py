"""Fusion of modalities inside scikit-learn pipelines.

Every estimator takes its modalities as ``(name, transformer_or_estimator,
columns)`` triples over a table (a DataFrame, a mapping of columns or a 2-D
array) or over named blocks (a mapping ``{"image": dense_array, "text":
tfidf_sparse, ...}``, see :class:`mmfuse.blocks.Blocks`, where ``columns`` is
a block's name and sparse blocks stay sparse), and treats a sample whose
cells in a modality's columns are all ``None``/NaN as lacking that modality
(:func:`missing_modality_mask`). Wrap a mapping in ``Blocks`` to pass it to
scikit-learn's cross-validation and grid search.
"""

from mmfuse.fusion._base import missing_modality_mask
from mmfuse.fusion._blocks import BlockNormalizer, ModalityBlock
from mmfuse.fusion._cascade import CascadeFusionClassifier
from mmfuse.fusion._contributions import modality_contributions
from mmfuse.fusion._early import EarlyFusion
from mmfuse.fusion._hierarchical import HierarchicalFusionClassifier, ProbabilityTransformer
from mmfuse.fusion._kernel import (
    KernelFusionClassifier,
    centered_kernel_alignment,
    modality_kernel,
)
from mmfuse.fusion._late import LateFusionClassifier, combine_probabilities

__all__ = [
    "BlockNormalizer",
    "CascadeFusionClassifier",
    "EarlyFusion",
    "HierarchicalFusionClassifier",
    "KernelFusionClassifier",
    "LateFusionClassifier",
    "ModalityBlock",
    "ProbabilityTransformer",
    "centered_kernel_alignment",
    "combine_probabilities",
    "missing_modality_mask",
    "modality_contributions",
    "modality_kernel",
]
