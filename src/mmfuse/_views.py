"""The views (modalities) of a multiview input: named numeric blocks, shared by
mmfuse.semi_supervised and mmfuse.cluster."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp
from sklearn.metrics.pairwise import euclidean_distances, rbf_kernel
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, column_or_1d, validate_data

from mmfuse.blocks import Blocks


def split_views(X, views, *, owner: str, allow_nan: bool = False) -> list[tuple[str, np.ndarray]]:
    """``[(name, 2-D block), ...]`` of ``X``, one per view.

    ``X`` is a :class:`~mmfuse.blocks.Blocks` or a mapping of named numeric
    blocks (dense or sparse), whose views are its blocks (``views`` None) or
    the blocks ``views`` names; or one 2-D array (or DataFrame), whose views
    are ``views`` as ``(name, columns)`` pairs, columns a list of indices or a
    slice (None: one view of all columns).
    Sparse blocks stay sparse (CSR); dense ones are float64; NaN is refused.
    """
    if _named(X):
        blocks = X if isinstance(X, Blocks) else Blocks(X)
        names = blocks.names if views is None else list(views)
        unknown = [name for name in names if name not in blocks.names]
        if unknown:
            raise ValueError(f"{owner}: views {unknown} are not blocks of X; blocks: "
                             f"{blocks.names}")
        return [(name, _numeric(blocks[name], name, owner, allow_nan)) for name in names]
    matrix = check_array(X, accept_sparse="csr", dtype=np.float64,
                         ensure_all_finite="allow-nan" if allow_nan else True)
    if views is None:
        return [("X", matrix)]
    out = []
    for view in views:
        if not (isinstance(view, tuple) and len(view) == 2):
            raise ValueError(f"{owner}: with a 2-D array, each view is a (name, columns) "
                             f"pair, got {view!r}")
        name, columns = view
        if not isinstance(columns, slice):
            columns = np.asarray(columns, dtype=np.intp)
        out.append((str(name), matrix[:, columns]))
    return out


def _named(X) -> bool:
    """Named blocks (a dok sparse matrix is a dict, but one matrix)."""
    return isinstance(X, (Blocks, Mapping)) and not sp.issparse(X)


def _numeric(block, name: str, owner: str, allow_nan: bool = False):
    if isinstance(block, (list, tuple)) or (isinstance(block, np.ndarray) and block.ndim == 1):
        raise ValueError(f"{owner}: view {name!r} holds media cells; turn it into a numeric "
                         "block first (for example with its modality's transformer)")
    try:
        return check_array(block, accept_sparse="csr", dtype=np.float64,
                           ensure_all_finite="allow-nan" if allow_nan else True)
    except ValueError as exc:
        raise ValueError(f"{owner}: view {name!r}: {exc}") from None


def stack_views(parts) -> np.ndarray | sp.csr_matrix:
    """The views side by side (sparse when any view is)."""
    blocks = [block for _, block in parts]
    if any(sp.issparse(b) for b in blocks):
        return sp.hstack([sp.csr_matrix(b) for b in blocks], format="csr")
    return np.hstack(blocks)


def checked_views(estimator, X, *, reset: bool):
    """:func:`split_views` with scikit-learn's input checks: a 2-D array goes through
    ``validate_data`` (``n_features_in_``); every view's width is recorded at fit
    (``view_widths_``) and checked afterwards."""
    owner = type(estimator).__name__
    if not _named(X):
        X = validate_data(estimator, X, accept_sparse="csr", dtype=np.float64, reset=reset)
    parts = split_views(X, estimator.views, owner=owner)
    widths = [block.shape[1] for _, block in parts]
    if reset:
        estimator.view_widths_ = widths
    elif widths != estimator.view_widths_:
        raise ValueError(f"{owner}: views {[n for n, _ in parts]} have {widths} columns; "
                         f"the model was fitted on {estimator.view_widths_}")
    return parts


def checked_two_views(estimator, X, *, reset: bool):
    """:func:`checked_views` for an estimator of exactly two views."""
    parts = checked_views(estimator, X, reset=reset)
    if len(parts) != 2:
        raise ValueError(f"{type(estimator).__name__} needs exactly two views, got "
                         f"{len(parts)}: {[n for n, _ in parts]}")
    return parts


def labelled_classes(estimator, y: np.ndarray) -> np.ndarray:
    """The classes of the labelled samples (``y != -1``); at least two, or an error."""
    classes = np.unique(y[y != -1])
    if classes.size < 2:
        raise ValueError(f"{type(estimator).__name__}: the labelled samples (y != -1) must "
                         f"hold at least two classes, got {classes.size} class: "
                         f"{classes.tolist()}")
    return classes


def check_targets(estimator, y, n_samples: int) -> np.ndarray:
    """``y`` as a 1-D array of ``n_samples`` labels (``-1``: unlabelled); a column
    vector is flattened with scikit-learn's warning."""
    name = type(estimator).__name__
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None")
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n_samples:
        raise ValueError(f"{name}: y has {y.shape[0]} labels, X has {n_samples} samples")
    return y


