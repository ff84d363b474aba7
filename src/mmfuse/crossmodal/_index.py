"""A searchable database of embedded items of one modality."""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np

from mmfuse.backend import cosine_topk, get_namespace, to_numpy, to_output

METRICS = ("cosine", "inner_product", "correlation", "kl")
_KL_FLOOR = 1e-12


def _check_matrix(vectors, name, dim=None):
    vectors = np.asarray(vectors)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    if vectors.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (one row per item), got shape "
                         f"{vectors.shape}")
    if not np.issubdtype(vectors.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {vectors.dtype}")
    if vectors.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 rows)")
    if dim is not None and vectors.shape[1] != dim:
        raise ValueError(f"{name} has {vectors.shape[1]} columns but the index holds "
                         f"{dim}-dimensional vectors")
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} row {int(np.flatnonzero(bad)[0])} holds NaN or infinity "
                         f"({int(bad.sum())} such rows)")
    return vectors


def _prepare(vectors, metric, role, xp):
    """Preprocess rows so that the metric's score is a plain inner product."""
    if metric == "inner_product":
        return vectors
    if metric == "kl":
        if bool(xp.any(vectors < 0)):
            raise ValueError("metric='kl' needs non-negative rows (probabilities)")
        totals = vectors.sum(axis=1, keepdims=True)
        if bool(xp.any(totals <= 0)):
            raise ValueError("metric='kl' needs rows with a positive sum")
        p = vectors / totals
        if role == "database":
            return xp.log(xp.maximum(p, _KL_FLOOR))
        return p
    if metric == "correlation":
        vectors = vectors - vectors.mean(axis=1, keepdims=True)
    norms = xp.sqrt((vectors * vectors).sum(axis=1, keepdims=True))
    return vectors / xp.where(norms > 0, norms, 1)


def _query_offset(p, xp):
    """``-sum p log p`` per query row: turns ``p . log q`` into ``-KL(p || q)``."""
    plogp = xp.where(p > 0, p * xp.log(xp.where(p > 0, p, 1)), 0)
    return -plogp.sum(axis=1, keepdims=True)


