"""Image features: SIFT descriptors (sparse, dense, RootSIFT) as DescriptorSets."""

from mmfuse.image._sift import SIFTExtractor

__all__ = ["SIFTExtractor"]
