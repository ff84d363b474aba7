"""The ragged container for local descriptors (SIFT keypoints, MFCC frames).

One contiguous float32 matrix plus CSR offsets: rows
``values[offsets[i]:offsets[i + 1]]`` are the descriptors of sample ``i``. One
matrix means one GEMM for the whole batch, on CPU or GPU, and encoders that do
not care which modality produced the descriptors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class DescriptorSet:
    """Local descriptors of many samples, stored CSR-style.

    Parameters
    ----------
    values : array-like of shape (n_total, n_features)
        All descriptors, concatenated sample after sample (stored as float32).
    offsets : array-like of shape (n_samples + 1,)
        Start of each sample's rows; ``offsets[0] == 0`` and
        ``offsets[-1] == n_total``.
    positions : array-like of shape (n_total, 2), default=None
        ``(x, y)`` of each descriptor (pixels for images, ``(time, 0)`` for
        frames), for spatial pooling.
    extents : array-like of shape (n_samples, 2), default=None
        ``(width, height)`` of the frame each sample's positions live in.
    missing : array-like of bool of shape (n_samples,), default=None
        True where the modality was absent (None/NaN cell) or unreadable,
        as opposed to present but without descriptors.

    Attributes
    ----------
    n_samples : int
    n_features : int
    lengths : ndarray of shape (n_samples,)
        Number of descriptors of each sample.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.descriptors import DescriptorSet
    >>> ds = DescriptorSet.from_arrays([np.ones((2, 3)), np.zeros((0, 3)), np.ones((1, 3))])
    >>> len(ds), ds.n_features, ds.lengths.tolist()
    (3, 3, [2, 0, 1])
    >>> ds[2].shape
    (1, 3)
    """

    def __init__(self, values, offsets, positions=None, extents=None, missing=None):
        values = np.ascontiguousarray(values, dtype=np.float32)
        offsets = np.asarray(offsets, dtype=np.int64)
        if values.ndim != 2:
            raise ValueError(f"values must be 2-D (n_total, n_features), got shape {values.shape}")
        if offsets.ndim != 1 or offsets.size < 1:
            raise ValueError("offsets must be 1-D with n_samples + 1 entries")
        if offsets[0] != 0 or offsets[-1] != values.shape[0] or np.any(np.diff(offsets) < 0):
            raise ValueError(
                "offsets must start at 0, be non-decreasing and end at len(values) "
                f"({values.shape[0]}); got first={offsets[0]}, last={offsets[-1]}"
            )
        n_samples = offsets.size - 1
        if positions is not None:
            positions = np.ascontiguousarray(positions, dtype=np.float32)
            if positions.shape != (values.shape[0], 2):
                raise ValueError(
                    f"positions must have shape ({values.shape[0]}, 2), got {positions.shape}"
                )
        if extents is not None:
            extents = np.asarray(extents, dtype=np.float32)
            if extents.shape != (n_samples, 2):
                raise ValueError(f"extents must have shape ({n_samples}, 2), got {extents.shape}")
        if missing is None:
            missing = np.zeros(n_samples, dtype=bool)
        missing = np.asarray(missing, dtype=bool)
        if missing.shape != (n_samples,):
            raise ValueError(f"missing must have shape ({n_samples},), got {missing.shape}")
        self.values = values
        self.offsets = offsets
        self.positions = positions
        self.extents = extents
        self.missing = missing

    # -- construction -------------------------------------------------------
    @classmethod
    def from_arrays(cls, arrays: Sequence, positions=None, extents=None, missing=None,
                    n_features=None):
        """Build from one ``(n_i, n_features)`` array per sample.

        ``None`` entries count as missing samples with zero descriptors.
        """
        arrays = list(arrays)
        if n_features is None:
            widths = {np.asarray(a).shape[1] for a in arrays
                      if a is not None and np.asarray(a).ndim == 2}
            if len(widths) > 1:
                raise ValueError(f"descriptor arrays have different widths: {sorted(widths)}")
            n_features = widths.pop() if widths else 0
        flags = np.zeros(len(arrays), dtype=bool) if missing is None else np.asarray(missing)
        blocks = []
        for i, a in enumerate(arrays):
            if a is None:
                flags[i] = True
                a = np.zeros((0, n_features), dtype=np.float32)
            a = np.asarray(a, dtype=np.float32)
            if a.ndim != 2 or a.shape[1] != n_features:
                raise ValueError(
                    f"sample {i}: descriptors must have shape (n, {n_features}), got {a.shape}"
                )
            blocks.append(a)
        lengths = np.array([b.shape[0] for b in blocks], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        values = (np.concatenate(blocks, axis=0) if blocks
                  else np.zeros((0, n_features), dtype=np.float32))
        if positions is not None:
            positions = [np.zeros((0, 2), np.float32) if p is None else p for p in positions]
            positions = (np.concatenate([np.asarray(p, np.float32).reshape(-1, 2)
                                         for p in positions])
                         if positions else np.zeros((0, 2), np.float32))
        return cls(values, offsets, positions=positions, extents=extents, missing=flags)

    # -- shape --------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return self.offsets.size - 1

    @property
    def n_features(self) -> int:
        return self.values.shape[1]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return self.n_samples

    @property
    def shape(self):
        """``(n_samples, n_features)``: lets sklearn count samples."""
        return (self.n_samples, self.n_features)

    def __repr__(self) -> str:
        return (f"DescriptorSet(n_samples={self.n_samples}, n_total={self.values.shape[0]}, "
                f"n_features={self.n_features}, missing={int(self.missing.sum())})")

    # -- access -------------------------------------------------------------
    def __getitem__(self, index):
        """An int gives that sample's descriptors; a slice, mask or index array
        gives a new DescriptorSet with those samples (so CV splitters work)."""
        if isinstance(index, (int, np.integer)):
            i = int(index)
            if i < 0:
                i += self.n_samples
            if not 0 <= i < self.n_samples:
                raise IndexError(f"sample {index} out of range for {self.n_samples} samples")
            return self.values[self.offsets[i]:self.offsets[i + 1]]
        return self.take(np.arange(self.n_samples)[index])

    def __iter__(self):
        for i in range(self.n_samples):
            yield self[i]

    def take(self, indices) -> DescriptorSet:
        """A new DescriptorSet holding the given samples in the given order."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        starts, stops = self.offsets[indices], self.offsets[indices + 1]
        lengths = stops - starts
        rows = (np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
                if indices.size else np.zeros(0, np.int64)).astype(np.int64)
        return DescriptorSet(
            self.values[rows],
            np.concatenate([[0], np.cumsum(lengths)]),
            positions=None if self.positions is None else self.positions[rows],
            extents=None if self.extents is None else self.extents[indices],
            missing=self.missing[indices],
        )

    def sample_ids(self) -> np.ndarray:
        """Sample index of every descriptor row."""
        return np.repeat(np.arange(self.n_samples, dtype=np.int64), self.lengths)

    def with_values(self, values) -> DescriptorSet:
        """Same layout (offsets, positions, extents, missing), new descriptor values."""
        return DescriptorSet(values, self.offsets, self.positions, self.extents, self.missing)

    def __eq__(self, other):
        if not isinstance(other, DescriptorSet):
            return NotImplemented
        same = lambda a, b: (a is None and b is None) or (  # noqa: E731
            a is not None and b is not None and np.array_equal(a, b))
        return (same(self.values, other.values) and same(self.offsets, other.offsets)
                and same(self.positions, other.positions) and same(self.extents, other.extents)
                and same(self.missing, other.missing))

    __hash__ = None


def as_descriptor_set(X, *, name="X") -> DescriptorSet:
    """Accept a DescriptorSet or a sequence of per-sample 2-D arrays."""
    if isinstance(X, DescriptorSet):
        return X
    if isinstance(X, np.ndarray) and X.dtype != object:
        raise TypeError(
            f"{name} must be a DescriptorSet or a list of (n_i, n_features) arrays, got a "
            f"numeric array of shape {X.shape}; use an extractor such as "
            "mmfuse.image.SIFTExtractor to produce descriptor sets"
        )
    if isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.dtype == object):
        return DescriptorSet.from_arrays(list(X))
    raise TypeError(
        f"{name} must be a DescriptorSet or a list of (n_i, n_features) arrays, "
        f"got {type(X).__name__}"
    )
