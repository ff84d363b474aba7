"""SIFT descriptors of a column of images: sparse (DoG keypoints), dense (grid), RootSIFT."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import NamedTuple

import cv2
import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from mmfuse._config import resolve_verbose
from mmfuse.descriptors import DescriptorSet
from mmfuse.exceptions import MediaError
from mmfuse.io import read_image
from mmfuse.utils import as_column, is_missing_cell

#: Length of a SIFT descriptor: 4 x 4 spatial bins x 8 orientation bins.
SIFT_LENGTH = 128

#: OpenCV's SIFT window is 4 histogram bins of width 3 * (KeyPoint.size / 2)
#: (SIFT_DESCR_SCL_FCTR = 3 in calcSIFTDescriptor), i.e. 6 * KeyPoint.size.
_WINDOW_PER_KEYPOINT_SIZE = 6.0

_ROOTSIFT_EPS = 1e-12


class SIFTExtractor(TransformerMixin, BaseEstimator):
    """SIFT descriptors of each image in a column, as one :class:`DescriptorSet`.

    ``mode="sparse"`` detects Difference-of-Gaussians keypoints and describes
    them (Lowe 2004) with :func:`cv2.SIFT_create`; ``mode="dense"`` describes
    upright patches on a regular grid, like VLFeat's ``dsift`` / PHOW, which
    is what bag-of-visual-words classification usually wants.

    Images are read with :func:`mmfuse.io.read_image` and described in gray,
    or, with ``color="opponent"`` or ``"hsv"``, channel by channel
    (van de Sande et al. 2010): one 128-value SIFT per channel at the same
    keypoints, concatenated into 384 values.

    Parameters
    ----------
    mode : {"dense", "sparse"}, default="dense"
        Grid patches or detected keypoints.
    step : int, default=8
        Dense: distance in pixels between neighbouring grid centres.
    patch_size : int or tuple of int, default=16
        Dense: width in pixels of the descriptor's 4 x 4-bin window, VLFeat's
        convention ``patch_size = 4 * binSize``. Grid centres run from
        ``patch_size / 2`` in steps of ``step`` as long as the window fits in
        the image, so an image narrower or lower than ``patch_size`` has no
        dense descriptors. A tuple gives several grids (multi-scale, like
        PHOW), one per size, concatenated in the order given; within a grid
        descriptors are ordered row by row.

        OpenCV's ``KeyPoint.size`` is *not* this width: its calcSIFTDescriptor
        uses bins ``3 * size / 2`` wide, so the 4-bin window is ``6 * size``
        and the keypoints get ``size = patch_size / 6`` and angle 0 (upright).
        As in VLFeat, bilinear interpolation between bins lets pixels up to
        half a bin (``patch_size / 8``) beyond the window contribute with
        fading weight: measured on the smoothed image, a descriptor depends
        on the pixels within ``5 * patch_size / 8`` of its centre along x and
        y (a square, checked in the tests) and on no others; the smoothing
        to ``sigma`` widens that by a few pixels. Keypoint positions are
        rounded to whole pixels by OpenCV.
    n_features : int, default=0
        Sparse: keep the ``n_features`` strongest keypoints (0 keeps all).
        Passed to :func:`cv2.SIFT_create` as ``nfeatures``.
    contrast_threshold : float, default=0.04
        Sparse: DoG contrast threshold (``contrastThreshold``).
    edge_threshold : float, default=10
        Sparse: edge-response threshold (``edgeThreshold``).
    sigma : float, default=1.6
        Gaussian blur of the base scale, assuming the input already has
        blur 0.5 (OpenCV's ``sigma``). Also used in dense mode: OpenCV
        computes the descriptors on the image smoothed to ``sigma``.
    rootsift : bool, default=False
        Apply RootSIFT (Arandjelovic & Zisserman 2012): L1-normalise each
        descriptor, then take the element-wise square root, so Euclidean
        distance between descriptors becomes the Hellinger kernel. All-zero
        descriptors stay zero. With colour, each channel's 128 values are
        normalised on their own.
    color : {"gray", "opponent", "hsv"}, default="gray"
        ``"gray"``: one SIFT on the gray image. ``"opponent"``: OpponentSIFT,
        SIFT on each opponent channel ``O1 = (R - G) / sqrt(2)``,
        ``O2 = (R + G - 2B) / sqrt(6)``, ``O3 = (R + G + B) / sqrt(3)``, in
        that order; O1 and O2 carry colour and do not change when the same
        offset is added to R, G and B (a shift in light intensity). The
        channels are mapped affinely onto 0-255 for OpenCV, which SIFT does
        not notice (it is invariant to affine intensity changes) apart from
        rounding. ``"hsv"``: HSV-SIFT (Bosch et al. 2008), SIFT on the H, S
        and V channels of :func:`cv2.cvtColor` (``COLOR_BGR2HSV``: H in
        0-179). Sparse keypoints are detected on the gray image and
        described in every channel. Gray input images have constant O1/O2
        (and S) channels, whose descriptors are zeros.
    max_side : int, default=None
        Shrink images whose longer side exceeds this (see
        :func:`mmfuse.io.read_image`). Positions are then in the shrunk
        image, whose size is in ``extents``.
    n_jobs : int, default=None
        Parallel workers over batches of images (:class:`joblib.Parallel`;
        None means 1 unless in a :func:`joblib.parallel_config` context,
        -1 all cores). The output does not depend on it.
    batch_size : int, default=64
        Images per parallel task.
    verbose : int, default=None
        ``>= 1`` shows a progress bar over images. None uses
        ``mmfuse.get_config()["verbose"]``.
    on_error : {"raise", "empty"}, default="raise"
        An unreadable image (missing file, corrupt data, wrong type, over the
        pixel limit) raises :class:`mmfuse.exceptions.MediaError` naming the
        modality, the sample index and the source (``"raise"``), or is marked
        missing with no descriptors, with one warning giving the count and
        the sample indices (``"empty"``).

    Attributes
    ----------
    n_features_out_ : int
        Length of each descriptor: 128, or 384 with colour.

    Notes
    -----
    Missing cells (None, NaN, ``pd.NA``) give zero descriptors and
    ``missing=True``; an image that is present but has no keypoint (blank,
    or smaller than the patch in dense mode) gives zero descriptors and
    ``missing=False``. ``extents`` are ``(0, 0)`` for missing samples.

    References
    ----------
    D. G. Lowe, "Distinctive image features from scale-invariant keypoints",
    IJCV 2004. A. Vedaldi and B. Fulkerson, "VLFeat", 2008 (dense SIFT).
    R. Arandjelovic and A. Zisserman, "Three things everyone should know to
    improve object retrieval", CVPR 2012 (RootSIFT).

    Examples
    --------
    >>> import cv2
    >>> import numpy as np
    >>> from mmfuse.image import SIFTExtractor
    >>> image = np.zeros((64, 96), np.uint8)
    >>> _ = cv2.circle(image, (48, 32), 12, 255, -1)
    >>> sift = SIFTExtractor(mode="dense", step=16, patch_size=32)
    >>> ds = sift.fit_transform([image, None])
    >>> ds
    DescriptorSet(n_samples=2, n_total=15, n_features=128, missing=1)
    >>> ds.lengths.tolist(), ds.missing.tolist()
    ([15, 0], [False, True])
    >>> ds.positions[:3].tolist()
    [[16.0, 16.0], [32.0, 16.0], [48.0, 16.0]]
    >>> ds.extents.tolist()
    [[96.0, 64.0], [0.0, 0.0]]
    >>> sparse = SIFTExtractor(mode="sparse", rootsift=True).fit_transform([image])
    >>> bool(sparse.lengths[0] > 0), bool(np.allclose((sparse.values ** 2).sum(axis=1), 1))
    (True, True)
    """

    _parameter_constraints = {
        "mode": [StrOptions({"dense", "sparse"})],
        "step": [Interval(Integral, 1, None, closed="left")],
        "patch_size": [Interval(Integral, 4, None, closed="left"), tuple, list],
        "n_features": [Interval(Integral, 0, None, closed="left")],
        "contrast_threshold": [Interval(Real, 0, None, closed="left")],
        "edge_threshold": [Interval(Real, 0, None, closed="left")],
        "sigma": [Interval(Real, 0, None, closed="neither")],
        "rootsift": ["boolean"],
        "max_side": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose", None],
        "on_error": [StrOptions({"raise", "empty"})],
        "color": [StrOptions({"gray", "opponent", "hsv"})],
    }

    def __init__(self, mode="dense", *, step=8, patch_size=16, n_features=0,
                 contrast_threshold=0.04, edge_threshold=10, sigma=1.6, rootsift=False,
                 max_side=None, n_jobs=None, batch_size=64, verbose=None, on_error="raise",
                 color="gray"):
        self.mode = mode
        self.step = step
        self.patch_size = patch_size
        self.n_features = n_features
        self.contrast_threshold = contrast_threshold
        self.edge_threshold = edge_threshold
        self.sigma = sigma
        self.rootsift = rootsift
        self.max_side = max_side
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.verbose = verbose
        self.on_error = on_error
        self.color = color

    def _patch_sizes(self) -> tuple[int, ...]:
        sizes = (self.patch_size,) if isinstance(self.patch_size, Integral) else self.patch_size
        sizes = tuple(sizes)
        if not sizes or not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 4
                                for s in sizes):
            raise ValueError(
                f"patch_size must be an int >= 4 or a non-empty tuple of such ints, "
                f"got {self.patch_size!r}"
            )
        return tuple(int(s) for s in sizes)

    def fit(self, X, y=None):
        """Check the parameters and the input column; SIFT learns nothing.

        Parameters
        ----------
        X : list, pandas Series, one-column DataFrame or 1-D object array
            Image cells: paths, encoded bytes, arrays, or None/NaN.
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        self._patch_sizes()
        as_column(X, modality="image")
        self.n_features_out_ = SIFT_LENGTH * (1 if self.color == "gray" else 3)
        return self

    def transform(self, X):
        """Describe every image of the column.

        Parameters
        ----------
        X : list, pandas Series, one-column DataFrame or 1-D object array
            Image cells: paths, encoded bytes, arrays, or None/NaN.

        Returns
        -------
        descriptors : DescriptorSet
            ``values`` float32 ``(n_total, 128)`` (OpenCV's SIFT: whole
            numbers in ``[0, 255]`` with L2 norm about 512; RootSIFT: unit
            L2 norm); ``positions`` ``(x, y)`` of each keypoint in pixels;
            ``extents`` ``(width, height)`` of each image as described;
            ``missing`` True for missing cells and, with
            ``on_error="empty"``, unreadable ones.

        Raises
        ------
        MediaError
            With ``on_error="raise"``, for the first unreadable image in
            column order.
        """
        check_is_fitted(self, "n_features_out_")
        cells = as_column(X, modality="image")
        settings = _Settings(
            mode=self.mode, step=int(self.step), patch_sizes=self._patch_sizes(),
            n_features=int(self.n_features), contrast_threshold=float(self.contrast_threshold),
            edge_threshold=float(self.edge_threshold), sigma=float(self.sigma),
            rootsift=bool(self.rootsift), max_side=self.max_side, color=self.color,
        )
        indexed = list(enumerate(cells))
        batches = [indexed[i:i + self.batch_size]
                   for i in range(0, len(indexed), self.batch_size)]
        tasks = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(_describe_batch)(batch, settings) for batch in batches)

        results, failed = [], []
        try:
            with tqdm(total=len(cells), unit="image", desc=type(self).__name__,
                      disable=resolve_verbose(self.verbose) < 1) as progress:
                for batch_results in tasks:
                    for result in batch_results:
                        if result.error is not None:
                            if self.on_error == "raise":
                                raise result.error
                            failed.append(result.error)
                        results.append(result)
                    progress.update(len(batch_results))
        finally:
            # Raising early abandons the remaining tasks on purpose; joblib would
            # warn that finished ones went unused.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*input task iterator")
                tasks.close()
        if failed:
            _warn_unreadable(failed)
        return _assemble(results, self.n_features_out_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = []
        return tags


# -- the work of one joblib task (module level: picklable) ----------------------
class _Settings(NamedTuple):
    mode: str
    step: int
    patch_sizes: tuple
    n_features: int
    contrast_threshold: float
    edge_threshold: float
    sigma: float
    rootsift: bool
    max_side: int | None
    color: str = "gray"


class _ImageResult(NamedTuple):
    descriptors: np.ndarray  # (n, 128) float32
    positions: np.ndarray  # (n, 2) float32
    extent: tuple  # (width, height)
    missing: bool
    error: MediaError | None


def _empty_result(*, error=None, width=SIFT_LENGTH) -> _ImageResult:
    return _ImageResult(np.zeros((0, width), np.float32), np.zeros((0, 2), np.float32),
                        (0, 0), True, error)


def dense_keypoints(width: int, height: int, patch_sizes, step: int) -> list:
    """Upright keypoints on a grid whose ``patch_size`` windows fit in the image."""
    keypoints = []
    for patch in patch_sizes:
        half = patch / 2
        xs = np.arange(half, width - half + 1e-6, step)
        ys = np.arange(half, height - half + 1e-6, step)
        size = patch / _WINDOW_PER_KEYPOINT_SIZE
        keypoints.extend(cv2.KeyPoint(float(x), float(y), size, 0.0) for y in ys for x in xs)
    return keypoints


def rootsift(descriptors: np.ndarray) -> np.ndarray:
    """L1-normalise each row, then take the square root (RootSIFT)."""
    l1 = np.abs(descriptors).sum(axis=1, keepdims=True)
    return np.sqrt(descriptors / np.maximum(l1, _ROOTSIFT_EPS)).astype(np.float32, copy=False)


def color_channels(bgr: np.ndarray, color: str) -> list[np.ndarray]:
    """The uint8 channels SIFT describes for ``color`` ("opponent" or "hsv").

    Opponent channels are mapped affinely onto 0-255:
    ``(R - G + 255) / 2``, ``(R + G - 2B + 510) / 4`` and ``(R + G + B) / 3``,
    rounded (O1, O2, O3 up to scale and offset).
    """
    if color == "hsv":
        return list(cv2.split(cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)))
    b, g, r = (bgr[..., i].astype(np.float32) for i in range(3))
    channels = ((r - g + 255) / 2, (r + g - 2 * b + 510) / 4, (r + g + b) / 3)
    return [np.clip(np.rint(c), 0, 255).astype(np.uint8) for c in channels]


