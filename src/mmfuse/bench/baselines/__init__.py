"""Deep baselines of the benchmark suites (the ``deep`` extra: PyTorch).

- :class:`DeepFusionClassifier`: per-modality neural encoders (LeNet, a small
  conv net, an MLP over precomputed features, CNN/GRU audio encoders on
  log-mel spectrograms, EmbeddingBag/GRU text encoders, a frozen pretrained
  MiniLM sentence encoder) fused early (concatenated features, MLP head) or
  late (averaged logits);
- :class:`TwoTowerRetriever`: an image tower and a text tower trained with a
  bidirectional hinge rank loss into a shared space, for cross-modal retrieval.

Both are scikit-learn estimators over a DataFrame (or columns) of raw media,
trained with Adam and early stopping on a seeded validation split, on the CPU
by default and on CUDA when torch sees a GPU. Importing this package raises
ImportError when torch is absent; the suites then leave the deep rows out and
say so.
"""

import torch  # noqa: F401  (fail here, with ImportError, when the deep extra is absent)

from mmfuse.bench.baselines._classifier import DeepFusionClassifier
from mmfuse.bench.baselines._minilm import MiniLMEncoder, minilm_available
from mmfuse.bench.baselines._retrieval import TwoTowerRetriever

__all__ = ["DeepFusionClassifier", "MiniLMEncoder", "TwoTowerRetriever", "minilm_available"]
