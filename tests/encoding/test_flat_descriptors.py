"""Encoders on the hard cases of real photographs (issue 16, part 1).

Flat regions (sky, letterboxing, all-black or all-white frames) give all-zero
dense SIFT descriptors; tiny images give none; a point mass of identical
descriptors used to collapse the Fisher vector's Gaussian mixture.
"""

import warnings

import numpy as np
import pytest
from encoding_reference import random_sets
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding import VLAD, BagOfWords, DescriptorPCA, FisherVector, SpatialPyramid
from mmfuse.image import SIFTExtractor

ENCODERS = {"bow": BagOfWords, "vlad": VLAD, "fisher": FisherVector}


def _textured(rng, height, width):
    """A photo-like texture: smoothed noise plus a few bright blobs."""
    import cv2

    noise = rng.normal(128, 60, size=(height, width)).astype(np.float32)
    image = cv2.GaussianBlur(noise, (0, 0), 2.0)
    for _ in range(4):
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.circle(image, (cx, cy), int(rng.integers(3, 12)), float(rng.uniform(0, 255)), -1)
    return np.clip(image, 0, 255).astype(np.uint8)


def _hard_images(seed=0):
    """Letterboxed photos, photos with large flat areas, tiny, black, white, one-patch."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(6):  # letterboxed: two thirds of the frame black
        frame = np.zeros((144, 96), np.uint8)
        frame[48:96] = _textured(rng, 48, 96)
        images.append(frame)
    for _ in range(6):  # large flat area: a texture in one corner of a flat grey sky
        frame = np.full((96, 96), 170, np.uint8)
        frame[56:, 56:] = _textured(rng, 40, 40)
        images.append(frame)
    images.append(np.zeros((80, 80), np.uint8))  # all black
    images.append(np.full((80, 80), 255, np.uint8))  # all white
    images.append(_textured(rng, 6, 6))  # smaller than a 16-px patch
    images.append(_textured(rng, 16, 16))  # exactly one dense patch: one keypoint
    return images


@pytest.fixture(scope="module")
def hard_descriptors():
    return SIFTExtractor(rootsift=True).fit_transform(_hard_images())


def test_hard_images_have_flat_descriptors(hard_descriptors):
    ds = hard_descriptors
    flat = ~np.any(ds.values, axis=1)
    assert flat.mean() > 0.4  # the point mass that broke the mixture
    assert ds.lengths[-2] == 0 and ds.lengths[-1] == 1


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("n_words", [16, 128])
@pytest.mark.parametrize("pca", [True, False])
def test_encoders_fit_hard_images_with_defaults(hard_descriptors, name, n_words, pca):
    ds = DescriptorPCA(32, random_state=0).fit_transform(hard_descriptors) if pca \
        else hard_descriptors
    pyramid = SpatialPyramid(ENCODERS[name](n_words, random_state=0), levels=(1, 2))
    codes = pyramid.fit_transform(ds)
    assert codes.shape[0] == ds.n_samples and np.all(np.isfinite(codes))
    flat_count = int((np.einsum("ij,ij->i", ds.values, ds.values) < 1e-12).sum())
    assert pyramid.encoder_.n_flat_descriptors_ == flat_count > 0
    # all black, all white, tiny: no usable descriptor -> zeros; one patch still encodes
    assert not codes[-4:-1].any()
    assert np.linalg.norm(codes[-1]) == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.linalg.norm(codes[:-4], axis=1) > 0.99)


def _with_flat_rows(sets, seed=0):
    """The same sets with all-zero rows inserted at random places, and a flat-only sample."""
    rng = np.random.default_rng(seed)
    out = []
    for s in sets:
        rows = list(s)
        for _ in range(int(rng.integers(0, 30))):
            rows.insert(int(rng.integers(0, len(rows) + 1)), np.zeros(s.shape[1], np.float32))
        out.append(np.asarray(rows, np.float32).reshape(-1, s.shape[1]))
    out.append(np.zeros((12, sets[0].shape[1]), np.float32))
    return out


def test_bow_with_flat_rows_equals_brute_force_on_the_rest():
    sets = random_sets(n_features=8)
    dirty = _with_flat_rows(sets)
    bow = BagOfWords(n_words=5, codebook="kmeans", random_state=3).fit(dirty)
    assert bow.n_flat_descriptors_ == sum(int((~d.any(axis=1)).sum()) for d in dirty)
    # reference: k-means on the non-flat rows only, with the encoder's seed
    seed = int(np.random.RandomState(3).randint(np.iinfo(np.int32).max))
    km = KMeans(5, n_init=1, random_state=seed).fit(np.concatenate(sets))
    np.testing.assert_allclose(bow.cluster_centers_, km.cluster_centers_, rtol=1e-5, atol=1e-5)
    codes = bow.transform(dirty)
    for i, s in enumerate(sets):
        labels = km.predict(s) if len(s) else np.zeros(0, int)
        expected = np.bincount(labels, minlength=5) / max(len(s), 1)
        np.testing.assert_allclose(codes[i], expected, atol=1e-6)
    assert not codes[-1].any()  # only flat rows: encodes to zeros


@pytest.mark.parametrize("name", ["vlad", "fisher"])
def test_flat_rows_change_nothing(name):
    sets = random_sets(n_features=6, n_modes=4)
    clean = ENCODERS[name](n_words=4, random_state=1).fit(sets)
    dirty = ENCODERS[name](n_words=4, random_state=1).fit(_with_flat_rows(sets))
    np.testing.assert_allclose(dirty.cluster_centers_, clean.cluster_centers_, rtol=1e-6)
    codes = dirty.transform(_with_flat_rows(sets, seed=5))
    np.testing.assert_allclose(codes[:-1], clean.transform(sets), rtol=1e-5, atol=1e-6)
    assert not codes[-1].any()


def test_min_norm_zero_keeps_flat_rows():
    sets = random_sets(n_features=6, n_modes=4)
    dirty = _with_flat_rows(sets)
    bow = BagOfWords(n_words=4, codebook="kmeans", min_norm=0, random_state=0).fit(dirty)
    assert bow.n_flat_descriptors_ == 0
    assert bow.transform(dirty)[-1].sum() == pytest.approx(1.0)  # flat rows vote


def test_pca_is_fitted_without_flat_rows_and_keeps_them_flat():
    sets = random_sets(n_features=8)
    dirty = _with_flat_rows(sets)
    pca = DescriptorPCA(n_components=3, random_state=0).fit(dirty)
    reference = PCA(n_components=3, whiten=True).fit(np.concatenate(sets))
    np.testing.assert_allclose(np.abs(pca.pca_.components_), np.abs(reference.components_),
                               atol=1e-5)
    out = pca.transform(dirty)
    flat = ~np.concatenate(dirty).any(axis=1)
    assert pca.n_flat_descriptors_ == int(flat.sum())
    assert not out.values[flat].any()
    np.testing.assert_allclose(np.abs(out.values[~flat]),
                               np.abs(reference.transform(np.concatenate(sets))), atol=1e-4)


def test_fisher_survives_a_point_mass_that_breaks_sklearn_defaults():
    """60% identical non-zero descriptors (a flat region after PCA, say) in float32."""
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(4000, 32)).astype(np.float32)
    mass = np.tile((rng.normal(size=32) * 3).astype(np.float32), (6000, 1))
    values = np.vstack([spread, mass])[rng.permutation(10_000)]
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        GaussianMixture(16, covariance_type="diag", random_state=0).fit(values)
    ds = DescriptorSet(values, np.linspace(0, 10_000, 21).astype(int))
    for n_words in (16, 64):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # EM may stop at max_iter: not what is tested
            # every descriptor in the mixture's sample, so reg_covar_ is that of all of them
            fv = FisherVector(n_words, max_descriptors=100_000, random_state=0).fit(ds)
        assert fv.reg_covar_ == pytest.approx(1e-3 * values.astype(np.float64).var(0).mean())
        assert np.all(fv.variances_ >= 0.999 * fv.reg_covar_)
        codes = fv.transform(ds)
        assert np.all(np.isfinite(codes))
        np.testing.assert_allclose(np.linalg.norm(codes, axis=1), 1, atol=1e-5)


def test_only_flat_descriptors_is_a_clear_error():
    ds = SIFTExtractor().fit_transform([np.zeros((64, 64), np.uint8),
                                        np.full((64, 64), 255, np.uint8)])
    for name in ENCODERS:
        with pytest.raises(ValueError, match="flat descriptors"):
            ENCODERS[name](n_words=4).fit(ds)
    with pytest.raises(ValueError, match="flat descriptors"):
        DescriptorPCA(4).fit(ds)


@pytest.mark.realdata
@pytest.mark.slow
def test_default_pipelines_on_real_photos(data_dir):
    """Dense RootSIFT -> PCA 64 -> SPM(1, 2) of every encoder at K = 16 and 512, on
    MVSA Twitter photos (real, with flat areas and tiny images), defaults otherwise."""
    folder = data_dir / "mvsa_twitter" / "images"
    if not folder.is_dir():
        pytest.skip("mvsa_twitter absent")
    files = sorted(folder.glob("*.jpg"))[:15]
    ds = DescriptorPCA(64, random_state=0).fit_transform(
        SIFTExtractor(rootsift=True).fit_transform([str(f) for f in files]))
    for n_words in (16, 512):
        for name in sorted(ENCODERS):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # EM/k-means may stop at max_iter
                codes = SpatialPyramid(ENCODERS[name](n_words, random_state=0),
                                       levels=(1, 2)).fit_transform(ds)
            norms = np.linalg.norm(codes, axis=1)
            assert np.all(np.isfinite(codes)), (name, n_words)
            np.testing.assert_allclose(norms[ds.lengths > 0], 1, atol=1e-4)
