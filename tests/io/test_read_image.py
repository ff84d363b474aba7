"""read_image / read_text: sources agree, limits hold before decoding, bad media is named."""

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmfuse.exceptions import MediaError
from mmfuse.io import read_image, read_text


@pytest.fixture
def bgr():
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (45, 70, 3), dtype=np.uint8), (0, 0), 2)
    cv2.circle(image, (30, 20), 9, (10, 200, 250), -1)
    return image


def _encode(image, ext=".png") -> bytes:
    ok, buffer = cv2.imencode(ext, image)
    assert ok
    return buffer.tobytes()


def _luma(bgr):
    """ITU-R BT.601 luma, computed here in float, independent of OpenCV."""
    b, g, r = (bgr[..., i].astype(np.float64) for i in range(3))
    return 0.299 * r + 0.587 * g + 0.114 * b


def _fake_png(width, height) -> bytes:
    """A PNG whose header claims width x height; its pixel data is a stub."""

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


# -- sources agree ---------------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".png", ".jpg"])
@pytest.mark.parametrize("color", [False, True])
def test_path_bytes_and_array_give_same_pixels(tmp_path, bgr, ext, color):
    data = _encode(bgr, ext)
    path = tmp_path / f"caf\u00e9_\u56fe{ext}"  # non-ASCII name
    path.write_bytes(data)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    outputs = [read_image(path, color=color), read_image(str(path), color=color),
               read_image(data, color=color), read_image(bytearray(data), color=color),
               read_image(memoryview(data), color=color), read_image(decoded, color=color)]
    expected_shape = decoded.shape if color else decoded.shape[:2]
    for out in outputs:
        assert out.dtype == np.uint8 and out.shape == expected_shape
        np.testing.assert_array_equal(out, outputs[0])
    if color:
        np.testing.assert_array_equal(outputs[0], decoded)
    else:
        assert np.abs(outputs[0] - _luma(decoded)).max() <= 1.0


def test_gray_file_read_in_color_repeats_the_channel(bgr):
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    data = _encode(gray)
    np.testing.assert_array_equal(read_image(data), gray)
    color = read_image(data, color=True)
    assert color.shape == (*gray.shape, 3)
    for channel in range(3):
        np.testing.assert_array_equal(color[..., channel], gray)


# -- arrays ------------------------------------------------------------------------------------
def test_array_channel_layouts(bgr):
    gray = read_image(bgr)
    np.testing.assert_array_equal(read_image(gray[:, :, None]), gray)
    bgra = np.dstack([bgr, np.full(bgr.shape[:2], 7, np.uint8)])
    np.testing.assert_array_equal(read_image(bgra, color=True), bgr)  # alpha dropped
    np.testing.assert_array_equal(read_image(bgra), gray)
    assert read_image(gray, color=True).shape == bgr.shape


def test_array_result_is_a_copy(bgr):
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    out = read_image(gray)
    out[:] = 0
    assert gray.any()


def test_float_array_rule():
    values = np.array([[0.0, 0.2, 0.5], [0.999, 1.0, 0.001]])
    expected = np.array([[0, 51, 128], [255, 255, 0]], np.uint8)  # round(255 * x)
    np.testing.assert_array_equal(read_image(values), expected)
    np.testing.assert_array_equal(read_image(values.astype(np.float32)), expected)


