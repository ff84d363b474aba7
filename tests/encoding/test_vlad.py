import numpy as np
import pytest
from encoding_reference import kmeans_reference, l2, random_sets, ssr

from mmfuse.descriptors import DescriptorSet
from mmfuse.encoding import VLAD
from mmfuse.utils.estimator_checks import check_media_transformer


def _vlad_reference(sets, km, mass_norm, signed_sqrt, intra_norm, norm):
    """VLFeat's vl_vlad, written out per sample and codeword in float64."""
    centers = km.cluster_centers_.astype(np.float64)
    n_words, d = centers.shape
    rows = []
    for s in sets:
        enc = np.zeros((n_words, d))
        if len(s):
            labels = km.predict(s)
            for k in range(n_words):
                members = s[labels == k].astype(np.float64)
                if len(members) == 0:
                    continue
                enc[k] = (members - centers[k]).sum(axis=0)
                if mass_norm:
                    enc[k] /= len(members)
        if signed_sqrt:
            enc = ssr(enc)
        if intra_norm:
            enc = np.array([l2(e) for e in enc])
        enc = enc.ravel()
        rows.append(l2(enc) if norm == "l2" else enc)
    return np.array(rows)


@pytest.mark.parametrize(
    "mass_norm, signed_sqrt, intra_norm, norm",
    [(False, True, True, "l2"), (True, False, False, "l2"), (False, False, False, None),
     (True, True, True, None)],
)
def test_vlad_matches_reference(mass_norm, signed_sqrt, intra_norm, norm):
    sets = random_sets()
    vlad = VLAD(n_words=5, codebook="kmeans", mass_norm=mass_norm, signed_sqrt=signed_sqrt,
                intra_norm=intra_norm, norm=norm, random_state=4).fit(sets)
    km = kmeans_reference(sets, 5, 4)
    np.testing.assert_allclose(vlad.cluster_centers_, km.cluster_centers_, rtol=1e-5, atol=1e-5)
    codes = vlad.transform(sets)
    expected = _vlad_reference(sets, km, mass_norm, signed_sqrt, intra_norm, norm)
    assert codes.dtype == np.float32 and codes.shape == (5, 50)
    np.testing.assert_allclose(codes, expected, rtol=2e-4, atol=2e-5)
    assert not codes[1].any()  # zero descriptors -> zeros
    # one descriptor: only its codeword's block is non-zero
    assert np.count_nonzero(np.abs(codes[3]).reshape(5, 10).sum(axis=1)) == 1


def test_vlad_batches_and_feature_names(monkeypatch):
    sets = random_sets(lengths=(30, 0, 7, 1, 50, 12))
    vlad = VLAD(n_words=3, random_state=0).fit(sets)
    whole = vlad.transform(sets)
    monkeypatch.setattr(VLAD, "_BATCH_DESCRIPTORS", 8)  # many small batches
    np.testing.assert_allclose(vlad.transform(DescriptorSet.from_arrays(sets)), whole,
                               rtol=1e-6, atol=1e-7)
    names = vlad.get_feature_names_out()
    assert len(names) == 30 and names[0] == "vlad0"


def test_vlad_media_conformance():
    check_media_transformer(VLAD(n_words=3, random_state=0), random_sets(lengths=(20, 0, 9, 1)),
                            bad_inputs=[np.zeros((4, 10)), "x", [np.zeros((3, 4))]])
