"""Modalities of a multimodal table: what fusion, probabilistic and the other model
floors share (below all of them).

One modality is a ``(name, transformer_or_estimator, columns)`` triple, as in
:class:`sklearn.compose.ColumnTransformer`. The helpers here turn user input
into a table, select a modality's columns, and decide — in exactly one place —
whether a sample has a modality at all (:func:`missing_modality_mask`).
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._indexing import _get_column_indices
from sklearn.utils.metaestimators import _BaseComposition

from mmfuse.blocks import Blocks, needs_blocks, stack_vector_column
from mmfuse.utils import is_missing_cell


def as_frame(X) -> pd.DataFrame | Blocks | object:
    """Turn a mapping of modality columns into a table, checking lengths.

    A mapping of 1-D cell columns (paths, texts, numbers) becomes a
    DataFrame, as before; a mapping holding any 2-D block (dense array,
    sparse matrix, DataFrame) or pandas column of vectors becomes
    :class:`~mmfuse.blocks.Blocks`, every block kept as it is (sparse stays
    sparse).
    """
    if sp.issparse(X):
        # ColumnTransformer indexes columns, which only CSR/CSC support.
        return X.tocsr()
    if isinstance(X, Blocks):
        return X
    if isinstance(X, Mapping):
        if needs_blocks(X):
            return Blocks(X)
        lengths = {name: len(col) for name, col in X.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{name!r}: {n}" for name, n in lengths.items())
            raise ValueError(
                f"modality columns have different numbers of samples ({detail}); every "
                "modality needs one cell per sample (use None for a missing cell)"
            )
        return pd.DataFrame({name: list(col) for name, col in X.items()})
    if isinstance(X, pd.Series) or (isinstance(X, np.ndarray) and X.ndim == 1) or (
            isinstance(X, list) and len(X) > 0 and np.isscalar(X[0])):
        raise ValueError(
            "Expected a 2-D table (DataFrame, mapping of columns or 2-D array) with one row "
            "per sample, got 1-D input. Reshape your data, e.g. df[[column]] or "
            "X.reshape(-1, 1)."
        )
    return X


def as_table(X):
    """:func:`as_frame`, then anything that is not yet a table becomes a NumPy array."""
    X = as_frame(X)
    if isinstance(X, Blocks):
        return X
    if isinstance(X, (pd.DataFrame, np.ndarray)) or sp.issparse(X):
        if getattr(X, "ndim", 2) != 2:
            raise ValueError(f"Expected a 2-D table with one row per sample, got shape {X.shape}")
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D table (DataFrame, mapping of columns or 2-D array) with one row "
            f"per sample, got an array of shape {X.shape}"
        )
    return X


def check_modalities(modalities, *, owner: str) -> list[tuple]:
    """Validate a list of ``(name, estimator, columns)`` triples; return it as a list."""
    if not isinstance(modalities, (list, tuple)) or len(modalities) == 0:
        raise ValueError(f"{owner} needs a non-empty list of (name, estimator, columns) "
                         f"triples, got {modalities!r}")
    out = []
    for spec in modalities:
        if not isinstance(spec, (list, tuple)) or len(spec) != 3:
            raise ValueError(
                f"each modality must be a (name, transformer, columns) triple, got {spec!r}"
            )
        if not isinstance(spec[0], str) or not spec[0] or "__" in spec[0]:
            raise ValueError(f"modality names must be non-empty strings without '__', "
                             f"got {spec[0]!r}")
        out.append(tuple(spec))
    names = [m[0] for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"modality names must be unique, got {names}")
    return out


def select_modality(X, columns, name="modality"):
    """The cells of one modality: ``columns`` as in ColumnTransformer (a callable too).

    A single column name or integer gives a 1-D column, as media transformers
    expect; a list, slice or boolean mask gives a 2-D block.
    """
    if callable(columns):
        columns = columns(X)
    if isinstance(X, Blocks):
        if isinstance(columns, (list, tuple, np.ndarray, slice)):
            return X.select(columns)  # a group of blocks (a subtree of a hierarchy)
        return X.block(columns, name)
    try:
        cells = _safe_indexing(X, columns, axis=1)
    except (IndexError, KeyError, ValueError) as exc:
        raise ValueError(f"modality {name!r}: cannot select columns {columns!r} from an input "
                         f"with {X.shape[1]} feature(s) ({exc})") from exc
    if isinstance(cells, pd.Series) and cells.dtype == object:
        # a DataFrame column whose cells are feature vectors: one 2-D block
        stacked = stack_vector_column(cells)
        if stacked is not None:
            return stacked
    return cells


def column_positions(X, columns, name="modality") -> tuple[list[int], bool]:
    """Integer positions of a modality's columns, and whether it is a single (1-D) column."""
    if callable(columns):
        columns = columns(X)
    if isinstance(X, Blocks):
        X.block(columns, name)  # a clear error for an unknown block
        key = X.names.index(columns) if isinstance(columns, str) else int(columns)
        return [key % len(X.names)], True
    try:
        positions = list(_get_column_indices(X, columns))
    except (IndexError, KeyError, ValueError) as exc:
        raise ValueError(f"modality {name!r}: cannot select columns {columns!r} from an input "
                         f"with {X.shape[1]} feature(s) ({exc})") from exc
    return positions, isinstance(columns, (str, Integral))


