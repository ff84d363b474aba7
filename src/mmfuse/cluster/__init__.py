"""Clustering samples described by several modalities (views).

:class:`MultiviewSpectralClustering` clusters a similarity graph fused from
one kernel per view; :class:`MultiviewKMeans` runs k-means on the views
scaled to equal weight. Both take a mapping of named blocks,
:class:`~mmfuse.blocks.Blocks` or a 2-D array with ``(name, columns)`` views,
and accept samples with a view missing (an all-NaN row of that block).
"""

from mmfuse.cluster._multiview import MultiviewKMeans, MultiviewSpectralClustering
from mmfuse.cluster._som import SelfOrganizingMap

__all__ = ["MultiviewKMeans", "MultiviewSpectralClustering", "SelfOrganizingMap"]
