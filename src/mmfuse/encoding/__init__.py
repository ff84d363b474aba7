"""Descriptor sets -> fixed-length vectors: bag-of-words, VLAD, Fisher vectors.

Every codebook encoder shares codebook learning and nearest-codeword
assignment (:class:`BaseCodebookEncoder`); subclasses differ only in how the
assigned descriptors of a sample are aggregated. :class:`SpatialPyramid`
pools any of them over a grid of image regions, and :class:`DescriptorPCA`
decorrelates (whitens) descriptors before encoding.
"""

from mmfuse.encoding._base import BaseCodebookEncoder
from mmfuse.encoding._bow import BagOfWords
from mmfuse.encoding._fisher import FisherVector
from mmfuse.encoding._pca import DescriptorPCA
from mmfuse.encoding._pyramid import SpatialPyramid
from mmfuse.encoding._vlad import VLAD

__all__ = [
    "VLAD",
    "BagOfWords",
    "BaseCodebookEncoder",
    "DescriptorPCA",
    "FisherVector",
    "SpatialPyramid",
]
