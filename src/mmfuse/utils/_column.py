"""Turn what a ColumnTransformer or a user passes into a list of cells."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd


def is_missing_cell(cell) -> bool:
    """True for None, NaN and pandas NA: an absent modality."""
    if cell is None or cell is pd.NA or cell is pd.NaT:
        return True
    if isinstance(cell, numbers.Real) and not isinstance(cell, bool):
        return bool(np.isnan(cell))
    return False


class VectorColumn(np.ndarray):
    """A column of equal-length 1-D cells stacked into a 2-D float array.

    To a numeric estimator it is an ordinary ``(n_samples, width)`` array
    (an all-NaN row is a missing cell); a media transformer reads it back as
    one cell per row (:func:`as_column`), so a pandas column of equal-length
    audio clips stays a column of clips. Built by
    :func:`mmfuse.blocks.stack_vector_column`.
    """


def as_column(X, *, modality: str) -> list:
    """Return the cells of a single media column as a list.

    Accepts a pandas Series, a one-column DataFrame, a list/tuple, a 1-D
    (or ``(n, 1)``) object array, or a :class:`VectorColumn` (a column of
    equal-length vectors stacked into rows). Raises a clear error otherwise
    (a plain 2-D array is not a column of cells).
    """
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                f"{modality}: expected one column of {modality} cells, got a DataFrame with "
                f"{X.shape[1]} columns {list(X.columns)}; select the column by name"
            )
        return X.iloc[:, 0].tolist()
    if isinstance(X, pd.Series):
        return X.tolist()
    if isinstance(X, (list, tuple)):
        return list(X)
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1 and X.dtype == object:
            return X[:, 0].tolist()
        if X.ndim == 1:
            return list(X)
        if isinstance(X, VectorColumn):
            # equal-length 1-D cells (audio clips) that a fusion input stacked into
            # rows: one cell per row again, an all-NaN row being a missing cell
            return [None if np.isnan(row).all() else np.asarray(row) for row in X]
        raise ValueError(
            f"{modality}: expected a 1-D column of {modality} cells, got an array of shape "
            f"{X.shape}; pass a list or a pandas Series with one cell per sample"
        )
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{modality}: expected a column (list or Series) of cells, got a single "
            f"{type(X).__name__}; wrap it in a list"
        )
    raise TypeError(
        f"{modality}: expected a list, pandas Series or 1-D array of cells, "
        f"got {type(X).__name__}"
    )
