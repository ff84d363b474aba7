"""SIFTExtractor against direct OpenCV calls, plus the missing/error policy and parallelism."""

import pickle
import warnings

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import mmfuse
from mmfuse.descriptors import DescriptorSet
from mmfuse.exceptions import MediaError
from mmfuse.image import SIFTExtractor


def _scene(seed, shape=(96, 128)):
    """Gray image with blobs and corners: plenty of DoG keypoints."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (0, 0), 1.5)
    h, w = shape
    cv2.circle(image, (w // 3, h // 2), 6 + seed % 5, 255, -1)
    cv2.rectangle(image, (w // 2, h // 4), (w // 2 + 20, h // 4 + 15), 20, -1)
    cv2.circle(image, (3 * w // 4, 3 * h // 4), 9, 0, 3)
    return image


@pytest.fixture
def gray_files(tmp_path):
    paths = []
    for seed in range(3):
        path = tmp_path / f"scene_{seed}.png"
        cv2.imwrite(str(path), _scene(seed))
        paths.append(path)
    return paths


def _assert_set_equal(a: DescriptorSet, b: DescriptorSet):
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.extents, b.extents)
    np.testing.assert_array_equal(a.missing, b.missing)


def _dense_grid(width, height, patch, step):
    """The documented grid, written out by hand."""
    half = patch // 2
    return [cv2.KeyPoint(float(x), float(y), patch / 6, 0)
            for y in range(half, height - half + 1, step)
            for x in range(half, width - half + 1, step)]


# -- against OpenCV ----------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {},
    {"n_features": 40, "contrast_threshold": 0.02, "edge_threshold": 5, "sigma": 1.2},
])
def test_sparse_equals_opencv_detect_and_compute(gray_files, params):
    ds = SIFTExtractor(mode="sparse", **params).fit_transform(gray_files)
    opencv = cv2.SIFT_create(
        nfeatures=params.get("n_features", 0),
        contrastThreshold=params.get("contrast_threshold", 0.04),
        edgeThreshold=params.get("edge_threshold", 10), sigma=params.get("sigma", 1.6))
    assert ds.n_samples == 3 and ds.n_features == 128
    for i, path in enumerate(gray_files):
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        keypoints, expected = opencv.detectAndCompute(gray, None)
        assert len(keypoints) > 10
        np.testing.assert_array_equal(ds[i], expected)
        rows = slice(ds.offsets[i], ds.offsets[i + 1])
        np.testing.assert_array_equal(ds.positions[rows], [kp.pt for kp in keypoints])
        np.testing.assert_array_equal(ds.extents[i], [gray.shape[1], gray.shape[0]])
    assert ds.values.dtype == np.float32 and ds.positions.dtype == np.float32
    assert not ds.missing.any()


def test_sparse_color_file_is_described_in_cvtcolor_gray(tmp_path):
    color = cv2.merge([_scene(0), _scene(1), _scene(2)])
    path = tmp_path / "color.png"
    cv2.imwrite(str(path), color)
    ds = SIFTExtractor(mode="sparse").fit_transform([path])
    gray = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)
    _, expected = cv2.SIFT_create().detectAndCompute(gray, None)
    np.testing.assert_array_equal(ds.values, expected)


@pytest.mark.parametrize("patch, step", [(16, 8), (24, 5), (12, 12)])
def test_dense_equals_opencv_compute_on_hand_built_grid(gray_files, patch, step):
    ds = SIFTExtractor(mode="dense", patch_size=patch, step=step).fit_transform(gray_files)
    opencv = cv2.SIFT_create()
    for i, path in enumerate(gray_files):
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        grid = _dense_grid(gray.shape[1], gray.shape[0], patch, step)
        keypoints, expected = opencv.compute(gray, grid)
        assert len(keypoints) == len(grid)
        np.testing.assert_array_equal(ds[i], expected)
        rows = slice(ds.offsets[i], ds.offsets[i + 1])
        np.testing.assert_array_equal(ds.positions[rows], [kp.pt for kp in grid])


def test_dense_multiscale_concatenates_the_grids(gray_files):
    sizes = (16, 24)
    multi = SIFTExtractor(patch_size=sizes, step=8).fit_transform(gray_files)
    singles = [SIFTExtractor(patch_size=s, step=8).fit_transform(gray_files) for s in sizes]
    for i in range(len(gray_files)):
        np.testing.assert_array_equal(multi[i], np.concatenate([s[i] for s in singles]))


def test_dense_grid_counts():
    sift = SIFTExtractor(patch_size=16, step=8).fit([])
    images = [np.zeros((40, 40), np.uint8), np.zeros((16, 16), np.uint8),
              np.zeros((15, 40), np.uint8), np.zeros((40, 15), np.uint8)]
    ds = sift.transform(images)
    # 40 px: centres 8, 16, 24, 32 (32 + 8 = 40 still fits); smaller than the patch: none.
    assert ds.lengths.tolist() == [16, 1, 0, 0]
    assert not ds.missing.any()
    np.testing.assert_array_equal(ds.positions[:4], [[8, 8], [16, 8], [24, 8], [32, 8]])


@pytest.mark.parametrize("mode", ["sparse", "dense"])
def test_rootsift_is_sqrt_of_l1_normalised_sift(gray_files, mode):
    plain = SIFTExtractor(mode=mode).fit_transform(gray_files)
    root = SIFTExtractor(mode=mode, rootsift=True).fit_transform(gray_files)
    expected = np.sqrt(plain.values / plain.values.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(root.values, expected, rtol=1e-6)
    np.testing.assert_allclose((root.values ** 2).sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(root.offsets, plain.offsets)
    assert root.values.dtype == np.float32


def test_rootsift_of_a_flat_patch_is_zero_not_nan():
    ds = SIFTExtractor(rootsift=True).fit_transform([np.full((32, 32), 90, np.uint8)])
    assert ds.lengths[0] > 0
    assert np.all(ds.values == 0)


# -- the patch_size convention, measured -------------------------------------------------------
@pytest.mark.parametrize("patch", [16, 24])
def test_descriptor_support_matches_documented_window(patch):
    """KeyPoint.size = patch / 6 makes the 4 bins span ``patch`` pixels.

    With (almost) no smoothing (sigma=0.5 is the assumed input blur), pixels
    inside the window change the centre descriptor, and so do pixels up to
    half a bin beyond it: gradients are sampled less than 5 * patch / 8 from
    the centre (bilinear tails) and a central difference reaches one pixel
    farther. Nothing beyond 5 * patch / 8 changes it. (OpenCV rounds the
    descriptor to integers, so the faint tails are probed a line at a time.)
    """
    size = 3 * patch
    centre = size // 2
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (size, size), dtype=np.uint8)
    sift = SIFTExtractor(patch_size=patch, step=patch, sigma=0.5).fit([])
    grid = sift.transform([base]).positions.tolist()
    index = grid.index([centre, centre])
    reference = sift.transform([base])[0][index]
    reach = 5 * patch // 8
    yy, xx = np.mgrid[:size, :size] - centre

    def changes(region):
        image = base.copy()
        image[region] ^= 0xFF
        return not np.array_equal(sift.transform([image])[0][index], reference)

    for offset in (patch // 2 - 1, patch // 2):  # single pixels just inside the window
        for dx, dy in ((offset, 0), (-offset, 0), (0, offset), (0, -offset)):
            assert changes((yy == dy) & (xx == dx)), (dx, dy)
    for sign in (1, -1):  # the last line of the tails
        assert changes((xx == sign * reach) & (np.abs(yy) < reach))
        assert changes((yy == sign * reach) & (np.abs(xx) < reach))
    assert not changes(np.maximum(np.abs(xx), np.abs(yy)) > reach)


# -- missing, empty and unreadable ----------------------------------------------------------------
def test_blank_image_has_no_descriptors_but_is_not_missing():
    ds = SIFTExtractor(mode="sparse").fit_transform([np.full((64, 80), 128, np.uint8)])
    assert ds.lengths.tolist() == [0] and ds.missing.tolist() == [False]
    assert ds.extents.tolist() == [[80, 64]]


@pytest.mark.parametrize("absent", [None, np.nan, pd.NA])
def test_missing_cells(absent):
    image = _scene(0)
    ds = SIFTExtractor().fit_transform(pd.Series([image, absent, image], dtype=object))
    assert ds.missing.tolist() == [False, True, False]
    assert ds.lengths[1] == 0 and ds.lengths[0] == ds.lengths[2] > 0
    assert ds.extents[1].tolist() == [0, 0]


def test_column_containers_agree(gray_files):
    sift = SIFTExtractor(step=16).fit([])
    expected = sift.transform(gray_files)
    frame = pd.DataFrame({"image": gray_files})
    for X in (frame, frame["image"], np.array(gray_files, dtype=object),
              np.array(gray_files, dtype=object)[:, None], tuple(gray_files)):
        _assert_set_equal(sift.transform(X), expected)


def test_corrupt_file_raises_naming_modality_sample_and_source(tmp_path, gray_files):
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG but not really")
    with pytest.raises(MediaError) as info:
        SIFTExtractor().fit_transform([gray_files[0], bad, gray_files[1]])
    message = str(info.value)
    assert "image" in message and "sample 1" in message and "corrupt.png" in message
    assert info.value.modality == "image" and info.value.sample == 1


def test_first_bad_sample_in_column_order_is_reported(tmp_path, gray_files):
    cells = [gray_files[0], 17, tmp_path / "missing.png", b"junk"]
    with pytest.raises(MediaError, match="sample 1"):
        SIFTExtractor(batch_size=1, n_jobs=2).fit_transform(cells)


def test_on_error_empty_warns_once_and_marks_missing(tmp_path, gray_files):
    cells = [gray_files[0], tmp_path / "missing.png", None, b"junk", gray_files[1]]
    sift = SIFTExtractor(on_error="empty")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = sift.fit_transform(cells)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert "2 unreadable" in messages[0] and "[1, 3]" in messages[0]
    assert "missing.png" in messages[0]
    assert ds.missing.tolist() == [False, True, True, True, False]
    good = SIFTExtractor().fit_transform([gray_files[0], gray_files[1]])
    np.testing.assert_array_equal(ds[0], good[0])
    np.testing.assert_array_equal(ds[4], good[1])


@pytest.mark.parametrize("bad", [42, "image.png", np.zeros((4, 4)), pd.DataFrame({"a": [1],
                                                                                "b": [2]})])
def test_wrong_input_type_is_a_clear_error(bad):
    with pytest.raises((TypeError, ValueError), match="image"):
        SIFTExtractor().fit_transform(bad)
    sift = SIFTExtractor().fit([_scene(0)])
    with pytest.raises((TypeError, ValueError), match="image"):
        sift.transform(bad)


@pytest.mark.parametrize("params", [{"mode": "grid"}, {"patch_size": 3}, {"patch_size": (16, 2)},
                                    {"patch_size": ()}, {"step": 0}, {"on_error": "skip"},
                                    {"sigma": 0}])
def test_invalid_parameters(params):
    with pytest.raises(ValueError):
        SIFTExtractor(**params).fit([_scene(0)])


def test_transform_before_fit():
    with pytest.raises(NotFittedError):
        SIFTExtractor().transform([_scene(0)])


# -- execution does not change results ----------------------------------------------------------
def test_n_jobs_and_batch_size_do_not_change_the_result(gray_files):
    cells = [gray_files[0], _scene(3), None, gray_files[1], b"junk", _scene(4), gray_files[2]]
    for mode in ("sparse", "dense"):
        serial = SIFTExtractor(mode=mode, n_jobs=1, on_error="empty")
        parallel = SIFTExtractor(mode=mode, n_jobs=2, batch_size=2, on_error="empty")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            _assert_set_equal(parallel.fit_transform(cells), serial.fit_transform(cells))


def test_clone_params_and_pickle_round_trip(gray_files):
    sift = SIFTExtractor(mode="sparse", n_features=30, rootsift=True, max_side=64)
    assert clone(sift).get_params() == sift.get_params()
    fitted = sift.fit(gray_files)
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.n_features_out_ == 128
    _assert_set_equal(restored.transform(gray_files), fitted.transform(gray_files))
    _assert_set_equal(clone(fitted).fit_transform(gray_files), fitted.transform(gray_files))


def test_max_side_positions_live_in_the_shrunk_image(gray_files):
    ds = SIFTExtractor(max_side=64, step=8).fit_transform(gray_files)
    assert ds.extents.tolist() == [[64, 48]] * 3
    assert ds.positions[:, 0].max() <= 64 - 8 and ds.positions[:, 1].max() <= 48 - 8
    shrunk = cv2.resize(cv2.imread(str(gray_files[0]), cv2.IMREAD_GRAYSCALE), (64, 48),
                        interpolation=cv2.INTER_AREA)
    _, expected = cv2.SIFT_create().compute(shrunk, _dense_grid(64, 48, 16, 8))
    np.testing.assert_array_equal(ds[0], expected)


def test_progress_bar_follows_verbose(capsys):
    images = [_scene(0)]
    SIFTExtractor(verbose=0).fit_transform(images)
    assert "SIFTExtractor" not in capsys.readouterr().err
    SIFTExtractor(verbose=1).fit_transform(images)
    assert "SIFTExtractor" in capsys.readouterr().err
    with mmfuse.config_context(verbose=1):
        SIFTExtractor().fit_transform(images)
    assert "SIFTExtractor" in capsys.readouterr().err


def test_empty_column():
    ds = SIFTExtractor().fit_transform([])
    assert ds.n_samples == 0 and ds.values.shape == (0, 128)