#: Rows sampled to set a view's RBF width from its median squared distance.
_GAMMA_SAMPLE = 1000


def median_gamma(block, random_state=0) -> float:
    """``1 / median squared distance`` between rows (a sample of them): the RBF width
    under which a typical pair of rows has similarity ``exp(-1)``, whatever the
    view's scale."""
    rng = check_random_state(random_state)
    rows = rng.permutation(block.shape[0])[:_GAMMA_SAMPLE]
    sample = block[rows]
    d2 = euclidean_distances(sample, squared=True)
    positive = d2[np.triu_indices_from(d2, k=1)]
    positive = positive[positive > 0]
    return 1.0 / float(np.median(positive)) if positive.size else 1.0


class FusedRBFKernel:
    """``K(A, B) = sum_v weight_v * exp(-gamma_v ||A_v - B_v||^2)`` over column slices
    (``combine="mean"``, weights summing to 1), or the weighted product
    ``exp(-n_views * sum_v weight_v * gamma_v ||A_v - B_v||^2)`` (``"product"``).

    A picklable callable for :class:`sklearn.semi_supervised.LabelSpreading`,
    which calls ``kernel(A, B)`` on the views stacked side by side. With
    ``n_neighbors``, a sparse k-nearest-neighbour graph under the fused
    similarity: ``kernel(X, X)`` (the same object twice, as LabelSpreading
    builds its graph) keeps each row's ``n_neighbors`` largest entries, and
    ``kernel(X_train, X_new)`` each new sample's (each column's); ties at the
    cut are kept or not by position.
    """

    def __init__(self, slices, gammas, weights, n_neighbors=None, combine="mean"):
        self.slices = [tuple(s) for s in slices]
        self.gammas = [float(g) for g in gammas]
        self.weights = [float(w) for w in weights]
        self.n_neighbors = None if n_neighbors is None else int(n_neighbors)
        self.combine = combine

    def __call__(self, A, B):
        K = None
        n_views = len(self.slices)
        for (start, stop), gamma, weight in zip(self.slices, self.gammas, self.weights,
                                                strict=True):
            if self.combine == "mean":
                part = weight * rbf_kernel(A[:, start:stop], B[:, start:stop], gamma=gamma)
            else:  # product: the exponents add up (weights sum to 1: times n_views)
                part = (n_views * weight * gamma) * euclidean_distances(
                    A[:, start:stop], B[:, start:stop], squared=True)
            K = part if K is None else K + part
        if self.combine != "mean":
            K = np.exp(-K)
        if self.n_neighbors is None:
            return K
        # LabelSpreading calls kernel(X, X) for its graph (each row keeps its
        # neighbours) and kernel(X_train, X_new) to label new samples (each new
        # sample, a column, keeps its neighbours among the training rows)
        by_column = A is not B
        if by_column:
            K = K.T
        if self.n_neighbors < K.shape[1]:
            keep = np.argpartition(K, -self.n_neighbors, axis=1)[:, -self.n_neighbors:]
            rows = np.repeat(np.arange(K.shape[0]), self.n_neighbors)
            K = sp.csr_matrix((np.take_along_axis(K, keep, axis=1).ravel(),
                               (rows, keep.ravel())), shape=K.shape)
        else:
            K = sp.csr_matrix(K)
        return K.T.tocsr() if by_column else K
