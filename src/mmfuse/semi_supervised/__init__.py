"""Learning with few labels across modalities.

:class:`MultiviewLabelSpreading` spreads the known labels over a similarity
graph fused from one kernel per view; :class:`CoTrainingClassifier` lets two
views label confident samples for each other (Blum & Mitchell, 1998);
:class:`CCAClassifier` learns a canonical correlation embedding from every
pair of views and classifies the labelled samples in it (Kakade & Foster, 2007).
Unlabelled samples are marked ``-1`` in ``y``, as in
:mod:`sklearn.semi_supervised`.
"""

from mmfuse._views import FusedRBFKernel, median_gamma
from mmfuse.semi_supervised._cca import CCAClassifier
from mmfuse.semi_supervised._cotraining import CoTrainingClassifier
from mmfuse.semi_supervised._label_spreading import MultiviewLabelSpreading

__all__ = ["CCAClassifier", "CoTrainingClassifier", "FusedRBFKernel", "MultiviewLabelSpreading",
           "median_gamma"]