def test_uint16_array_matches_opencv_reading_a_16_bit_file():
    rng = np.random.default_rng(1)
    deep = rng.integers(0, 65536, (20, 30), dtype=np.uint16)
    from_file = read_image(_encode(deep))
    np.testing.assert_array_equal(read_image(deep), from_file)
    np.testing.assert_array_equal(from_file, (deep // 256).astype(np.uint8))


@pytest.mark.parametrize("array, words", [
    (np.full((4, 4), 1.5), "[0, 1]"),
    (np.full((4, 4), np.nan), "NaN"),
    (np.zeros((4, 4), np.int64), "int64"),
    (np.zeros((4, 4), bool), "bool"),
    (np.zeros((4, 4, 2), np.uint8), "channels"),
    (np.zeros((2, 2, 2, 2), np.uint8), "shape"),
    (np.zeros((0, 5), np.uint8), "empty"),
])
def test_bad_arrays(array, words):
    with pytest.raises(MediaError, match="ndarray") as info:
        read_image(array)
    assert words in str(info.value)


# -- max_side ------------------------------------------------------------------------------------
def test_max_side_downscales_with_area_interpolation():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (200, 300), dtype=np.uint8)
    out = read_image(image, max_side=100)
    assert out.shape == (67, 100)  # 200 * 100 / 300 = 66.7
    np.testing.assert_array_equal(out, cv2.resize(image, (100, 67), interpolation=cv2.INTER_AREA))
    assert read_image(image.T, max_side=100).shape == (100, 67)
    assert read_image(_encode(image), color=True, max_side=150).shape == (100, 150, 3)


def test_max_side_never_enlarges():
    image = np.zeros((20, 30), np.uint8)
    assert read_image(image, max_side=30).shape == (20, 30)
    assert read_image(image, max_side=1000).shape == (20, 30)


@pytest.mark.parametrize("kwargs", [{"max_side": 0}, {"max_side": 2.5}, {"max_pixels": 0}])
def test_invalid_limits(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        read_image(np.zeros((3, 3), np.uint8), **kwargs)


# -- decompression bombs -----------------------------------------------------------------------
@pytest.fixture
def no_decode(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("cv2.imdecode must not run for an over-limit image")

    monkeypatch.setattr(cv2, "imdecode", refuse)


@pytest.mark.parametrize("width, height", [(9_000, 9_000), (50_000, 50_000)])
def test_bomb_header_refused_before_decoding(no_decode, width, height):
    # 81 Mpx is above our 64 Mpx default but below Pillow's own refusal (2 * 89 Mpx);
    # 2.5 Gpx is above both.
    with pytest.raises(MediaError, match="max_pixels") as info:
        read_image(_fake_png(width, height))
    assert "before decoding" in str(info.value)


def test_real_large_png_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(_encode(np.zeros((3000, 3000), np.uint8)))
    assert read_image(path, max_pixels=10_000_000).shape == (3000, 3000)
    assert read_image(path, max_pixels=None).shape == (3000, 3000)

    def refuse(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(cv2, "imdecode", refuse)
    with pytest.raises(MediaError, match="3000x3000") as info:
        read_image(path, max_pixels=1_000_000)
    assert str(path) in str(info.value)


def test_format_unknown_to_pillow_is_checked_after_decoding():
    # Radiance HDR: OpenCV reads it, Pillow does not identify it.
    hdr = _encode(np.full((100, 120, 3), 0.5, np.float32), ".hdr")
    assert read_image(hdr).shape == (100, 120)
    with pytest.raises(MediaError, match="120x100"):
        read_image(hdr, max_pixels=5_000)


# -- bad sources ---------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(MediaError, match="not found") as info:
        read_image(path)
    assert str(path) in str(info.value)
    assert info.value.source == str(path)


def test_directory(tmp_path):
    with pytest.raises(MediaError, match="directory"):
        read_image(tmp_path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"this is not an image")
    with pytest.raises(MediaError, match="cannot decode") as info:
        read_image(path)
    assert "broken.jpg" in str(info.value)


def test_truncated_png_names_its_format(bgr):
    data = _encode(bgr)
    with pytest.raises(MediaError, match="PNG"):
        read_image(data[: len(data) // 2])


@pytest.mark.parametrize("source, shown", [(b"", "bytes of length 0"),
                                           (bytearray(), "bytearray of length 0"),
                                           ("", "''")])
def test_empty_sources(source, shown):
    with pytest.raises(MediaError, match="empty") as info:
        read_image(source)
    assert shown in str(info.value)


@pytest.mark.parametrize("source, name", [(42, "int"), (None, "NoneType"),
                                          ([1, 2], "list"), (3.5, "float")])
def test_wrong_type(source, name):
    with pytest.raises(MediaError, match=f"<{name}>") as info:
        read_image(source)
    assert f"from a {name}" in str(info.value)


# -- read_text -----------------------------------------------------------------------------------
def test_text_str_is_returned_as_is_even_if_it_names_a_file(tmp_path):
    path = tmp_path / "note.txt"
    path.write_text("file content", encoding="utf-8")
    assert read_text(str(path)) == str(path)
    assert read_text(path) == "file content"
    assert type(read_text(np.str_("x"))) is str


def test_text_bytes_and_encodings():
    text = "na\u00efve caf\u00e9 \u6f22\u5b57"
    data = text.encode("utf-8")
    assert read_text(data) == read_text(bytearray(data)) == read_text(memoryview(data)) == text
    assert read_text("caf\u00e9".encode("latin-1"), encoding="latin-1") == "caf\u00e9"
    assert read_text(b"caf\xe9", errors="replace") == "caf\ufffd"


def test_text_decode_failure_names_the_encoding(tmp_path):
    with pytest.raises(MediaError, match="utf-8") as info:
        read_text(b"caf\xe9")
    assert "position 3" in str(info.value) and "0xe9" in str(info.value)
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\u00e9".encode("latin-1"))
    with pytest.raises(MediaError, match="latin.txt"):
        read_text(path)
    assert read_text(path, encoding="latin-1") == "caf\u00e9"


def test_text_bad_sources(tmp_path):
    with pytest.raises(MediaError, match="not found"):
        read_text(Path(tmp_path / "missing.txt"))
    with pytest.raises(MediaError, match="from a int"):
        read_text(5)
    with pytest.raises(MediaError, match="NoneType"):
        read_text(None)
    with pytest.raises(ValueError, match="unknown encoding"):
        read_text(b"x", encoding="no-such-codec")
