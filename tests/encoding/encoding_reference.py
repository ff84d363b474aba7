"""Direct NumPy / sklearn versions of the encoders, written loop by loop per sample."""

import numpy as np
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state


def random_sets(seed=0, lengths=(40, 0, 25, 1, 60), n_features=10, n_modes=6):
    """Descriptor sets drawn around a few modes; includes an empty and a one-row sample."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=5, size=(n_modes, n_features))
    out = []
    for n in lengths:
        idx = rng.integers(0, n_modes, size=n)
        out.append((centers[idx] + rng.normal(size=(n, n_features))).astype(np.float32))
    return out


def seed_and_sample(sets, random_state, max_descriptors=None):
    """The seed and training sample the encoders derive from ``random_state``."""
    rng = check_random_state(random_state)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    allx = np.concatenate(sets)
    if max_descriptors is not None and len(allx) > max_descriptors:
        allx = allx[np.sort(rng.choice(len(allx), size=max_descriptors, replace=False))]
    return seed, allx


def kmeans_reference(sets, n_words, random_state):
    seed, allx = seed_and_sample(sets, random_state)
    return KMeans(n_clusters=n_words, n_init=1, random_state=seed).fit(allx)


def l2(v):
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def ssr(v):
    return np.sign(v) * np.sqrt(np.abs(v))
