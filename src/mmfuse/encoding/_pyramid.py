"""Spatial pyramid pooling of any descriptor encoder over a grid of regions."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from mmfuse._config import get_config
from mmfuse.backend import get_namespace
from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding._base import (
    drop_flat,
    flat_mask,
    normalize_rows,
    sample_ranges,
    slice_samples,
    validate_descriptors,
)
from mmfuse.utils._memory import check_output_size

#: ``levels="auto"``: narrow codes (bags of words) get three levels, wide ones two.
_AUTO_NARROW, _AUTO_WIDE, _AUTO_MAX_NARROW_WIDTH = (1, 2, 4), (1, 2), 2048


class SpatialPyramid(TransformerMixin, BaseEstimator):
    """Pool an encoder over a spatial pyramid of regions (Lazebnik et al. 2006).

    At level ``L`` the frame of each sample is cut into an ``L x L`` grid;
    the descriptors falling in each cell (by their ``positions``) are encoded
    separately with the fitted ``encoder`` and the cell codes are
    concatenated, coarse levels first, cells row by row (top row first).
    With ``levels=(1, 2, 4)`` the code is ``1 + 4 + 16 = 21`` times the
    encoder's length. The encoder is fitted once, on all descriptors; each
    cell is encoded (and normalised) as a sample of its own, so an empty
    cell gives zeros.

    The frame of a sample is ``(0, 0)``–``extents[i]`` (the image size, as
    :class:`~mmfuse.image.SIFTExtractor` records it); without extents it is
    the bounding box of that sample's descriptor positions.

    Parameters
    ----------
    encoder : estimator, default=None
        Any descriptor-set encoder (:class:`BagOfWords`, :class:`VLAD`,
        :class:`FisherVector`); None means ``BagOfWords()``. It is cloned.
    levels : sequence of int or "auto", default="auto"
        Grid sizes. ``"auto"``: ``(1, 2, 4)`` (21 cells) for encoders whose
        code has at most 2,048 values (bags of words), ``(1, 2)`` (5 cells)
        for wider ones (VLAD, Fisher vectors: a 21-cell pyramid of a
        16,384-value Fisher vector is 344,064 values per image, 1.4 GB per
        1,000 images). ``levels_`` holds the grid sizes used.
    level_weights : sequence of float or None, default=None
        Multiplies the block of each level (e.g. ``(0.25, 0.25, 0.5)`` for
        the pyramid match kernel); None weighs all levels 1.
    norm : {"l2"} or None, default="l2"
        Normalisation of the concatenated code.

    Attributes
    ----------
    encoder_ : estimator
        The fitted clone of ``encoder``.
    levels_ : tuple of int
        The grid sizes used (``levels`` with "auto" resolved).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.descriptors import DescriptorSet
    >>> from mmfuse.encoding import BagOfWords, SpatialPyramid
    >>> rng = np.random.default_rng(0)
    >>> values = rng.normal(size=(60, 5)).astype(np.float32)
    >>> positions = rng.uniform(0, 32, size=(60, 2))
    >>> ds = DescriptorSet(values, [0, 40, 60], positions=positions, extents=[[32, 32]] * 2)
    >>> spm = SpatialPyramid(BagOfWords(n_words=4, random_state=0), levels=(1, 2)).fit(ds)
    >>> spm.transform(ds).shape
    (2, 20)
    >>> spm.get_feature_names_out()[[0, 4]].tolist()
    ['l1c0_bagofwords0', 'l2c0_bagofwords0']
    """

    _parameter_constraints = {
        "encoder": [HasMethods(["fit", "transform"]), None],
        "levels": ["array-like", StrOptions({"auto"})],
        "level_weights": ["array-like", None],
        "norm": [StrOptions({"l2"}), None],
    }

    def __init__(self, encoder=None, *, levels="auto", level_weights=None, norm="l2"):
        self.encoder = encoder
        self.levels = levels
        self.level_weights = level_weights
        self.norm = norm

    def _check_levels(self):
        levels = self.levels
        if isinstance(levels, str) and levels == "auto":
            levels = getattr(self, "levels_", None)
            if levels is None:  # before fit: the encoder's width is not known yet
                levels = _AUTO_NARROW
        levels = list(levels) if isinstance(levels, Sequence | np.ndarray) else None
        if not levels or not all(isinstance(v, Integral) and v >= 1 for v in levels):
            raise ValueError(f"levels must be a non-empty sequence of ints >= 1, got "
                             f"{self.levels!r}")
        weights = [1.0] * len(levels) if self.level_weights is None else list(self.level_weights)
        if len(weights) != len(levels):
            raise ValueError(f"level_weights has {len(weights)} entries for {len(levels)} levels")
        return [int(v) for v in levels], [float(w) for w in weights]

    def _validate(self, X, *, reset):
        ds = validate_descriptors(self, X, reset=reset)
        if ds.positions is None:
            raise ValueError(
                "SpatialPyramid needs descriptor positions: pass a DescriptorSet with "
                "positions (as mmfuse.image.SIFTExtractor produces), not plain arrays"
            )
        return ds

    def fit(self, X, y=None):
        """Fit the encoder on the descriptors of all samples.

        Parameters
        ----------
        X : DescriptorSet with positions
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        self._check_levels()
        ds = self._validate(X, reset=True)
        if self.encoder is None:
            from mmfuse.encoding._bow import BagOfWords

            encoder = BagOfWords()
        else:
            encoder = clone(self.encoder)
        self.encoder_ = encoder.fit(ds, y)
        if isinstance(self.levels, str):  # "auto": from the width of the encoder's code
            wide = self._encoder_width() > _AUTO_MAX_NARROW_WIDTH
            self.levels_ = _AUTO_WIDE if wide else _AUTO_NARROW
        else:
            self.levels_ = tuple(int(v) for v in self.levels)
        self._check_levels()
        return self

    @staticmethod
    def _frames(ds: DescriptorSet):
        """``(origin, size)`` per sample, each of shape (n_samples, 2)."""
        n = ds.n_samples
        if ds.extents is not None:
            return np.zeros((n, 2), np.float32), ds.extents.astype(np.float32)
        lo = np.zeros((n, 2), np.float32)
        hi = np.ones((n, 2), np.float32)
        nonempty = np.flatnonzero(ds.lengths > 0)
        if nonempty.size:
            starts = ds.offsets[nonempty]
            lo[nonempty] = np.minimum.reduceat(ds.positions, starts, axis=0)
            hi[nonempty] = np.maximum.reduceat(ds.positions, starts, axis=0)
        return lo, hi - lo

    def _cell_keys(self, ds: DescriptorSet, level: int) -> np.ndarray:
        """Per descriptor: ``sample * level^2 + cell``, cells row-major."""
        origin, size = self._frames(ds)
        seg = ds.sample_ids()
        # in place on one (n, 2) float32 copy of the positions
        cell_xy = ds.positions.astype(np.float32)
        cell_xy -= origin[seg]
        cell_xy /= np.where(size > 0, size, 1).astype(np.float32)[seg]
        cell_xy *= np.float32(level)
        np.floor(cell_xy, out=cell_xy)
        np.clip(cell_xy, 0, level - 1, out=cell_xy)
        cell = cell_xy.astype(np.int64)
        return seg * (level * level) + cell[:, 1] * level + cell[:, 0]

    def _cells(self, ds: DescriptorSet, level: int) -> DescriptorSet:
        """One sub-sample per (sample, cell), samples major, cells row-major."""
        order, offsets = _cell_layout(self._cell_keys(ds, level), ds.n_samples * level * level)
        return DescriptorSet(
            ds.values[order], offsets, positions=ds.positions[order],
            missing=np.repeat(ds.missing, level * level),
        )

    #: A chunk of samples holds at most this many descriptors ...
    _CHUNK_DESCRIPTORS = 1 << 17
    #: ... and at most this many bytes of output rows.
    _CHUNK_OUTPUT_BYTES = 64 << 20

    def _chunks(self, ds: DescriptorSet, row_bytes: int):
        """Contiguous sample ranges bounded by descriptors and by output bytes."""
        return sample_ranges(ds.offsets, self._CHUNK_DESCRIPTORS,
                             self._CHUNK_OUTPUT_BYTES // max(row_bytes, 1))

    @property
    def n_features_out_(self) -> int:
        """Width of the pyramid code: cells of all levels times the encoder's width."""
        check_is_fitted(self, "encoder_")
        levels, _ = self._check_levels()
        return sum(v * v for v in levels) * self._encoder_width()

    def _encoder_width(self) -> int:
        """Width of the encoder's code: mmfuse encoders know it; others name their features."""
        width = getattr(self.encoder_, "n_features_out_", None)
        return int(width) if width is not None else len(self.encoder_.get_feature_names_out())

    def transform(self, X):
        """Encode every cell of every level and concatenate.

        Samples are encoded in chunks (at most ``_CHUNK_DESCRIPTORS = 131,072``
        descriptors and ``_CHUNK_OUTPUT_BYTES = 64 MiB`` of output rows): all
        levels of a chunk are encoded, weighted and normalised, and written
        once into one preallocated float32 output. With mmfuse's encoders the
        per-descriptor work (assignments, Fisher posteriors) is done once per
        chunk; when every level divides the finest one by a power of two (the
        default ``(1, 2)`` and ``(1, 2, 4)``), the statistics (counts,
        residual sums, Fisher moments) are aggregated once, over the finest
        cells, and a coarser cell's are the sum of its sub-cells', so a
        pyramid costs about one encoding plus the normalisations.

        Parameters
        ----------
        X : DescriptorSet with positions

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features_out)
            float32.

        Notes
        -----
        Peak extra memory: the output plus one chunk's working set: the
        chunk's descriptors re-ordered by cell (at most 131,072 rows), the
        encoder's codes of its cells (at most the chunk's 64 MiB of output)
        and the encoder's own batch working set. An output larger than
        ``max_output_memory`` of the available memory is refused before
        allocation (:func:`mmfuse.set_config`).
        """
        check_is_fitted(self, "encoder_")
        levels, weights = self._check_levels()
        ds = self._validate(X, reset=False)
        n_out = self.n_features_out_
        check_output_size(ds.n_samples, n_out, owner="SpatialPyramid",
                          shrink=f"fewer levels (levels={tuple(levels)} gives "
                                 f"{sum(v * v for v in levels)} cells) or a smaller encoder "
                                 f"({getattr(self.encoder_, '_SHRINK_OUTPUT', 'its parameters')})")
        on_device = get_config()["array_output"] == "device"
        xp = get_namespace()[0] if on_device else np
        codes = xp.empty((ds.n_samples, n_out), dtype=xp.float32)
        # an encoder that can split off its per-descriptor work (assignments,
        # Fisher posteriors) does it once per chunk, for every level
        shared = hasattr(self.encoder_, "_per_descriptor")
        # an encoder whose statistics add up over cells (counts, residual sums,
        # Fisher moments) aggregates the finest level once, straight from the
        # descriptors ordered by cell; a coarser level whose cells are unions of
        # finer ones (a power-of-two ratio, so that the cell boundaries agree
        # exactly) sums their statistics instead of aggregating again
        finest = max(levels)
        summed = (shared and hasattr(self.encoder_, "_descriptor_statistics")
                  and all(_power_of_two(finest // v) and finest % v == 0 for v in levels))
        for start, stop in self._chunks(ds, n_out * 4):
            chunk = slice_samples(ds, start, stop)
            rows = codes[start:stop]
            column = 0
            if shared:
                flat = flat_mask(chunk.values, self.encoder_.min_norm)
                keep = ~flat
            if summed:
                stats, lengths = self._finest_statistics(chunk, keep, finest)
            elif shared:
                projected, per_row = self.encoder_._per_descriptor(
                    drop_flat(chunk, self.encoder_.min_norm, flat))
            for i, (level, weight) in enumerate(zip(levels, weights, strict=True)):
                if summed and level == finest and i == len(levels) - 1:
                    block = self.encoder_._finish(stats, lengths)  # last use: in place
                elif summed:
                    block = self.encoder_._finish(
                        *_coarsen((stats, lengths), stop - start, finest, finest // level))
                elif shared:
                    block = self._shared_level(chunk, keep, projected, per_row, level)
                else:
                    cells = chunk if level == 1 else self._cells(chunk, level)
                    block = self.encoder_.transform(cells)
                block = block.reshape(stop - start, -1)
                target = rows[:, column:column + block.shape[1]]
                target[...] = block
                if weight != 1.0:
                    target *= weight
                column += block.shape[1]
                del block
            normalize_rows(rows, self.norm, xp)
        return codes

    def _finest_statistics(self, chunk, keep, level):
        """The encoder's additive statistics of every cell of ``level`` and the
        descriptors per cell: :meth:`_descriptor_statistics` over the chunk's
        non-flat descriptors taken in cell order."""
        order, offsets = _cell_layout(self._cell_keys(chunk, level)[keep],
                                      chunk.n_samples * level * level)
        stats = self.encoder_._descriptor_statistics(chunk.values, offsets,
                                                     np.flatnonzero(keep)[order])
        xp = np if isinstance(stats[0], np.ndarray) else get_namespace()[0]
        return stats, xp.diff(xp.asarray(offsets))

    def _shared_level(self, chunk, keep, projected, per_row, level):
        """One level's codes from the chunk's shared per-descriptor work."""
        return self.encoder_._encode(*self._shared_cells(chunk, keep, projected, per_row, level))

    def _shared_cells(self, chunk, keep, projected, per_row, level):
        """``(cells, per-row arrays)`` of one level from the chunk's shared work:
        cells are taken from the whole chunk (as :meth:`_cells` does), then its
        flat rows dropped, and the per-row arrays re-ordered with the descriptors."""
        if level == 1:
            return projected, per_row
        order, offsets = _cell_layout(self._cell_keys(chunk, level)[keep],
                                      chunk.n_samples * level * level)
        cells = DescriptorSet(projected.values[order], offsets,
                              missing=np.repeat(chunk.missing, level * level))
        taken = tuple(None if a is None else a[self._rows_index(a, order)] for a in per_row)
        return cells, taken

    @staticmethod
    def _rows_index(array, order):
        return order if isinstance(array, np.ndarray) else get_namespace()[0].asarray(order)

    def get_feature_names_out(self, input_features=None):
        """Names ``l{level}c{cell}_{encoder feature name}``.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "encoder_")
        levels, _ = self._check_levels()
        inner = self.encoder_.get_feature_names_out()
        return np.asarray([f"l{level}c{cell}_{name}" for level in levels
                           for cell in range(level * level) for name in inner], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


def _power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def _coarsen(arrays, n_samples: int, level: int, factor: int):
    """Per-cell arrays of a ``level x level`` grid (rows ``sample * level^2 + cell``,
    cells row-major) summed over ``factor x factor`` blocks of cells: the same
    arrays for the ``level // factor`` grid. Nested tuples are kept."""
    if isinstance(arrays, tuple):
        return tuple(_coarsen(a, n_samples, level, factor) for a in arrays)
    if factor == 1:
        return arrays.copy()  # the encoder's _finish works in place
    coarse = level // factor
    rest = arrays.shape[1:]
    blocks = arrays.reshape(n_samples, coarse, factor, coarse, factor, *rest)
    return blocks.sum(axis=(2, 4)).reshape(n_samples * coarse * coarse, *rest)


def _cell_layout(keys: np.ndarray, n_cells: int):
    """``(order, offsets)``: descriptors sorted by cell key (stable), and the CSR
    offsets of the ``n_cells`` cells in that order."""
    order = np.argsort(keys, kind="stable")
    return order, np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=n_cells))])
