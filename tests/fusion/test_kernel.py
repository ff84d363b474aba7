import numpy as np
import pytest
from conftest import make_blocks
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC

from mmfuse.fusion import KernelFusionClassifier, centered_kernel_alignment, modality_kernel
from mmfuse.fusion._kernel import _feature_alignment, _nystroem_projection


def _brute(A, B, f):
    return np.array([[f(a, b) for b in B] for a in A])


@pytest.mark.parametrize("kernel", ["linear", "rbf", "chi2", "intersection", "hellinger"])
def test_kernels_against_brute_force(kernel):
    rng = np.random.default_rng(0)
    A, B = rng.random((7, 5)), rng.random((4, 5))
    g = 0.7
    reference = {
        "linear": lambda a, b: a @ b,
        "rbf": lambda a, b: np.exp(-g * np.sum((a - b) ** 2)),
        "chi2": lambda a, b: np.exp(-g * np.sum((a - b) ** 2 / (a + b))),
        "intersection": lambda a, b: np.minimum(a, b).sum(),
        "hellinger": lambda a, b: np.sqrt(a * b).sum(),
    }[kernel]
    np.testing.assert_allclose(modality_kernel(A, B, kernel, gamma=g), _brute(A, B, reference),
                               rtol=1e-10)


def test_histogram_kernels_refuse_negative_features():
    with pytest.raises(ValueError, match="non-negative"):
        modality_kernel(np.array([[-1.0, 2.0]]), kernel="intersection")


def test_centered_alignment_against_matrix_formula():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, size=30)
    K = F @ F.T
    H = np.eye(30) - 1.0 / 30
    Y = np.eye(3)[y]
    Kc, T = H @ K @ H, H @ (Y @ Y.T) @ H
    expected = np.sum(Kc * T) / (np.linalg.norm(Kc) * np.linalg.norm(T))
    assert centered_kernel_alignment(K, y) == pytest.approx(expected)
    assert _feature_alignment(F, y) == pytest.approx(expected)


def test_combined_kernel_matches_hand_built_svc():
    X, y = make_blocks(n=90, dims=(3, 4), seed=2)
    X = np.abs(X)
    a, b = [0, 1, 2], [3, 4, 5, 6]
    model = KernelFusionClassifier([("a", "passthrough", a), ("b", "passthrough", b)],
                                   kernel={"a": "rbf", "b": "intersection"},
                                   kernel_params={"a": {"gamma": 0.3}}).fit(X, y)
    Ka = modality_kernel(X[:, a], kernel="rbf", gamma=0.3)
    Kb = modality_kernel(X[:, b], kernel="intersection")
    Kb = Kb / np.mean(np.diag(Kb))  # unit mean self-similarity
    align = np.clip([centered_kernel_alignment(Ka, y), centered_kernel_alignment(Kb, y)], 0, None)
    w = align / align.sum()
    np.testing.assert_allclose(model.kernel_weights_, w)
    svc = SVC(kernel="precomputed").fit(w[0] * Ka + w[1] * Kb, y)
    Xt = np.abs(make_blocks(n=30, dims=(3, 4), seed=3)[0])
    Kt = (w[0] * modality_kernel(Xt[:, a], X[:, a], "rbf", gamma=0.3)
          + w[1] * modality_kernel(Xt[:, b], X[:, b], "intersection")
          / np.mean(np.diag(modality_kernel(X[:, b], kernel="intersection"))))
    np.testing.assert_allclose(model.decision_function(Xt), svc.decision_function(Kt),
                               rtol=1e-6, atol=1e-8)


def _masked_linear(Xt, Xtrain, scale):
    """Linear kernel with rows/columns of absent (all-NaN) samples set to 0, scaled."""
    present_t, present = ~np.isnan(Xt).all(1), ~np.isnan(Xtrain).all(1)
    K = np.nan_to_num(Xt) @ np.nan_to_num(Xtrain).T
    return np.where(np.outer(present_t, present), K, 0.0) / scale