def _describe_batch(batch, settings: _Settings) -> list[_ImageResult]:
    # cv2.SIFT objects cannot be pickled: each task builds its own.
    sift = cv2.SIFT_create(nfeatures=settings.n_features,
                           contrastThreshold=settings.contrast_threshold,
                           edgeThreshold=settings.edge_threshold, sigma=settings.sigma)
    width = SIFT_LENGTH * (1 if settings.color == "gray" else 3)
    results = []
    for index, cell in batch:
        if is_missing_cell(cell):
            results.append(_empty_result(width=width))
            continue
        try:
            image = read_image(cell, color=settings.color != "gray", max_side=settings.max_side)
        except MediaError as exc:
            results.append(_empty_result(error=exc.at(modality="image", sample=index),
                                         width=width))
            continue
        if settings.color == "gray":
            results.append(_describe_image(image, sift, settings))
        else:
            results.append(_describe_color_image(image, sift, settings))
    return results


def _describe_image(gray: np.ndarray, sift, settings: _Settings) -> _ImageResult:
    height, width = gray.shape
    if settings.mode == "sparse":
        keypoints, descriptors = sift.detectAndCompute(gray, None)
    else:
        keypoints = dense_keypoints(width, height, settings.patch_sizes, settings.step)
        descriptors = None
        if keypoints:
            keypoints, descriptors = sift.compute(gray, keypoints)
    if descriptors is None or len(keypoints) == 0:
        descriptors = np.zeros((0, SIFT_LENGTH), np.float32)
        positions = np.zeros((0, 2), np.float32)
    else:
        descriptors = np.asarray(descriptors, dtype=np.float32)
        positions = cv2.KeyPoint.convert(keypoints).reshape(-1, 2).astype(np.float32)
    if settings.rootsift:
        descriptors = rootsift(descriptors)
    return _ImageResult(descriptors, positions, (width, height), False, None)


