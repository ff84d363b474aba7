"""Learning with few labels across modalities.

:class:`MultiviewLabelSpreading` spreads the known labels over a similarity
graph fused from one kernel per view; :class:`CoTrainingClassifier` lets two
views label confident samples for each other (Blum & Mitchell, 1998).
Unlabelled samples are marked ``-1`` in ``y``, as in
:mod:`sklearn.semi_supervised`.
"""

from mmfuse._views import FusedRBFKernel, median_gamma
from mmfuse.semi_supervised._cotraining import CoTrainingClassifier
from mmfuse.semi_supervised._label_spreading import MultiviewLabelSpreading

__all__ = ["CoTrainingClassifier", "FusedRBFKernel", "MultiviewLabelSpreading", "median_gamma"]
