"""Extract once, fuse many times: per-sample caching of a media transformer's output.

Cross-validation, stacking and grid search refit every step of a pipeline on
every fold, so a pipeline with SIFT or MFCC inside extracts each sample's
descriptors once per fold (five or six times for a stacked late fusion).
Extraction is a pure function of the sample and the extractor's parameters,
so :class:`CachedTransformer` keys each sample's output by both and computes
it once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from mmfuse._config import resolve_verbose
from mmfuse.descriptors import DescriptorSet
from mmfuse.parallel._shards import _atomic_write, _fingerprint, concatenate_descriptor_sets
from mmfuse.utils import as_column, is_missing_cell

#: In-process stores, one per transformer fingerprint, shared by every clone.
_MEMORY_STORES: dict[str, dict] = {}
_LOCK = threading.Lock()


class CachedTransformer(TransformerMixin, BaseEstimator):
    """Compute a per-sample media transformer's output once per sample, then reuse it.

    Wrap an extractor whose output for a sample depends only on that sample
    and on the extractor's parameters (:class:`~mmfuse.image.SIFTExtractor`,
    :class:`~mmfuse.audio.MFCCExtractor`, :class:`~mmfuse.text.TextVectorizer`
    does *not* qualify: its vocabulary is learned). Each sample's output is
    stored under a key made of the transformer's fingerprint (its class,
    parameters and fitted state, ignoring ``n_jobs``/``verbose``/
    ``batch_size``) and the sample: a file path with its size and
    modification time, or a hash of the bytes, array or text. Later calls on
    the same samples, in the same fit or in a clone (every CV fold, every
    grid-search candidate, every stacking fold), read the stored outputs;
    only unseen samples are computed. So a stacked late fusion with SIFT
    inside extracts each photo once instead of once per fold.

    The fingerprint pickles the transformer: define custom extractors at
    module level. One that pickles only by value (a class defined inside a
    function, a lambda) is hashed with the globals it uses, and its keys
    change whenever those do.

    Parameters
    ----------
    transformer : transformer
        The per-sample extractor; it is cloned.
    location : str, path or None, default=None
        None keeps the outputs in this process's memory, shared by all
        clones (cleared with :meth:`clear`); a directory keeps them on disk,
        one ``.npz`` file per sample, shared by worker processes (parallel
        CV) and by later runs.
    verbose : int or None, default=None
        1 prints how many samples were computed and how many read back (the
        wrapped extractor shows its own progress).

    Attributes
    ----------
    transformer_ : transformer
        The fitted clone.
    fingerprint_ : str
        Hash of the fitted transformer: part of every key.
    n_computed_, n_reused_ : int
        Samples computed and read from the cache by the last ``transform``.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.image import SIFTExtractor
    >>> from mmfuse.parallel import CachedTransformer
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.integers(0, 255, (48, 48), dtype=np.uint8) for _ in range(3)]
    >>> cached = CachedTransformer(SIFTExtractor()).fit(images)
    >>> first = cached.transform(images)
    >>> cached.n_computed_, cached.n_reused_
    (3, 0)
    >>> again = cached.transform(images[1:])
    >>> cached.n_computed_, cached.n_reused_
    (0, 2)
    >>> np.array_equal(again.values, first.values[first.offsets[1]:])
    True
    >>> CachedTransformer.clear()
    """

    _parameter_constraints = {
        "transformer": [HasMethods(["fit", "transform"])],
        "location": [str, os.PathLike, None],
        "verbose": ["verbose", None],
    }

    def __init__(self, transformer, *, location=None, verbose=None):
        self.transformer = transformer
        self.location = location
        self.verbose = verbose

    @classmethod
    def clear(cls) -> None:
        """Empty the in-process stores (on-disk locations are left alone)."""
        with _LOCK:
            _MEMORY_STORES.clear()

    def fit(self, X, y=None):
        """Fit the wrapped transformer (cheap for a stateless extractor).

        Parameters
        ----------
        X : column of media cells
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        self.transformer_ = clone(self.transformer).fit(X, y)
        self.fingerprint_ = _fingerprint(self.transformer_)
        if hasattr(self.transformer_, "n_features_in_"):
            self.n_features_in_ = self.transformer_.n_features_in_
        return self

    def transform(self, X):
        """The transformer's output for every sample, computed only for unseen ones.

        Parameters
        ----------
        X : column of media cells

        Returns
        -------
        out : DescriptorSet, ndarray or sparse matrix
            As the wrapped transformer returns it, rows in the order of ``X``.
        """
        check_is_fitted(self, "transformer_")
        cells = as_column(X, modality="media")
        store = self._store()
        keys = [_cell_key(c) for c in cells]
        parts: list = [store.get(k) for k in keys]
        todo = [i for i, part in enumerate(parts) if part is None]
        first = {}  # unseen key -> its first row: the same sample twice is computed once
        for i in todo:
            first.setdefault(keys[i], i)
        if first:
            out = self.transformer_.transform([cells[i] for i in first.values()])
            computed = dict(zip(first, _split(out), strict=True))
            for key, part in computed.items():
                store.put(key, part)
            parts = [computed[keys[i]] if part is None else part
                     for i, part in enumerate(parts)]
        self.n_computed_, self.n_reused_ = len(first), len(cells) - len(todo)
        if resolve_verbose(self.verbose) >= 1:
            print(f"CachedTransformer: {self.n_computed_} samples computed, "
                  f"{self.n_reused_} read from the cache")
        return _assemble(parts)

    def get_feature_names_out(self, input_features=None):
        """The wrapped transformer's feature names."""
        check_is_fitted(self, "transformer_")
        return self.transformer_.get_feature_names_out(input_features)

    def _store(self):
        if self.location is None:
            with _LOCK:
                return _MemoryStore(_MEMORY_STORES.setdefault(self.fingerprint_, {}))
        return _DiskStore(Path(self.location) / self.fingerprint_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


class _MemoryStore:
    def __init__(self, entries: dict):
        self.entries = entries

    def get(self, key):
        return self.entries.get(key)

    def put(self, key, part):
        self.entries[key] = part


class _DiskStore:
    """One ``.npz`` per sample, written atomically so parallel workers can share it."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, key) -> Path:
        return self.folder / f"{key}.npz"

    def get(self, key):
        path = self._path(key)
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            kind = str(data["kind"])
            if kind == "descriptors":
                return ("descriptors", data["values"], data["positions"] if "positions" in data
                        else None, data["extent"] if "extent" in data else None,
                        bool(data["missing"]))
            if kind == "sparse":
                return ("sparse", sp.csr_matrix((data["data"], data["indices"], data["indptr"]),
                                                shape=tuple(data["shape"])))
            return ("dense", data["row"])

    def put(self, key, part):
        arrays = {"kind": np.asarray(part[0])}
        if part[0] == "descriptors":
            _, values, positions, extent, missing = part
            arrays.update(values=values, missing=np.asarray(missing))
            if positions is not None:
                arrays["positions"] = positions
            if extent is not None:
                arrays["extent"] = extent
        elif part[0] == "sparse":
            row = part[1]
            arrays.update(data=row.data, indices=row.indices, indptr=row.indptr,
                          shape=np.asarray(row.shape))
        else:
            arrays["row"] = part[1]
        _atomic_write(self._path(key), lambda f: np.savez(f, **arrays))


def _cell_key(cell) -> str:
    """A sample's identity: a path with its size and mtime, or a hash of its content."""
    if is_missing_cell(cell):
        return "missing"
    if isinstance(cell, (str, os.PathLike)) and not _looks_like_text(cell):
        path = Path(cell)
        try:
            stat = path.stat()
            return hashlib.md5(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
                               .encode()).hexdigest()
        except OSError:
            pass  # not a file (unreadable, or a text): hash the value itself
    return joblib.hash(cell)


def _looks_like_text(cell) -> bool:
    return isinstance(cell, str) and ("\n" in cell or len(cell) > 4096)


def _split(out) -> list:
    """One part per sample of a transformer's output."""
    if isinstance(out, DescriptorSet):
        parts = []
        for i in range(out.n_samples):
            a, b = int(out.offsets[i]), int(out.offsets[i + 1])
            parts.append(("descriptors", out.values[a:b],
                          None if out.positions is None else out.positions[a:b],
                          None if out.extents is None else out.extents[i],
                          bool(out.missing[i])))
        return parts
    if sp.issparse(out):
        out = sp.csr_matrix(out)
        return [("sparse", out[i]) for i in range(out.shape[0])]
    out = np.asarray(out)
    return [("dense", out[i]) for i in range(out.shape[0])]


def _assemble(parts: list):
    kinds = {p[0] for p in parts}
    if len(kinds) > 1:
        raise ValueError(f"cached outputs of different kinds {sorted(kinds)}: clear the cache")
    kind = kinds.pop() if kinds else "dense"
    if kind == "descriptors":
        sets = []
        for _, values, positions, extent, missing in parts:
            sets.append(DescriptorSet(values, [0, values.shape[0]],
                                      positions=positions,
                                      extents=None if extent is None else [extent],
                                      missing=[missing]))
        return concatenate_descriptor_sets(sets)
    if kind == "sparse":
        return sp.vstack([p[1] for p in parts], format="csr")
    return np.vstack([p[1] for p in parts])


__all__ = ["CachedTransformer"]
