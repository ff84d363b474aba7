"""Peak memory of transform: the output plus a bounded chunk working set (issue 27).

Measured with tracemalloc, which sees every NumPy allocation: with small chunk
settings, the memory beyond the output must stay under a fixed bound and not
grow with the number of samples (the earlier transforms kept several
output-sized intermediates: per-level codes, concatenation, normalisation).
"""

import tracemalloc
import warnings

import numpy as np
import pytest

import mmfuse
from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding import VLAD, BagOfWords, DescriptorPCA, FisherVector, SpatialPyramid
from mmfuse.encoding._base import BaseCodebookEncoder
from mmfuse.utils import _memory

ENCODERS = {
    "bow": lambda: BagOfWords(64, random_state=0),
    "bow-soft": lambda: BagOfWords(64, assignment="soft", random_state=0),
    "vlad": lambda: VLAD(16, random_state=0),
    "fisher": lambda: FisherVector(16, max_iter=10, random_state=0),
}
BOUND = 8 << 20  # bytes beyond the output, with the chunk settings below


def _descriptors(n_images, per=300, d=32, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n_images * per, d)).astype(np.float32)
    positions = rng.uniform(0, 100, size=(n_images * per, 2)).astype(np.float32)
    return DescriptorSet(values, np.arange(n_images + 1) * per, positions=positions,
                         extents=[[100, 100]] * n_images)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(BaseCodebookEncoder, "_BATCH_DESCRIPTORS", 4096)
    monkeypatch.setattr(BaseCodebookEncoder, "_BATCH_OUTPUT_BYTES", 256 << 10)
    monkeypatch.setattr(SpatialPyramid, "_CHUNK_DESCRIPTORS", 8192)
    monkeypatch.setattr(SpatialPyramid, "_CHUNK_OUTPUT_BYTES", 1 << 20)
    with mmfuse.config_context(working_memory=4):
        yield


def _extra_bytes(model, ds):
    tracemalloc.start()
    try:
        codes = model.transform(ds)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - codes.nbytes, codes


@pytest.mark.parametrize("pyramid", [False, True])
@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_transform_peak_is_output_plus_bounded_chunk(small_chunks, name, pyramid):
    extras = []
    for n_images in (100, 400):
        ds = _descriptors(n_images)
        model = SpatialPyramid(ENCODERS[name]()) if pyramid else ENCODERS[name]()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # EM stopped at max_iter
            model.fit(ds)
        extra, codes = _extra_bytes(model, ds)
        assert codes.dtype == np.float32 and codes.shape == (n_images, model.n_features_out_)
        extras.append(extra)
    assert extras[1] <= BOUND, f"{extras[1] / 2**20:.1f} MiB beyond the output"
    assert extras[1] - extras[0] <= 512 << 10, "working set grows with the number of samples"
    if pyramid:  # the output is several MiB: the old transform needed 2-4x it on top
        assert codes.nbytes > 2 * BOUND or name.startswith("bow")


def test_pyramid_codes_unchanged_by_chunking(monkeypatch):
    ds = _descriptors(30)
    model = SpatialPyramid(VLAD(8, random_state=0), levels=(1, 2)).fit(ds)
    whole = model.transform(ds)
    monkeypatch.setattr(SpatialPyramid, "_CHUNK_OUTPUT_BYTES", 1)  # one sample per chunk
    np.testing.assert_allclose(model.transform(ds), whole, rtol=1e-6, atol=1e-7)


def test_pca_transform_chunks_match_sklearn(monkeypatch):
    from mmfuse.encoding import _pca

    ds = _descriptors(20)
    pca = DescriptorPCA(8, random_state=0).fit(ds)
    monkeypatch.setattr(_pca, "_TRANSFORM_CHUNK", 1000)
    np.testing.assert_allclose(pca.transform(ds).values,
                               pca.pca_.transform(ds.values), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pyramid", [False, True])
def test_oversize_output_is_refused_before_allocation(monkeypatch, pyramid):
    ds = _descriptors(50)
    model = SpatialPyramid(FisherVector(16, max_iter=5, random_state=0)) if pyramid \
        else FisherVector(16, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(ds)
    size = 50 * model.n_features_out_ * 4
    monkeypatch.setattr(_memory, "available_memory", lambda: size)  # needs 2x (0.5)
    with pytest.raises(MemoryError, match=r"50 samples x [\d,]+ features .*n_words") as info:
        model.transform(ds)
    if pyramid:
        assert "levels=(1, 2, 4)" in str(info.value)
    with mmfuse.config_context(on_large_output="warn"):
        with pytest.warns(ResourceWarning, match="max_output_memory"):
            assert model.transform(ds).shape == (50, model.n_features_out_)
    with mmfuse.config_context(max_output_memory=1.0):
        model.transform(ds)  # fits within all of the available memory
