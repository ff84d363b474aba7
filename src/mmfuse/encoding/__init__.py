"""Descriptor sets -> fixed-length vectors: bag-of-words (and, later, VLAD, Fisher).

Every encoder shares codebook learning and nearest-codeword assignment
(:class:`BaseCodebookEncoder`); subclasses differ only in how the assigned
descriptors of a sample are aggregated.
"""

from mmfuse.encoding._base import BaseCodebookEncoder
from mmfuse.encoding._bow import BagOfWords

__all__ = ["BagOfWords", "BaseCodebookEncoder"]
