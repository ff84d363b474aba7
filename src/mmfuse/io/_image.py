"""Read one image cell (path, encoded bytes or array) into a uint8 array."""

from __future__ import annotations

import io
import os
import warnings
from numbers import Integral

import cv2
import numpy as np
from PIL import Image

from mmfuse.exceptions import MediaError
from mmfuse.io._source import _BYTES_TYPES, describe_source, read_file_bytes

#: Default cap on ``width * height`` of an encoded image (64 megapixels).
DEFAULT_MAX_PIXELS = 64_000_000


def read_image(source, *, color=False, max_side=None, max_pixels=DEFAULT_MAX_PIXELS):
    """Read an image from a path, encoded bytes or an array.

    Every source goes through the same conversion: encoded data is decoded
    by OpenCV to BGR, then arrays and decoded images alike are turned into
    gray with :func:`cv2.cvtColor`, so a path, its bytes and the array
    ``cv2.imread`` gives all yield the same pixels. (OpenCV's own
    ``IMREAD_GRAYSCALE`` lets libpng / libjpeg do the conversion, which
    differs from ``cvtColor`` by up to 1 gray level for PNG and about 12 for
    JPEG.)

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or ndarray
        A path to an image file; the encoded content of an image file (PNG,
        JPEG, ... anything :func:`cv2.imdecode` reads); or a decoded image:
        a 2-D gray array, or a 3-D array with 1, 3 or 4 channels in OpenCV
        order (BGR / BGRA; alpha is dropped, not composited). Array dtypes:
        ``uint8`` as is; ``uint16`` keeps its high byte (``x >> 8``, what
        OpenCV does when it reads a 16-bit file as 8-bit); floating point
        arrays must lie in ``[0, 1]`` and become ``round(255 * x)``. Other
        dtypes are refused.
    color : bool, default=False
        False: return gray ``(H, W)``. True: return ``(H, W, 3)`` BGR.
    max_side : int, default=None
        If set, shrink the image (:data:`cv2.INTER_AREA`, aspect ratio
        kept) so that its longer side is at most ``max_side`` pixels.
        Smaller images are never enlarged.
    max_pixels : int or None, default=64_000_000
        Refuse encoded images with more than ``max_pixels`` pixels
        (``width * height``) as likely decompression bombs. The size is
        read from the file header with Pillow, before anything is decoded;
        for formats Pillow does not know, the check runs after OpenCV has
        decoded the image. None disables the check (OpenCV keeps its own
        limit of 2**30 pixels). Arrays are already in memory and are not
        checked.

    Returns
    -------
    image : ndarray of uint8, shape (H, W) or (H, W, 3)
        A new array (never a view of ``source``).

    Raises
    ------
    MediaError
        Missing or unreadable file, empty or undecodable data, an image over
        ``max_pixels``, an array of unsupported shape, dtype or range, or a
        source of another type. The message names the source.

    Examples
    --------
    >>> import cv2
    >>> import numpy as np
    >>> from mmfuse.io import read_image
    >>> bgr = np.zeros((40, 60, 3), np.uint8)
    >>> bgr[:, :, 2] = 255  # pure red
    >>> png = cv2.imencode(".png", bgr)[1].tobytes()
    >>> read_image(png).shape
    (40, 60)
    >>> read_image(png, color=True)[0, 0].tolist()
    [0, 0, 255]
    >>> read_image(png, max_side=30).shape
    (20, 30)
    >>> read_image(np.full((2, 2), 0.5)).tolist()
    [[128, 128], [128, 128]]
    >>> read_image(b"")
    Traceback (most recent call last):
    ...
    mmfuse.exceptions.MediaError: input ('<bytes of length 0>'): empty image data (0 bytes)
    """
    if max_side is not None and (not isinstance(max_side, Integral) or max_side < 1):
        raise ValueError(f"max_side must be a positive int or None, got {max_side!r}")
    if max_pixels is not None and (not isinstance(max_pixels, Integral) or max_pixels < 1):
        raise ValueError(f"max_pixels must be a positive int or None, got {max_pixels!r}")

    if isinstance(source, np.ndarray):
        image = _from_array(source, color=bool(color))
    elif isinstance(source, (str, os.PathLike)):
        if isinstance(source, str) and not source:
            raise MediaError("empty path", source=describe_source(source))
        data = read_file_bytes(source, kind="image")
        image = _decode(data, color=bool(color), max_pixels=max_pixels,
                        where=describe_source(source))
    elif isinstance(source, _BYTES_TYPES):
        image = _decode(source, color=bool(color), max_pixels=max_pixels,
                        where=describe_source(source))
    else:
        raise MediaError(
            f"cannot read an image from a {type(source).__name__}; expected a path, the "
            "encoded bytes of an image file, or a uint8 array",
            source=describe_source(source),
        )
    if max_side is not None:
        image = _shrink(image, max_side)
    return image


