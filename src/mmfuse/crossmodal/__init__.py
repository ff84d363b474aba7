"""Cross-modal retrieval: find the texts that match an image, and the images for a text.

Two-view estimators map paired views (image features ``X``, text features
``Y``) into a common space -- :class:`CCA`, :class:`KernelCCA`, :class:`PLS`,
:class:`RankingEmbedding` -- or onto class probabilities --
:class:`SemanticMatching`, :class:`SemanticCorrelationMatching` (Rasiwasia et
al., ACM MM 2010). :class:`CrossModalIndex` answers top-k queries in that
space, :mod:`mmfuse.crossmodal.metrics` scores rankings (MAP, P@k, R@k,
median rank, precision-recall), and :class:`CrossModalRetriever` ties image
and text pipelines, a method and the indexes together over a DataFrame.
"""

from mmfuse.crossmodal import metrics
from mmfuse.crossmodal._cca import CCA
from mmfuse.crossmodal._index import METRICS, CrossModalIndex
from mmfuse.crossmodal._kernel_cca import KernelCCA
from mmfuse.crossmodal._pls import PLS
from mmfuse.crossmodal._ranking import RankingEmbedding
from mmfuse.crossmodal._retriever import CrossModalRetriever, run_retrieve_demo
from mmfuse.crossmodal._semantic import SemanticCorrelationMatching, SemanticMatching

__all__ = [
    "CCA",
    "METRICS",
    "PLS",
    "CrossModalIndex",
    "CrossModalRetriever",
    "KernelCCA",
    "RankingEmbedding",
    "SemanticCorrelationMatching",
    "SemanticMatching",
    "metrics",
    "run_retrieve_demo",
]
