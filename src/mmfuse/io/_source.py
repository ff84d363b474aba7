"""What every reader shares: name a source for error messages, load a file's bytes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mmfuse.exceptions import MediaError

_BYTES_TYPES = (bytes, bytearray, memoryview)


def describe_source(source) -> str:
    """A short, printable description of a media cell for error messages.

    Paths are given as they are; in-memory data by type and size, never by
    content (a megabyte of bytes in an error message helps nobody).

    Examples
    --------
    >>> from mmfuse.io._source import describe_source
    >>> describe_source("photos/cat.jpg")
    'photos/cat.jpg'
    >>> describe_source(b"\\x89PNG")
    '<bytes of length 4>'
    >>> import numpy as np
    >>> describe_source(np.zeros((2, 3), np.uint8))
    '<ndarray of shape (2, 3), dtype uint8>'
    """
    if isinstance(source, str):
        return str(source)
    if isinstance(source, os.PathLike):
        return str(os.fspath(source))
    if isinstance(source, _BYTES_TYPES):
        return f"<{type(source).__name__} of length {memoryview(source).nbytes}>"
    if isinstance(source, np.ndarray):
        return f"<ndarray of shape {source.shape}, dtype {source.dtype}>"
    return f"<{type(source).__name__}>"


def read_file_bytes(path, *, kind: str) -> bytes:
    """The content of the file at ``path``; any OS failure becomes a MediaError."""
    where = describe_source(path)
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise MediaError(f"{kind} file not found", source=where) from None
    except IsADirectoryError:
        raise MediaError(f"expected a {kind} file, got a directory", source=where) from None
    except PermissionError:
        raise MediaError(f"permission denied reading the {kind} file", source=where) from None
    except OSError as exc:
        raise MediaError(f"cannot read the {kind} file: {exc.strerror or exc}",
                         source=where) from None