# -- encoded data -------------------------------------------------------------
def _as_byte_buffer(data) -> np.ndarray:
    if isinstance(data, memoryview):
        data = data.cast("B") if data.contiguous else data.tobytes()
    return np.frombuffer(data, dtype=np.uint8)


def _header_size(data, max_pixels):
    """``((width, height), format)`` from the file header, or None if Pillow cannot tell.

    ``Image.open`` only parses the header; pixels are decoded on first access,
    which never happens here.
    """
    try:
        with warnings.catch_warnings():
            # We apply our own limit; Pillow's warning threshold is not ours.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return im.size, im.format
    except Image.DecompressionBombError:
        # Pillow refuses headers above 2 * Image.MAX_IMAGE_PIXELS.
        pillow_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        if max_pixels is not None and max_pixels <= pillow_limit:
            raise MediaError(
                f"image header claims more than {pillow_limit:,} pixels, above "
                f"max_pixels={max_pixels:,} (refused before decoding as a possible "
                "decompression bomb)"
            ) from None
        return None
    except Exception:  # not a format Pillow knows, or a damaged header
        return None


def _decode(data, *, color: bool, max_pixels, where: str) -> np.ndarray:
    buffer = _as_byte_buffer(data)
    if buffer.size == 0:
        raise MediaError("empty image data (0 bytes)", source=where)
    try:
        header = _header_size(data if isinstance(data, bytes) else buffer, max_pixels)
    except MediaError as exc:
        raise MediaError(exc.reason, source=where) from None
    file_format = None
    if header is not None:
        (width, height), file_format = header
        if max_pixels is not None and width * height > max_pixels:
            raise MediaError(
                f"image of {width}x{height} = {width * height:,} pixels exceeds "
                f"max_pixels={max_pixels:,} (refused before decoding as a possible "
                "decompression bomb; raise max_pixels to read it)",
                source=where,
            )
    try:
        bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise MediaError(f"OpenCV failed to decode the image: {exc.err}", source=where) from None
    if bgr is None:
        what = (f"{file_format} data per its header, but corrupt or unsupported by OpenCV"
                if file_format else "unknown format or corrupt data")
        raise MediaError(f"cannot decode the image ({what})", source=where)
    if header is None and max_pixels is not None:
        height, width = bgr.shape[:2]
        if width * height > max_pixels:
            raise MediaError(
                f"image of {width}x{height} = {width * height:,} pixels exceeds "
                f"max_pixels={max_pixels:,}",
                source=where,
            )
    return bgr if color else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


# -- arrays -------------------------------------------------------------------
def _to_uint8(array: np.ndarray, where: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        values = array.astype(np.float32, copy=False)
        if not np.all(np.isfinite(values)):
            raise MediaError("float image array contains NaN or infinity", source=where)
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > 1.0:
            raise MediaError(
                f"float image values must lie in [0, 1], got range [{low:g}, {high:g}]; "
                "scale them to [0, 1] or convert to uint8",
                source=where,
            )
        return np.rint(values * 255.0).astype(np.uint8)
    raise MediaError(
        f"unsupported image dtype {array.dtype}; pass uint8, uint16, or float in [0, 1] "
        "(e.g. convert with array.astype(np.uint8))",
        source=where,
    )


def _from_array(array: np.ndarray, *, color: bool) -> np.ndarray:
    where = describe_source(array)
    if array.size == 0:
        raise MediaError("empty image array", source=where)
    image = array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise MediaError(
            f"an image array must be 2-D (gray) or 3-D with 1, 3 or 4 channels (BGR, BGRA), "
            f"got shape {array.shape}",
            source=where,
        )
    image = np.ascontiguousarray(_to_uint8(image, where))
    channels = 1 if image.ndim == 2 else image.shape[2]
    conversion = {
        (1, True): cv2.COLOR_GRAY2BGR,
        (3, False): cv2.COLOR_BGR2GRAY,
        (4, False): cv2.COLOR_BGRA2GRAY,
        (4, True): cv2.COLOR_BGRA2BGR,
    }.get((channels, color))
    if conversion is not None:
        image = cv2.cvtColor(image, conversion)
    if np.may_share_memory(image, array):
        image = image.copy()
    return image


# -- size ---------------------------------------------------------------------
def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    height, width = image.shape[:2]
    longer = max(height, width)
    if longer <= max_side:
        return image
    scale = max_side / longer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
