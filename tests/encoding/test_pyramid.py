import numpy as np
import pytest
from encoding_reference import l2, random_sets

from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding import VLAD, BagOfWords, FisherVector, SpatialPyramid
from mmfuse.utils.estimator_checks import check_media_transformer


def _with_positions(sets, size=40.0, seed=0):
    rng = np.random.default_rng(seed)
    positions = [rng.uniform(0, size, size=(len(s), 2)) for s in sets]
    return DescriptorSet.from_arrays(sets, positions=positions,
                                     extents=[[size, size]] * len(sets))


def _pyramid_reference(ds, encoder, levels, weights):
    """Cell by cell: select the descriptors whose position falls in the cell."""
    rows = []
    for i in range(ds.n_samples):
        x = ds[i]
        pos = ds.positions[ds.offsets[i]:ds.offsets[i + 1]]
        w, h = ds.extents[i]
        blocks = []
        for level, weight in zip(levels, weights, strict=True):
            for cy in range(level):
                for cx in range(level):
                    inside = ((pos[:, 0] >= cx * w / level) & (pos[:, 0] < (cx + 1) * w / level)
                              & (pos[:, 1] >= cy * h / level) & (pos[:, 1] < (cy + 1) * h / level))
                    blocks.append(weight * encoder.transform([x[inside]])[0])
        rows.append(l2(np.concatenate(blocks)))
    return np.array(rows)


@pytest.mark.parametrize("levels, weights", [((1, 2, 3), (0.5, 1.0, 2.0)),
                                             ((1, 2, 4), (0.25, 0.5, 1.0)),
                                             ((4, 1, 2), (1.0, 0.5, 2.0))],
                         ids=["1-2-3", "1-2-4 summed", "4-1-2 summed"])
@pytest.mark.parametrize("encoder", [BagOfWords(n_words=4, random_state=0),
                                     BagOfWords(n_words=4, assignment="soft", random_state=0),
                                     VLAD(n_words=3, random_state=0),
                                     VLAD(n_words=3, mass_norm=True, random_state=0),
                                     FisherVector(n_words=2, random_state=0)],
                         ids=["bow", "bow-soft", "vlad", "vlad-mass", "fisher"])
def test_pyramid_matches_cell_by_cell_reference(encoder, levels, weights):
    # nested power-of-two grids take the summed path (the finest level's statistics,
    # added up over cells), the others encode every level; both match the cells
    # encoded one by one
    ds = _with_positions(random_sets(lengths=(40, 0, 25, 1, 60)))
    spm = SpatialPyramid(encoder, levels=levels, level_weights=weights).fit(ds)
    codes = spm.transform(ds)
    expected = _pyramid_reference(ds, spm.encoder_, levels, weights)
    n_cells = sum(v * v for v in levels)
    assert codes.shape == expected.shape == (5, n_cells * spm.encoder_._n_features_out)
    np.testing.assert_allclose(codes, expected, rtol=1e-4, atol=1e-6)
    assert not codes[1].any()
    assert len(spm.get_feature_names_out()) == codes.shape[1]


def test_pyramid_without_extents_uses_bounding_box():
    sets = random_sets(lengths=(30, 20))
    rng = np.random.default_rng(1)
    positions = [rng.uniform(10, 50, size=(len(s), 2)) for s in sets]
    ds = DescriptorSet.from_arrays(sets, positions=positions)
    spm = SpatialPyramid(BagOfWords(n_words=3, norm=None, random_state=0), levels=(2,),
                         norm=None).fit(ds)
    counts = spm.transform(ds).reshape(2, 4, 3).sum(axis=2)
    for i, pos in enumerate(positions):
        lo, hi = pos.min(axis=0), pos.max(axis=0)
        cell = np.clip(np.floor((pos - lo) / (hi - lo) * 2), 0, 1).astype(int)
        np.testing.assert_array_equal(counts[i], np.bincount(cell[:, 1] * 2 + cell[:, 0],
                                                             minlength=4))