def test_missing_modality_contributes_zero_kernel():
    X, y = make_blocks(n=80, seed=4)
    a, b = [0, 1, 2], [3, 4, 5, 6]
    Xm = X.copy()
    Xm[::4, b] = np.nan
    model = KernelFusionClassifier([("a", "passthrough", a), ("b", "passthrough", b)],
                                   kernel="linear", kernel_weights="uniform").fit(Xm, y)
    present_b = ~np.isnan(Xm[:, 3])
    scale_a = np.mean(np.sum(X[:, a] ** 2, axis=1))
    scale_b = np.mean(np.sum(X[present_b][:, b] ** 2, axis=1))
    K = 0.5 * _masked_linear(Xm[:, a], Xm[:, a], scale_a) \
        + 0.5 * _masked_linear(Xm[:, b], Xm[:, b], scale_b)
    svc = SVC(kernel="precomputed").fit(K, y)
    Xt = Xm[:8].copy()
    Xt[1:3, a] = np.nan
    Kt = 0.5 * _masked_linear(Xt[:, a], Xm[:, a], scale_a) \
        + 0.5 * _masked_linear(Xt[:, b], Xm[:, b], scale_b)
    np.testing.assert_allclose(model.decision_function(Xt), svc.decision_function(Kt),
                               rtol=1e-6, atol=1e-8)


def test_nystroem_reproduces_the_exact_kernel_with_all_landmarks():
    rng = np.random.default_rng(5)
    F = rng.random((25, 6))
    params = {"kernel": "chi2", "gamma": 0.5}
    Phi = modality_kernel(F, F, **params) @ _nystroem_projection(F, params)
    np.testing.assert_allclose(Phi @ Phi.T, modality_kernel(F, **params), atol=1e-8)


def test_nystroem_classifier_is_close_to_exact():
    X, y = make_blocks(n=200, seed=6)
    mods = [("a", "passthrough", [0, 1, 2]), ("b", "passthrough", [3, 4, 5, 6])]
    exact = KernelFusionClassifier(mods).fit(X, y)
    approx = KernelFusionClassifier(mods, n_components=60, random_state=0).fit(X, y)
    np.testing.assert_allclose(approx.alignments_, exact.alignments_, atol=0.05)
    assert np.mean(approx.predict(X) == exact.predict(X)) > 0.8


def test_multi_output_and_probability():
    X, y = make_blocks(n=90, seed=7)
    Y = np.column_stack([y, y % 2])
    mods = [("a", MinMaxScaler(clip=True), [0, 1, 2]), ("b", "passthrough", [3, 4, 5, 6])]
    model = KernelFusionClassifier(mods, kernel={"a": "chi2", "b": "rbf"}).fit(X, Y)
    assert model.predict(X).shape == Y.shape
    assert not hasattr(model, "decision_function")
    proba = KernelFusionClassifier(mods, kernel={"a": "chi2", "b": "rbf"}, probability=True,
                                   random_state=0).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)


def test_gridsearch_and_errors():
    X, y = make_blocks(n=60, seed=8)
    mods = [("a", "passthrough", [0, 1, 2]), ("b", "passthrough", [3, 4, 5, 6])]
    search = GridSearchCV(KernelFusionClassifier(mods), {"C": [0.1, 1.0],
                                                         "kernel_weights": ["uniform",
                                                                            "alignment"]},
                          cv=3).fit(X, y)
    assert search.best_score_ > 0.5
    with pytest.raises(ValueError, match="modality 'a': the 'hellinger' kernel needs"):
        KernelFusionClassifier(mods, kernel="hellinger").fit(X, y)
    with pytest.raises(ValueError, match="unknown kernel_params"):
        KernelFusionClassifier(mods, kernel_params={"a": {"degree": 2}}).fit(X, y)