def take_rows(X, rows):
    """Rows ``rows`` (integer positions) of a table, column or array."""
    if isinstance(X, Blocks):
        return X.take(rows)
    return _safe_indexing(X, rows, axis=0)


def missing_modality_mask(block) -> np.ndarray:
    """Boolean mask of the samples for which a modality is absent.

    This is the one place that decides what "missing" means: a sample lacks
    a modality when *every* cell of the modality is missing — ``None``, NaN or
    ``pd.NA`` (:func:`mmfuse.utils.is_missing_cell`). For a numeric block that
    is an all-NaN row; a row with only some NaN values is not a missing
    modality (it is bad input for the modality's own estimator). Sparse
    blocks are never missing, and neither is a block with no columns.

    Parameters
    ----------
    block : pandas Series/DataFrame, list, ndarray, sparse matrix or Blocks
        The modality's cells, as returned by :func:`select_modality`
        (:class:`~mmfuse.blocks.Blocks` for a group of modalities).

    Returns
    -------
    mask : ndarray of bool, shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.fusion import missing_modality_mask
    >>> missing_modality_mask(np.array([[1.0, np.nan], [np.nan, np.nan]]))
    array([False,  True])
    >>> missing_modality_mask(["a caption", None, float("nan")])
    array([False,  True,  True])
    """
    if sp.issparse(block):
        return np.zeros(block.shape[0], dtype=bool)
    if isinstance(block, Blocks):  # a group of modalities: absent when every one is
        return np.column_stack([missing_modality_mask(b) for _, b in block.items()]).all(axis=1)
    if isinstance(block, pd.Series):
        block = block.to_numpy(dtype=object)
    elif isinstance(block, pd.DataFrame):
        if block.shape[1] == 0:
            return np.zeros(block.shape[0], dtype=bool)
        return np.column_stack([missing_modality_mask(block.iloc[:, j])
                                for j in range(block.shape[1])]).all(axis=1)
    elif isinstance(block, (list, tuple)):
        return np.fromiter((is_missing_cell(c) for c in block), dtype=bool, count=len(block))
    block = np.asarray(block) if not isinstance(block, np.ndarray) else block
    if block.ndim == 1:
        if block.dtype.kind in "fc":
            return np.isnan(block)
        if block.dtype == object:
            return np.fromiter((is_missing_cell(c) for c in block), dtype=bool,
                               count=len(block))
        return np.zeros(len(block), dtype=bool)
    if block.ndim != 2 or block.shape[1] == 0:
        return np.zeros(block.shape[0], dtype=bool)
    if block.dtype.kind in "fc":
        return np.isnan(block).all(axis=1)
    if block.dtype == object:
        cells = np.frompyfunc(is_missing_cell, 1, 1)(block).astype(bool)
        return cells.all(axis=1)
    return np.zeros(block.shape[0], dtype=bool)


def check_block_names(estimator, X: Blocks, *, reset: bool) -> None:
    """``feature_names_in_`` for an input of named blocks: the block names, in order."""
    names = X.columns
    if reset:
        estimator.feature_names_in_ = names
        return
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None:
        raise ValueError(f"{type(estimator).__name__} was fitted without named blocks; pass "
                         "the same kind of input to predict/transform")
    if list(fitted) != list(names):
        raise ValueError(f"{type(estimator).__name__} was fitted on blocks {list(fitted)}, got "
                         f"blocks {list(names)}; pass the same blocks in the same order")


class ModalityComposition(_BaseComposition):
    """Nested parameters (``image__C``) for estimators holding ``modalities`` triples."""

    @property
    def _modality_estimators(self):
        return [(name, est) for name, est, _ in self.modalities]

    @_modality_estimators.setter
    def _modality_estimators(self, value):
        estimators = dict(value)
        self.modalities = [(name, estimators[name], cols) for name, _, cols in self.modalities]

    def get_params(self, deep=True):
        """Parameters of this estimator and, with ``deep``, of each modality's estimator."""
        if not deep or not _well_formed(self.modalities):
            return super().get_params(deep=False)
        return self._get_params("_modality_estimators", deep=deep)

    def set_params(self, **params):
        """Set parameters, including ``<modality>__<param>`` of a modality's estimator."""
        if _well_formed(self.modalities):
            self._set_params("_modality_estimators", **params)
        else:
            super().set_params(**params)
        return self

    def _modalities_accept_sparse(self) -> bool:
        try:
            return all(get_tags(est).input_tags.sparse for _, est, _ in self.modalities
                       if not isinstance(est, str))
        except (TypeError, ValueError):
            return False


def _well_formed(modalities) -> bool:
    return isinstance(modalities, (list, tuple)) and all(
        isinstance(m, (list, tuple)) and len(m) == 3 and isinstance(m[0], str)
        for m in modalities)
