"""mmfuse: classical-plus-probabilistic multimodal learning.

Hand-crafted features per modality (SIFT, TF-IDF, MFCC), fused inside
scikit-learn pipelines; cross-modal retrieval; Bayesian networks and HMMs for
P(X, Y) = P(X) P(Y | X); NumPy kernels on the CPU and CuPy on a GPU.
"""

from mmfuse._config import config_context, get_config, set_config
from mmfuse.descriptors import DescriptorSet
from mmfuse.exceptions import MediaError

__version__ = "0.1.0"

__all__ = [
    "DescriptorSet",
    "MediaError",
    "__version__",
    "config_context",
    "get_config",
    "set_config",
]
