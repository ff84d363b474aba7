"""A multimodal input as named blocks: the form users hold their modalities in.

One block per modality, one row per sample in each: a list of media cells
(paths, texts, arrays), a dense 2-D array, a scipy sparse matrix (kept
sparse), a DataFrame, or a pandas column whose cells are vectors. Fusion
estimators and :class:`~mmfuse.crossmodal.CrossModalRetriever` accept a plain
mapping ``{"image": ..., "text": ...}`` and turn it into :class:`Blocks`; a
modality's ``columns`` is then the block's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mmfuse.utils import VectorColumn, is_missing_cell


def _is_vector(cell) -> bool:
    return (isinstance(cell, np.ndarray) and cell.ndim == 1 and cell.dtype.kind in "fiub"
            and cell.size > 0) or (
        isinstance(cell, (list, tuple)) and len(cell) > 0
        and all(isinstance(v, Real) for v in cell))


def _vector_width(cells) -> int | None:
    """The common length of the present cells when all are numeric vectors, else None."""
    present = [c for c in cells if not is_missing_cell(c)]
    if not present or not all(_is_vector(c) for c in present):
        return None
    widths = {len(c) for c in present}
    return widths.pop() if len(widths) == 1 else None


def stack_vector_column(column):
    """A column whose present cells are equal-length numeric vectors, as a 2-D float array.

    The array is a :class:`~mmfuse.utils.VectorColumn`: numeric estimators
    see an ordinary 2-D array, media transformers (audio clips of equal
    length) read it back as one cell per row. Missing cells (None, NaN)
    become all-NaN rows, which
    :func:`~mmfuse.fusion.missing_modality_mask` reads as an absent
    modality. Returns None when the column is not such a column (media
    cells, texts, vectors of different lengths), so callers keep it as cells.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mmfuse.blocks import stack_vector_column
    >>> np.asarray(stack_vector_column(pd.Series([np.array([1.0, 2.0]), None, [3, 4]])))
    array([[ 1.,  2.],
           [nan, nan],
           [ 3.,  4.]])
    >>> stack_vector_column(pd.Series(["a caption", "another"])) is None
    True
    """
    cells = column.tolist() if isinstance(column, pd.Series) else list(column)
    width = _vector_width(cells)
    if width is None:
        return None
    out = np.full((len(cells), width), np.nan)
    for i, cell in enumerate(cells):
        if _is_vector(cell):
            out[i] = np.asarray(cell, dtype=np.float64)
    return out.view(VectorColumn)


def _as_block(name: str, block):
    """Check one block; sparse becomes CSR, a pandas column of vectors a 2-D array."""
    if sp.issparse(block):
        if block.ndim != 2:
            raise ValueError(f"block {name!r}: a sparse block must be 2-D, got {block.ndim}-D")
        return block.tocsr()
    if isinstance(block, pd.DataFrame):
        return block
    if isinstance(block, pd.Series):
        stacked = stack_vector_column(block)
        return block.reset_index(drop=True) if stacked is None else stacked
    if isinstance(block, np.ndarray):
        if block.ndim not in (1, 2):
            raise ValueError(f"block {name!r}: expected one row (or cell) per sample, got an "
                             f"array of shape {block.shape}")
        return block
    if isinstance(block, (list, tuple)):
        return list(block)
    if isinstance(block, (str, bytes)) or not hasattr(block, "__len__"):
        raise TypeError(f"block {name!r}: expected a list of cells, an array, a sparse matrix "
                        f"or a DataFrame/Series, got {type(block).__name__}")
    return np.asarray(block)


def _n_rows(block) -> int:
    return block.shape[0] if hasattr(block, "shape") else len(block)


def _take(block, rows):
    if isinstance(block, (pd.DataFrame, pd.Series)):
        return block.iloc[rows]
    if isinstance(block, list):
        return [block[i] for i in rows]
    return block[rows]


class Blocks:
    """Named modality blocks of one set of samples, one row per sample in each.

    Parameters
    ----------
    blocks : mapping of {str: block}
        Each block is a list of media cells (paths, texts, arrays; None for
        a missing cell), a 1-D array of cells, a dense 2-D array (an all-NaN
        row is a missing modality), a scipy sparse matrix or array (kept
        sparse, as CSR), a DataFrame, or a pandas Series whose cells are
        equal-length vectors (stacked into a 2-D array, see
        :func:`stack_vector_column`).

    Attributes
    ----------
    names : list of str
        Block names, in the mapping's order.
    n_samples : int
    shape : tuple
        ``(n_samples, n_blocks)``: a block is one "column" of the table.
    columns : ndarray of str
        The block names, as a DataFrame's columns.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from mmfuse.blocks import Blocks
    >>> X = Blocks({"image": np.ones((3, 4)), "text": sp.random(3, 1000, density=0.01)})
    >>> X.shape, X.names
    ((3, 2), ['image', 'text'])
    >>> sp.issparse(X["text"]), X.take([0, 2])["image"].shape
    (True, (2, 4))
    """

    def __init__(self, blocks: Mapping):
        if isinstance(blocks, Blocks):
            blocks = blocks._blocks
        if not isinstance(blocks, Mapping) or not blocks:
            raise ValueError("Blocks needs a non-empty mapping of {name: block}")
        checked = {}
        for name, block in blocks.items():
            if not isinstance(name, str):
                raise TypeError(f"block names must be strings, got {name!r}")
            checked[name] = _as_block(name, block)
        lengths = {name: _n_rows(b) for name, b in checked.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{name!r}: {n}" for name, n in lengths.items())
            raise ValueError(
                f"blocks have different numbers of samples ({detail}); every block needs "
                "one row per sample (None or an all-NaN row for a missing modality)")
        self._blocks = checked
        self.names = list(checked)
        self.n_samples = next(iter(lengths.values()))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_samples, len(self.names))

    @property
    def columns(self) -> np.ndarray:
        return np.asarray(self.names, dtype=object)

    @property
    def index(self) -> pd.RangeIndex:
        """Sample ids ``0..n_samples-1``, as a DataFrame's default index."""
        return pd.RangeIndex(self.n_samples)

    def __len__(self) -> int:
        return self.n_samples

    def __getitem__(self, key):
        """``X["text"]``: a block. ``X[rows]``, ``X[rows, ...]``, ``X[:, blocks]``:
        row and block selection, as scikit-learn's indexing (cross-validation
        splits, column selection) asks of a 2-D container."""
        if isinstance(key, str):
            return self.block(key)
        if isinstance(key, tuple) and len(key) == 2:
            rows, cols = key
            out = self if _is_everything(rows) else self.take(rows)
            if _is_everything(cols):
                return out
            if isinstance(cols, (str, Integral)) and not isinstance(cols, bool):
                return out.block(cols)
            return out.select(cols)
        return self.take(key)

    def block(self, key, modality: str = "modality"):
        """The block named ``key`` (or at integer position ``key``), as stored."""
        if isinstance(key, Integral) and not isinstance(key, bool):
            if not -len(self.names) <= key < len(self.names):
                raise ValueError(f"modality {modality!r}: block position {key} out of range "
                                 f"for {len(self.names)} blocks {self.names}")
            key = self.names[key]
        if not isinstance(key, str) or key not in self._blocks:
            raise ValueError(f"modality {modality!r}: no block {key!r}; the input has blocks "
                             f"{self.names} (with a mapping of blocks, a modality's columns "
                             "is one block's name)")
        return self._blocks[key]

    def items(self):
        return self._blocks.items()

    def take(self, rows) -> Blocks:
        """The same blocks restricted to ``rows`` (integer positions, a boolean mask
        or a slice)."""
        if isinstance(rows, slice):
            rows = np.arange(self.n_samples)[rows]
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return Blocks({name: _take(b, rows) for name, b in self._blocks.items()})

    def select(self, keys) -> Blocks:
        """The blocks named (or at the positions) in ``keys``, in that order."""
        if isinstance(keys, slice):
            keys = self.names[keys]
        keys = list(np.asarray(keys).tolist()) if not isinstance(keys, list) else keys
        if keys and all(isinstance(k, bool) for k in keys):
            keys = [name for name, keep in zip(self.names, keys, strict=True) if keep]
        names = [self.names[k] if isinstance(k, Integral) else k for k in keys]
        return Blocks({name: self.block(name) for name in names})

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}: {_describe(b)}" for name, b in self._blocks.items())
        return f"Blocks({self.n_samples} samples; {parts})"


def _is_everything(key) -> bool:
    return key is Ellipsis or (isinstance(key, slice) and key == slice(None))


def _describe(block) -> str:
    if sp.issparse(block):
        return f"sparse {block.shape[0]}x{block.shape[1]}"
    if isinstance(block, (np.ndarray, pd.DataFrame)) and block.ndim == 2:
        return f"{type(block).__name__} {block.shape[0]}x{block.shape[1]}"
    return f"{len(block)} cells"


def needs_blocks(mapping: Mapping) -> bool:
    """True when a mapping cannot be a DataFrame of cells without loss: some value is
    sparse, 2-D, or a pandas column of vectors."""
    for value in mapping.values():
        if sp.issparse(value) or isinstance(value, pd.DataFrame):
            return True
        if getattr(value, "ndim", 1) == 2:
            return True
        if isinstance(value, pd.Series) and _vector_width(value.tolist()) is not None:
            return True
    return False


__all__ = ["Blocks", "needs_blocks", "stack_vector_column"]
