"""Fusion of modalities inside scikit-learn pipelines."""

from mmfuse.fusion._blocks import BlockNormalizer
from mmfuse.fusion._early import EarlyFusion

__all__ = ["BlockNormalizer", "EarlyFusion"]