def _describe_color_image(bgr: np.ndarray, sift, settings: _Settings) -> _ImageResult:
    """Keypoints from the gray image, one SIFT per colour channel at each."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    height, width = gray.shape
    if settings.mode == "sparse":
        keypoints = list(sift.detect(gray, None))
    else:
        keypoints = dense_keypoints(width, height, settings.patch_sizes, settings.step)
    blocks, positions = [], np.zeros((0, 2), np.float32)
    for channel in color_channels(bgr, settings.color):
        described, descriptors = (sift.compute(channel, keypoints) if keypoints
                                  else ((), None))
        if descriptors is None or len(described) == 0:
            descriptors = np.zeros((0, SIFT_LENGTH), np.float32)
        elif blocks and len(described) != blocks[0].shape[0]:
            raise RuntimeError("OpenCV described a different number of keypoints per channel")
        else:
            positions = cv2.KeyPoint.convert(described).reshape(-1, 2).astype(np.float32)
        descriptors = np.asarray(descriptors, dtype=np.float32)
        blocks.append(rootsift(descriptors) if settings.rootsift else descriptors)
    return _ImageResult(np.concatenate(blocks, axis=1), positions, (width, height), False, None)


# -- reassembly in the parent -----------------------------------------------------
def _assemble(results: list[_ImageResult], width: int = SIFT_LENGTH) -> DescriptorSet:
    lengths = np.array([r.descriptors.shape[0] for r in results], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    if results:
        values = np.concatenate([r.descriptors for r in results])
        positions = np.concatenate([r.positions for r in results])
    else:
        values = np.zeros((0, width), np.float32)
        positions = np.zeros((0, 2), np.float32)
    extents = np.array([r.extent for r in results], dtype=np.float32).reshape(-1, 2)
    missing = np.array([r.missing for r in results], dtype=bool)
    return DescriptorSet(values, offsets, positions=positions, extents=extents, missing=missing)


def _warn_unreadable(errors: list[MediaError], shown: int = 20) -> None:
    samples = [e.sample for e in errors]
    listed = ", ".join(str(s) for s in samples[:shown])
    if len(samples) > shown:
        listed += f", ... ({len(samples) - shown} more)"
    warnings.warn(
        f"SIFTExtractor: {len(errors)} unreadable image(s) marked missing "
        f"(on_error='empty'), samples [{listed}]; first error: {errors[0]}",
        UserWarning,
        stacklevel=3,
    )