class CrossModalIndex:
    """Top-k search of one modality's embedded items by queries from another.

    Holds a database of vectors (e.g. images embedded by :class:`CCA`) with
    ids, and answers "the k most similar items" for a batch of query vectors
    (e.g. texts embedded into the same space). Every metric is turned into an
    inner product of preprocessed rows, searched by the backend kernel
    :func:`mmfuse.backend.cosine_topk` (blocked GEMMs with a running top-k,
    memory bounded by ``mmfuse.get_config()["working_memory"]``), on the CPU
    or -- with ``mmfuse.config_context(device="gpu")`` -- on the GPU.

    Parameters
    ----------
    metric : {"cosine", "inner_product", "correlation", "kl"}, default="cosine"
        Similarity, larger is closer. ``"cosine"`` is the normalised
        correlation of Rasiwasia et al.; ``"correlation"`` centres each row
        first (Pearson correlation between the two vectors); ``"kl"`` is
        ``-KL(query || item)`` between rows normalised to probability vectors
        (for :class:`SemanticMatching` outputs).
    dtype : numpy dtype, default=np.float32
        Precision of the stored vectors and of the search.
    chunk_size : int, default=None
        Queries per chunk of the search kernel; chosen by the kernel when None.

    Attributes
    ----------
    ids : ndarray
        Ids of the stored items, in storage order.
    dim : int or None
        Vector dimension (None while empty).

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal import CrossModalIndex
    >>> index = CrossModalIndex(metric="cosine")
    >>> index.add(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), ids=["a", "b", "c"])
    >>> scores, ids = index.search(np.array([[2.0, 0.1]]), k=2)
    >>> ids.tolist(), scores.round(3).tolist()
    ([['a', 'c']], [[0.999, 0.742]])
    >>> index.remove(["a"])
    >>> len(index)
    2
    """

    def __init__(self, metric="cosine", *, dtype=np.float32, chunk_size=None):
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        if chunk_size is not None and (not isinstance(chunk_size, Integral) or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
        self.metric = metric
        self.dtype = np.dtype(dtype)
        self.chunk_size = chunk_size
        self._vectors = None
        self._ids = np.empty(0, dtype=object)
        self._row_of = {}
        self._cache = None

    def __len__(self):
        return 0 if self._vectors is None else self._vectors.shape[0]

    def __repr__(self):
        return f"CrossModalIndex(metric={self.metric!r}, n_items={len(self)}, dim={self.dim})"

    @property
    def dim(self):
        return None if self._vectors is None else self._vectors.shape[1]

    @property
    def ids(self):
        return self._ids.copy()

    @property
    def vectors(self):
        """The stored vectors (as added, in the index dtype); empty (0, 0) when empty."""
        return np.empty((0, 0), self.dtype) if self._vectors is None else self._vectors.copy()

    def add(self, vectors, ids=None):
        """Add items.

        Parameters
        ----------
        vectors : array-like of shape (n_items, dim)
            Embedded items, finite; for ``metric="kl"`` non-negative.
        ids : sequence of hashable, default=None
            One unique id per item (ints or strings); default consecutive
            integers after the largest integer id so far.

        Raises
        ------
        ValueError
            Empty or non-finite vectors, a dimension mismatch, duplicated ids.
        """
        vectors = _check_matrix(vectors, "vectors", self.dim).astype(self.dtype, copy=False)
        if self.metric == "kl":
            _prepare(vectors, "kl", "database", np)  # validates the rows
        if ids is None:
            existing = [i for i in self._ids if isinstance(i, Integral)]
            start = int(max(existing)) + 1 if existing else len(self)
            ids = np.arange(start, start + vectors.shape[0], dtype=np.int64)
        ids = np.asarray(ids)
        if ids.ndim != 1 or ids.shape[0] != vectors.shape[0]:
            raise ValueError(f"ids must be 1-D with one id per vector ({vectors.shape[0]}), "
                             f"got shape {ids.shape}")
        new = ids.tolist()
        if len(set(new)) != len(new):
            raise ValueError("ids contain duplicates")
        clash = [i for i in new if i in self._row_of]
        if clash:
            raise ValueError(f"ids already in the index: {clash[:5]}")
        self._vectors = vectors.copy() if self._vectors is None else np.vstack(
            [self._vectors, vectors])
        self._ids = np.concatenate([self._ids, np.asarray(new, dtype=object)])
        self._reindex()

    def remove(self, ids):
        """Remove items by id.

        Raises
        ------
        KeyError
            When an id is not in the index (nothing is removed then).
        """
        ids = np.atleast_1d(np.asarray(ids)).tolist()
        missing = [i for i in ids if i not in self._row_of]
        if missing:
            raise KeyError(f"ids not in the index: {missing[:5]}")
        keep = np.ones(len(self), dtype=bool)
        keep[[self._row_of[i] for i in ids]] = False
        self._vectors = self._vectors[keep] if keep.any() else None
        self._ids = self._ids[keep]
        self._reindex()

    def _reindex(self):
        self._row_of = {item: row for row, item in enumerate(self._ids.tolist())}
        self._cache = None

    def search(self, queries, k=10, *, return_rows=False):
        """The k most similar items for each query, best first.

        Parameters
        ----------
        queries : array-like of shape (n_queries, dim) or (dim,)
        k : int or None, default=10
            Number of results per query, at most ``len(index)``; None ranks
            the whole index.
        return_rows : bool, default=False
            Return storage rows instead of ids.

        Returns
        -------
        scores : ndarray of shape (n_queries, k)
            Similarities, decreasing along each row (a CuPy array on the GPU
            when ``array_output="device"``).
        ids : ndarray of shape (n_queries, k)
            Ids (or rows) of the items; equal scores are ordered by storage
            position (which of several items tied at the k-th score make
            the cut is not specified).
        """
        if len(self) == 0:
            raise ValueError("the index is empty; add items before searching")
        queries = _check_matrix(queries, "queries", self.dim).astype(self.dtype, copy=False)
        if k is None:
            k = len(self)
        if not isinstance(k, Integral) or not 1 <= k <= len(self):
            raise ValueError(f"k must be an integer between 1 and the index size {len(self)}, "
                             f"got {k!r}")
        xp, device = get_namespace()
        if self._cache is None or self._cache[0] != device:
            database = _prepare(xp.asarray(self._vectors), self.metric, "database", xp)
            self._cache = (device, database)
        database = self._cache[1]
        prepared = _prepare(xp.asarray(queries), self.metric, "query", xp)
        rows, scores = cosine_topk(prepared, database, int(k), normalize=False,
                                   chunk_size=self.chunk_size)
        # Within the k results, order equal scores by storage position.
        by_row = xp.argsort(rows, axis=1)
        rows, scores = (xp.take_along_axis(a, by_row, axis=1) for a in (rows, scores))
        by_score = xp.argsort(-scores, axis=1, **({} if xp.__name__ == "cupy"
                                                  else {"kind": "stable"}))
        rows, scores = (xp.take_along_axis(a, by_score, axis=1) for a in (rows, scores))
        if self.metric == "kl":
            scores = scores + _query_offset(prepared, xp)
        rows = to_numpy(rows)
        labels = rows if return_rows else self._ids[rows]
        if not return_rows and labels.dtype == object and all(
                isinstance(i, Integral) for i in self._ids.tolist()):
            labels = labels.astype(np.int64)
        return to_output(scores), labels

    def similarity(self, queries):
        """Scores of every query against every stored item, in storage order.

        The full matrix that the metrics of :mod:`mmfuse.crossmodal.metrics`
        take (``search(..., k=None)`` gives the same scores, sorted).

        Parameters
        ----------
        queries : array-like of shape (n_queries, dim)

        Returns
        -------
        scores : ndarray of shape (n_queries, len(index))
        """
        if len(self) == 0:
            raise ValueError("the index is empty; add items before searching")
        queries = _check_matrix(queries, "queries", self.dim).astype(self.dtype, copy=False)
        xp, _ = get_namespace()
        database = _prepare(xp.asarray(self._vectors), self.metric, "database", xp)
        prepared = _prepare(xp.asarray(queries), self.metric, "query", xp)
        scores = prepared @ database.T
        if self.metric == "kl":
            scores = scores + _query_offset(prepared, xp)
        return to_output(scores)

    def save(self, path):
        """Write the index to a ``.npz`` file (no pickle: ids must be ints or strings).

        Parameters
        ----------
        path : str or path-like
        """
        ids = self._ids.tolist()
        if all(isinstance(i, Integral) for i in ids):
            ids_array = np.asarray(ids, dtype=np.int64)
        elif all(isinstance(i, str) for i in ids):
            ids_array = np.asarray(ids, dtype=str)
        else:
            raise TypeError("save needs ids that are all integers or all strings")
        vectors = self.vectors if self._vectors is not None else np.empty((0, 0), self.dtype)
        with open(os.fspath(path), "wb") as handle:
            np.savez(handle, vectors=vectors, ids=ids_array, metric=np.asarray(self.metric),
                     dtype=np.asarray(self.dtype.str))

    @classmethod
    def load(cls, path):
        """Read an index written by :meth:`save`.

        Returns
        -------
        index : CrossModalIndex

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from mmfuse.crossmodal import CrossModalIndex
        >>> index = CrossModalIndex()
        >>> index.add(np.eye(3))
        >>> path = os.path.join(tempfile.mkdtemp(), "images.npz")
        >>> index.save(path)
        >>> CrossModalIndex.load(path).search(np.eye(3)[1], k=1)[1].tolist()
        [[1]]
        """
        with np.load(os.fspath(path), allow_pickle=False) as data:
            index = cls(metric=str(data["metric"]), dtype=np.dtype(str(data["dtype"])))
            if data["vectors"].size:
                index.add(data["vectors"], ids=data["ids"].tolist())
        return index

