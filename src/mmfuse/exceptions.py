"""Errors raised by mmfuse."""

from __future__ import annotations


class MediaError(ValueError):
    """A media cell (image, text, audio) could not be read or used.

    Attributes
    ----------
    modality : str or None
        Name of the modality (column) the cell belongs to.
    sample : int or None
        Row index of the cell.
    source : str or None
        Short description of the input (path or type).
    reason : str
        What went wrong.

    Examples
    --------
    >>> from mmfuse.exceptions import MediaError
    >>> str(MediaError("cannot decode", modality="image", sample=3, source="a.png"))
    "image sample 3 ('a.png'): cannot decode"
    """

    def __init__(self, reason, *, modality=None, sample=None, source=None):
        self.reason = reason
        self.modality = modality
        self.sample = sample
        self.source = source
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.modality is not None:
            where.append(str(self.modality))
        if self.sample is not None:
            where.append(f"sample {self.sample}")
        prefix = " ".join(where) if where else "input"
        if self.source is not None:
            prefix += f" ({self.source!r})"
        return f"{prefix}: {self.reason}"

    def at(self, *, modality=None, sample=None) -> MediaError:
        """A copy that also names the modality and sample."""
        return MediaError(
            self.reason,
            modality=self.modality if modality is None else modality,
            sample=self.sample if sample is None else sample,
            source=self.source,
        )

    def __reduce__(self):
        return (_rebuild_media_error, (self.reason, self.modality, self.sample, self.source))


def _rebuild_media_error(reason, modality, sample, source):
    return MediaError(reason, modality=modality, sample=sample, source=source)
