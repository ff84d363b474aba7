"""Colour SIFT (opponent, HSV) and RootSIFT per channel, against direct OpenCV / NumPy."""

import cv2
import numpy as np
import pytest

from mmfuse.image import SIFTExtractor
from mmfuse.utils.estimator_checks import check_media_transformer


def _scene(seed=0, h=56, w=64):
    """Coloured shapes on a coloured, slightly noisy background (BGR uint8)."""
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = rng.integers(40, 90, size=3)
    img = np.clip(img + rng.normal(0, 4, size=img.shape), 0, 255).astype(np.uint8)
    cv2.circle(img, (20, 20), 10, tuple(int(v) for v in rng.integers(100, 255, 3)), -1)
    cv2.rectangle(img, (34, 28), (56, 48), tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
    return img


def _grid(w, h, patch, step):
    half = patch / 2
    return [cv2.KeyPoint(float(x), float(y), patch / 6, 0)
            for y in np.arange(half, h - half + 1e-6, step)
            for x in np.arange(half, w - half + 1e-6, step)]


def _opponent_by_hand(bgr):
    """O1, O2, O3 from their definition, then scaled onto 0..255."""
    r, g, b = (bgr[..., i].astype(np.float64) for i in (2, 1, 0))
    o1, o2, o3 = (r - g) / np.sqrt(2), (r + g - 2 * b) / np.sqrt(6), (r + g + b) / np.sqrt(3)
    scaled = (o1 * np.sqrt(2) + 255) / 2, (o2 * np.sqrt(6) + 510) / 4, o3 * np.sqrt(3) / 3
    return [np.clip(np.rint(c), 0, 255).astype(np.uint8) for c in scaled]


@pytest.mark.parametrize("color", ["opponent", "hsv"])
def test_dense_color_equals_opencv_per_channel(color):
    images = [_scene(0), _scene(1)]
    ds = SIFTExtractor(mode="dense", step=8, patch_size=16, color=color).fit_transform(images)
    opencv = cv2.SIFT_create()
    assert ds.n_features == 384
    for i, img in enumerate(images):
        channels = (_opponent_by_hand(img) if color == "opponent"
                    else cv2.split(cv2.cvtColor(img, cv2.COLOR_BGR2HSV)))
        keypoints = _grid(64, 56, 16, 8)
        expected = np.concatenate([opencv.compute(c, keypoints)[1] for c in channels], axis=1)
        np.testing.assert_array_equal(ds[i], expected)
    np.testing.assert_array_equal(ds.extents, [[64, 56], [64, 56]])


def test_sparse_color_uses_gray_keypoints_and_describes_each_channel():
    img = _scene(2)
    gray = SIFTExtractor(mode="sparse").fit_transform([img])
    color = SIFTExtractor(mode="sparse", color="opponent").fit_transform([img])
    np.testing.assert_array_equal(color.positions, gray.positions)
    # the third opponent channel is intensity: its block is close to gray SIFT
    assert color.values.shape == (gray.values.shape[0], 384)
    cos = np.sum(color.values[:, 256:] * gray.values, axis=1) / (
        np.linalg.norm(color.values[:, 256:], axis=1) * np.linalg.norm(gray.values, axis=1))
    assert np.median(cos) > 0.95


def test_opponent_colour_channels_ignore_an_intensity_offset():
    img = _scene(3)
    brighter = np.clip(img.astype(int) + 30, 0, 255).astype(np.uint8)
    assert brighter.max() < 255  # no clipping, so R, G and B all shift by 30
    sift = SIFTExtractor(mode="dense", step=8, patch_size=16, color="opponent")
    a, b = sift.fit_transform([img, brighter])
    np.testing.assert_array_equal(a[:, :256], b[:, :256])  # O1, O2 unchanged


def test_rootsift_is_applied_per_channel_and_gray_input_gives_zero_colour():
    img = _scene(4)
    raw = SIFTExtractor(step=8, patch_size=16, color="hsv").fit_transform([img]).values
    root = SIFTExtractor(step=8, patch_size=16, color="hsv", rootsift=True).fit_transform([img])
    for c in range(3):
        block = raw[:, c * 128:(c + 1) * 128].astype(np.float64)
        l1 = block.sum(axis=1, keepdims=True)
        expected = np.sqrt(block / np.where(l1 > 0, l1, 1))
        np.testing.assert_allclose(root.values[:, c * 128:(c + 1) * 128], expected, atol=1e-6)
    gray_img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    opp = SIFTExtractor(step=8, patch_size=16, color="opponent").fit_transform([gray_img])
    assert not opp.values[:, :256].any() and opp.values[:, 256:].any()


def test_color_conformance_and_bad_parameter():
    images = [_scene(i) for i in range(4)] + [None]
    sift = SIFTExtractor(step=12, patch_size=16, color="opponent", rootsift=True)
    check_media_transformer(sift, images, bad_inputs=[42])
    ds = sift.fit_transform(images)
    assert sift.n_features_out_ == 384 and ds.missing.tolist() == [False] * 4 + [True]
    assert ds.values.shape[1] == 384
    with pytest.raises(ValueError, match="color"):
        SIFTExtractor(color="rgb").fit(images)
