"""Conformance checks for transformers whose input is media, not a numeric matrix.

``sklearn.utils.estimator_checks`` covers estimators over numeric arrays. Media
transformers (images, texts, audio, descriptor sets) get this project suite
instead: clone, get/set_params, pickling, fit twice gives the same result,
NotFittedError before fit, one output row per input sample, and a clear error
on wrong input.
"""

from __future__ import annotations

import pickle

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from mmfuse.descriptors import DescriptorSet


def assert_same_output(a, b, *, rtol=1e-6, atol=1e-7) -> None:
    """Assert two transformer outputs are equal (arrays, sparse matrices, DescriptorSets)."""
    if isinstance(a, DescriptorSet) or isinstance(b, DescriptorSet):
        assert isinstance(a, DescriptorSet) and isinstance(b, DescriptorSet), (type(a), type(b))
        np.testing.assert_array_equal(a.offsets, b.offsets)
        np.testing.assert_allclose(a.values, b.values, rtol=rtol, atol=atol)
        np.testing.assert_array_equal(a.missing, b.missing)
        if a.positions is not None or b.positions is not None:
            np.testing.assert_allclose(a.positions, b.positions, rtol=rtol, atol=atol)
        return
    if sp.issparse(a) or sp.issparse(b):
        assert sp.issparse(a) and sp.issparse(b), (type(a), type(b))
        assert a.shape == b.shape
        np.testing.assert_allclose(a.toarray(), b.toarray(), rtol=rtol, atol=atol)
        return
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _n_rows(out) -> int:
    if isinstance(out, DescriptorSet):
        return out.n_samples
    return out.shape[0]


def _n_samples(X) -> int:
    return X.n_samples if isinstance(X, DescriptorSet) else len(X)


def check_clone_and_params(estimator, X, y=None):
    params = estimator.get_params(deep=False)
    cloned = clone(estimator)
    assert cloned.get_params(deep=False).keys() == params.keys()
    for key, value in params.items():
        other = cloned.get_params(deep=False)[key]
        assert type(other) is type(value) or value is None, key
    cloned.set_params(**params)
    assert not any(k.endswith("_") and not k.startswith("__") for k in vars(cloned)), (
        "clone() of an unfitted estimator carries fitted attributes")


def check_not_fitted(estimator, X, y=None):
    est = clone(estimator)
    try:
        est.transform(X)
    except NotFittedError:
        return
    raise AssertionError(f"{type(est).__name__}.transform before fit did not raise NotFittedError")


def check_fit_returns_self_and_rows(estimator, X, y=None):
    est = clone(estimator)
    assert est.fit(X, y) is est
    out = est.transform(X)
    assert _n_rows(out) == _n_samples(X), "transform must give one output row per input sample"
    assert_same_output(out, clone(estimator).fit_transform(X, y), rtol=1e-5, atol=1e-6)


def check_fit_twice_same(estimator, X, y=None):
    est = clone(estimator)
    first = est.fit(X, y).transform(X)
    second = est.fit(X, y).transform(X)
    assert_same_output(first, second)


def check_pickle_roundtrip(estimator, X, y=None):
    est = clone(estimator).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    assert_same_output(est.transform(X), restored.transform(X))
    assert pickle.loads(pickle.dumps(clone(estimator))).get_params().keys() == (
        estimator.get_params().keys())


def check_wrong_input_clear_error(estimator, X, y=None, bad_inputs=()):
    est = clone(estimator).fit(X, y)
    for bad in bad_inputs:
        try:
            est.transform(bad)
        except (TypeError, ValueError) as exc:
            message = str(exc)
            assert len(message) > 20, f"error message too terse for {type(bad).__name__}: {exc!r}"
        else:
            raise AssertionError(f"{type(est).__name__} accepted bad input {type(bad).__name__}")


MEDIA_CHECKS = (
    check_clone_and_params,
    check_not_fitted,
    check_fit_returns_self_and_rows,
    check_fit_twice_same,
    check_pickle_roundtrip,
    check_wrong_input_clear_error,
)


def check_media_transformer(estimator, X, y=None, *, bad_inputs=()):
    """Run every media check on ``estimator`` with valid input ``X``.

    Parameters
    ----------
    estimator : transformer
        Unfitted estimator.
    X : column of media cells, DataFrame or DescriptorSet
        Valid input.
    y : array-like, default=None
    bad_inputs : sequence
        Inputs that must be refused with a TypeError/ValueError that says why.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.encoding import BagOfWords
    >>> from mmfuse.utils.estimator_checks import check_media_transformer
    >>> sets = [np.random.default_rng(i).normal(size=(20, 4)) for i in range(3)]
    >>> check_media_transformer(BagOfWords(n_words=3, random_state=0), sets,
    ...                         bad_inputs=[np.zeros((3, 4)), "text"])
    """
    for check in MEDIA_CHECKS:
        if check is check_wrong_input_clear_error:
            check(estimator, X, y, bad_inputs=bad_inputs)
        else:
            check(estimator, X, y)
