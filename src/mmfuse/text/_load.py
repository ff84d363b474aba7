"""Read text files in any encoding: byte-order marks, UTF-8, then detection."""

from __future__ import annotations

import codecs
import warnings

from mmfuse.exceptions import MediaError
from mmfuse.io import describe_source, read_text
from mmfuse.io._source import _BYTES_TYPES, read_file_bytes

# Longest first: the UTF-32 little-endian mark starts with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def detect_encoding(data) -> str | None:
    """Guess the encoding of `data`: byte-order mark, else UTF-8, else charset detection.

    A byte-order mark decides (``utf-8-sig``, ``utf-16``, ``utf-32``). Data
    that decodes as UTF-8 is UTF-8 (plain ASCII included). Anything else is
    given to :func:`charset_normalizer.from_bytes`, which picks the encoding
    whose decoding looks most like natural language; short texts in
    single-byte encodings can be mistaken for a neighbour (cp1250 for
    cp1252), so pass the encoding when you know it.

    Parameters
    ----------
    data : bytes, bytearray or memoryview

    Returns
    -------
    encoding : str or None
        A codec name, or None when nothing plausible was found (binary data).

    Examples
    --------
    >>> from mmfuse.text import detect_encoding
    >>> detect_encoding("naïve café".encode("utf-8"))
    'utf-8'
    >>> detect_encoding("我们喜欢在北京的公园里散步，天气很好的时候尤其如此。".encode("gb18030"))
    'gb18030'
    """
    data = bytes(data)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return None if best is None else best.encoding


def read_text_file(source, *, encoding="auto", errors="strict", return_encoding=False):
    """Read a text file (or its bytes) in any encoding.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray or memoryview
        Path of the file (a ``str`` here is a path), or its content.
    encoding : "auto", str or sequence of str, default="auto"
        ``"auto"``: :func:`detect_encoding`. A codec name: that encoding. A
        sequence: the first encoding that decodes the data without error
        (e.g. ``("utf-8", "cp1252")``, a deterministic alternative to
        detection).
    errors : str, default="strict"
        Codec error handler for the chosen encoding (``"replace"`` keeps
        going past undecodable bytes).
    return_encoding : bool, default=False
        Also return the encoding used.

    Returns
    -------
    text : str
        Decoded text; a byte-order mark is dropped.
    encoding : str
        Only with `return_encoding`.

    Raises
    ------
    MediaError
        Missing or unreadable file; no encoding found (binary data, or none
        of the given encodings fits); data that does not decode with the
        given encoding. The message names the source.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from mmfuse.text import read_text_file
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> _ = path.write_bytes("Привет, мир! Это текст на русском языке.".encode("utf-16"))
    >>> read_text_file(path, return_encoding=True)
    ('Привет, мир! Это текст на русском языке.', 'utf-16')
    >>> read_text_file("Grüße aus Köln".encode("cp1252"), encoding=("utf-8", "cp1252"))
    'Grüße aus Köln'
    """
    where = describe_source(source)
    if isinstance(source, _BYTES_TYPES):
        data = bytes(source)
    else:
        data = read_file_bytes(source, kind="text")
    if isinstance(encoding, str) and encoding != "auto":
        candidates = [encoding]
    elif isinstance(encoding, str):
        detected = detect_encoding(data)
        if detected is None:
            raise MediaError(
                "cannot detect the text encoding (binary data, or too little text to tell); "
                "pass encoding=",
                source=where,
            )
        candidates = [detected]
    else:
        candidates = list(encoding)
        if not candidates or not all(isinstance(e, str) for e in candidates):
            raise ValueError(f"encoding must be 'auto', a codec name or a sequence of codec "
                             f"names, got {encoding!r}")
    for position, candidate in enumerate(candidates):
        if candidate.replace("_", "-").lower() in ("utf-8", "utf8") and data.startswith(
                codecs.BOM_UTF8):
            candidate = "utf-8-sig"
        try:
            text = read_text(data, encoding=candidate, errors=errors)
        except MediaError as exc:
            if position + 1 < len(candidates):
                continue
            tried = ", ".join(candidates)
            raise MediaError(f"{exc.reason} (tried: {tried})", source=where) from None
        return (text, candidate) if return_encoding else text
    raise AssertionError("unreachable")  # pragma: no cover


def load_text_files(paths, *, encoding="auto", errors="strict", on_error="raise"):
    """Read many text files, each in its own encoding, as a column of texts.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        The files.
    encoding, errors
        As in :func:`read_text_file`, for every file.
    on_error : {"raise", "missing"}, default="raise"
        An unreadable file raises :class:`~mmfuse.exceptions.MediaError`
        naming the modality and the sample index, or becomes a missing text
        (None), with one warning listing them.

    Returns
    -------
    texts : list of str or None
        In the order of `paths`; ready for :class:`~mmfuse.text.TextVectorizer`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from mmfuse.text import load_text_files
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_bytes("北京欢迎你，我们喜欢在公园里散步。".encode("gb18030"))
    >>> _ = (folder / "b.txt").write_text("plain ascii", encoding="ascii")
    >>> load_text_files([folder / "a.txt", folder / "b.txt", folder / "gone.txt"],
    ...                 on_error="missing")
    ['北京欢迎你，我们喜欢在公园里散步。', 'plain ascii', None]
    """
    if on_error not in ("raise", "missing"):
        raise ValueError(f"on_error must be 'raise' or 'missing', got {on_error!r}")
    texts, failed = [], []
    for index, path in enumerate(paths):
        try:
            texts.append(read_text_file(path, encoding=encoding, errors=errors))
        except MediaError as exc:
            if on_error == "raise":
                raise exc.at(modality="text", sample=index) from None
            failed.append(exc.at(modality="text", sample=index))
            texts.append(None)
    if failed:
        listed = ", ".join(str(e.sample) for e in failed[:20])
        warnings.warn(
            f"load_text_files: {len(failed)} unreadable file(s) loaded as missing texts, "
            f"samples [{listed}{', ...' if len(failed) > 20 else ''}]; first error: {failed[0]}",
            UserWarning, stacklevel=2)
    return texts
