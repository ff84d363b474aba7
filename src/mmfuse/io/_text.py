"""Read one text cell (str, bytes or path) into a str."""

from __future__ import annotations

import codecs
import os

from mmfuse.exceptions import MediaError
from mmfuse.io._source import _BYTES_TYPES, describe_source, read_file_bytes


def read_text(source, *, encoding="utf-8", errors="strict"):
    """Return the text of a cell.

    A ``str`` is the text itself and is returned unchanged, even when it
    happens to name an existing file: in a table, text cells are text. To
    read a file, pass a :class:`pathlib.Path`. Bytes and file contents are
    decoded with ``encoding``.

    Parameters
    ----------
    source : str, bytes, bytearray, memoryview or os.PathLike
        The text, its encoded bytes, or the path of a text file.
    encoding : str, default="utf-8"
        Codec for bytes and files (any name :mod:`codecs` knows). A UTF-8
        byte-order mark, if present, is kept as ``"\\ufeff"``; use
        ``encoding="utf-8-sig"`` to drop it.
    errors : str, default="strict"
        Codec error handler: ``"strict"`` raises on undecodable bytes,
        ``"replace"`` substitutes U+FFFD, ``"ignore"`` drops them.

    Returns
    -------
    text : str

    Raises
    ------
    MediaError
        Missing or unreadable file, bytes that do not decode with
        ``encoding`` (the message names the encoding and the position), or a
        source of another type (None included: missing cells are the
        caller's business, see :func:`mmfuse.utils.is_missing_cell`).
    ValueError
        Unknown ``encoding`` or ``errors`` handler.

    Examples
    --------
    >>> from mmfuse.io import read_text
    >>> read_text("a red circle")
    'a red circle'
    >>> read_text("café".encode("latin-1"), encoding="latin-1")
    'café'
    >>> read_text(b"caf\\xe9")
    Traceback (most recent call last):
    ...
    mmfuse.exceptions.MediaError: input ('<bytes of length 4>'): cannot decode as utf-8: ...
    """
    try:
        codecs.lookup(encoding)
        codecs.lookup_error(errors)
    except (LookupError, TypeError):
        raise ValueError(
            f"unknown encoding {encoding!r} or error handler {errors!r}"
        ) from None
    if isinstance(source, str):
        return str(source)
    where = describe_source(source)
    if isinstance(source, os.PathLike):
        data = read_file_bytes(source, kind="text")
    elif isinstance(source, _BYTES_TYPES):
        data = bytes(source)
    else:
        raise MediaError(
            f"cannot read text from a {type(source).__name__}; expected str, bytes or a "
            "pathlib.Path",
            source=where,
        )
    try:
        return data.decode(encoding, errors)
    except UnicodeDecodeError as exc:
        raise MediaError(
            f"cannot decode as {encoding}: byte 0x{exc.object[exc.start]:02x} at position "
            f"{exc.start} ({exc.reason}); pass the right encoding= or errors='replace'",
            source=where,
        ) from None
