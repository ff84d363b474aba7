"""Probabilistic models over sequences and fixed-length vectors (HMMs with hmmlearn)."""

from mmfuse.probabilistic._hmm import HMMClassifier

__all__ = ["HMMClassifier"]
