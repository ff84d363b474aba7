import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from mmfuse.fusion import missing_modality_mask
from mmfuse.fusion._base import column_positions, select_modality


def test_missing_mask_numeric_against_numpy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X[rng.random((40, 3)) < 0.5] = np.nan
    np.testing.assert_array_equal(missing_modality_mask(X), np.isnan(X).all(axis=1))
    df = pd.DataFrame(X)
    np.testing.assert_array_equal(missing_modality_mask(df), np.isnan(X).all(axis=1))
    np.testing.assert_array_equal(missing_modality_mask(X[:, 0]), np.isnan(X[:, 0]))
    assert not missing_modality_mask(sp.csr_matrix(np.nan_to_num(X))).any()
    assert not missing_modality_mask(np.zeros((3, 0))).any()
    assert not missing_modality_mask(np.arange(6).reshape(3, 2)).any()


def test_missing_mask_media_cells():
    image = np.zeros((4, 4), np.uint8)
    cells = pd.Series([image, None, "text", float("nan"), pd.NA, b"bytes"], dtype=object)
    expected = [False, True, False, True, True, False]
    np.testing.assert_array_equal(missing_modality_mask(cells), expected)
    np.testing.assert_array_equal(missing_modality_mask(list(cells)), expected)
    frame = pd.DataFrame({"image": cells, "text": [None, None, "x", None, "y", None]})
    np.testing.assert_array_equal(missing_modality_mask(frame),
                                  [False, True, False, True, False, False])
    objects = np.empty((2, 2), dtype=object)
    objects[0] = [None, np.nan]
    objects[1] = [None, "a"]
    np.testing.assert_array_equal(missing_modality_mask(objects), [True, False])


def test_column_selection_errors_name_the_modality():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"modality 'audio': cannot select .* 2 feature\(s\)"):
        select_modality(X, [0, 5], "audio")
    df = pd.DataFrame({"image": [1, 2], "text": ["a", "b"]})
    assert column_positions(df, "text") == ([1], True)
    assert column_positions(df, ["text", "image"]) == ([1, 0], False)
    with pytest.raises(ValueError, match="modality 'x'"):
        column_positions(df, ["nope"], "x")
