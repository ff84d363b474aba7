import numpy as np
import pytest
from encoding_reference import random_sets
from sklearn.decomposition import PCA

from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding import DescriptorPCA
from mmfuse.utils.estimator_checks import check_media_transformer


@pytest.mark.parametrize("whiten", [True, False])
def test_descriptor_pca_matches_sklearn_on_concatenation(whiten):
    sets = random_sets(lengths=(40, 0, 25, 1, 60))
    positions = [np.random.default_rng(i).uniform(size=(len(s), 2)) for i, s in enumerate(sets)]
    ds = DescriptorSet.from_arrays(sets, positions=positions)
    out = DescriptorPCA(n_components=4, whiten=whiten, random_state=0).fit_transform(ds)
    ref = PCA(n_components=4, whiten=whiten).fit(np.concatenate(sets))
    expected = ref.transform(np.concatenate(sets))
    # principal axes are defined up to sign
    signs = np.sign((out.values * expected).sum(axis=0))
    np.testing.assert_allclose(out.values * signs, expected, rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(out.offsets, ds.offsets)
    np.testing.assert_array_equal(out.positions, ds.positions)
    assert out.values.dtype == np.float32 and out.lengths.tolist() == [40, 0, 25, 1, 60]
    if whiten:
        np.testing.assert_allclose(np.cov(out.values.T), np.eye(4), atol=1e-3)


def test_descriptor_pca_empty_and_conformance():
    sets = random_sets(lengths=(30, 0, 9))
    pca = DescriptorPCA(n_components=3, random_state=0).fit(sets)
    assert pca.transform([np.zeros((0, 10), np.float32)]).values.shape == (0, 3)
    check_media_transformer(DescriptorPCA(n_components=2, random_state=0), sets,
                            bad_inputs=[np.zeros((3, 10)), [np.zeros((2, 3))]])