def test_pyramid_errors_and_conformance():
    sets = random_sets(lengths=(20, 0, 9, 1))
    with pytest.raises(ValueError, match="positions"):
        SpatialPyramid(BagOfWords(n_words=2)).fit(sets)
    ds = _with_positions(sets)
    with pytest.raises(ValueError, match="levels"):
        SpatialPyramid(BagOfWords(n_words=2), levels=(0, 2)).fit(ds)
    with pytest.raises(ValueError, match="level_weights"):
        SpatialPyramid(BagOfWords(n_words=2), levels=(1, 2), level_weights=(1,)).fit(ds)
    check_media_transformer(SpatialPyramid(BagOfWords(n_words=3, random_state=0),
                                           levels=(1, 2)), ds,
                            bad_inputs=[np.zeros((3, 10)), sets])


def test_auto_levels_follow_the_encoder_width():
    ds = _with_positions(random_sets(n_features=8))
    narrow = SpatialPyramid(BagOfWords(n_words=8, random_state=0)).fit(ds)
    assert narrow.levels_ == (1, 2, 4) and narrow.n_features_out_ == 21 * 8
    wide = SpatialPyramid(VLAD(n_words=40, random_state=0)).fit(
        _with_positions(random_sets(n_features=64, lengths=(40, 0, 25, 1, 60))))
    assert wide.levels_ == (1, 2) and wide.n_features_out_ == 5 * 40 * 64
    fixed = SpatialPyramid(BagOfWords(n_words=8, random_state=0), levels=(1, 3)).fit(ds)
    assert fixed.levels_ == (1, 3) and fixed.transform(ds).shape == (5, 10 * 8)


@pytest.mark.parametrize("encoder", [FisherVector(n_words=3, random_state=0),
                                     BagOfWords(n_words=4, random_state=0),
                                     BagOfWords(n_words=4, assignment="soft", n_nearest=2,
                                                random_state=0),
                                     VLAD(n_words=3, random_state=0)],
                         ids=["fisher", "bow", "bow-soft", "vlad"])
def test_pyramid_shares_per_descriptor_work_and_matches_cells_with_flat_rows(encoder):
    # flat (all-zero) rows and no extents: frames come from every row's position,
    # flat rows then take no part, as when each cell is encoded on its own
    sets = random_sets(lengths=(50, 30, 0, 40))
    sets[0][:10] = 0
    sets[3][:] = 0 * sets[3]
    rng = np.random.default_rng(3)
    positions = [rng.uniform(5, 45, size=(len(s), 2)) for s in sets]
    ds = DescriptorSet.from_arrays(sets, positions=positions)
    spm = SpatialPyramid(encoder, levels=(1, 2)).fit(ds)
    codes = spm.transform(ds)
    blocks = [spm.encoder_.transform(ds).reshape(4, -1),
              spm.encoder_.transform(spm._cells(ds, 2)).reshape(4, -1)]
    expected = np.hstack(blocks)
    expected /= np.maximum(np.linalg.norm(expected, axis=1, keepdims=True), 1e-12)
    # the pyramid's whole-image level is the sum of its 4 cells' float32 statistics:
    # equal to encoding the whole image up to float32 rounding
    np.testing.assert_allclose(codes, expected, rtol=1e-5, atol=1e-5)
    assert not codes[2].any() and not codes[3].any()


@pytest.mark.parametrize("levels, n_statistics", [((1, 2, 4), 1), ((1, 2), 1), ((1, 3), 2)])
def test_nested_levels_aggregate_the_finest_level_once(levels, n_statistics, monkeypatch):
    calls = []
    fused, shared = FisherVector._descriptor_statistics, FisherVector._statistics

    def counting_fused(self, values, offsets, rows=None):
        calls.append(("fused", len(offsets) - 1))
        return fused(self, values, offsets, rows)

    def counting_shared(self, ds, per_row):
        calls.append(("shared", ds.n_samples))
        return shared(self, ds, per_row)

    monkeypatch.setattr(FisherVector, "_descriptor_statistics", counting_fused)
    monkeypatch.setattr(FisherVector, "_statistics", counting_shared)
    ds = _with_positions(random_sets(lengths=(30, 20, 25)))
    spm = SpatialPyramid(FisherVector(n_words=2, random_state=0), levels=levels).fit(ds)
    calls.clear()
    spm.transform(ds)
    assert len(calls) == n_statistics  # one chunk: once, or once per level
    if n_statistics == 1:
        # the finest grid's cells, in one fused pass over the descriptors
        assert calls == [("fused", 3 * max(levels) ** 2)]
    else:  # levels not nested: each level from the shared posteriors
        assert [kind for kind, _ in calls] == ["shared", "shared"]
