"""Probabilistic models over sequences and fixed-length vectors (HMMs with hmmlearn)."""

from mmfuse.probabilistic._bayesnet import MultimodalBayesNet
from mmfuse.probabilistic._crossmodal_hmm import CrossModalHMM
from mmfuse.probabilistic._discretize import ModalityDiscretizer
from mmfuse.probabilistic._hmm import HMMClassifier
from mmfuse.probabilistic._multistream import MultiStreamHMMClassifier

__all__ = ["CrossModalHMM", "HMMClassifier", "ModalityDiscretizer", "MultiStreamHMMClassifier",
           "MultimodalBayesNet"]
