import pickle

import numpy as np
import pytest

from mmfuse.descriptors import DescriptorSet, as_descriptor_set


def test_from_arrays_roundtrip_and_take():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(n, 4)) for n in (3, 0, 5, 1)]
    ds = DescriptorSet.from_arrays(arrays + [None])
    assert ds.n_samples == 5 and ds.lengths.tolist() == [3, 0, 5, 1, 0]
    assert ds.missing.tolist() == [False, False, False, False, True]
    for a, b in zip(arrays, ds, strict=False):
        np.testing.assert_allclose(a.astype(np.float32), b)
    sub = ds[[2, 0]]
    assert sub.lengths.tolist() == [5, 3]
    np.testing.assert_array_equal(sub[0], ds[2])
    mask = np.array([True, False, True, False, True])
    assert ds[mask].lengths.tolist() == [3, 5, 0]
    assert pickle.loads(pickle.dumps(ds)) == ds
    assert ds.sample_ids().tolist() == [0, 0, 0, 2, 2, 2, 2, 2, 3]


def test_validation_errors():
    with pytest.raises(ValueError, match="offsets"):
        DescriptorSet(np.zeros((3, 2)), [0, 2])
    with pytest.raises(ValueError, match="positions"):
        DescriptorSet(np.zeros((3, 2)), [0, 3], positions=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="widths"):
        DescriptorSet.from_arrays([np.zeros((1, 2)), np.zeros((1, 3))])
    with pytest.raises(TypeError, match="DescriptorSet"):
        as_descriptor_set(np.zeros((4, 3)))
    with pytest.raises(TypeError, match="DescriptorSet"):
        as_descriptor_set("not descriptors")
    with pytest.raises(IndexError):
        DescriptorSet.from_arrays([np.zeros((1, 2))])[3]
