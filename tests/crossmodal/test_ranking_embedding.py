"""RankingEmbedding: the loss against brute force and finite differences; training works."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import check_grad

from mmfuse.crossmodal import RankingEmbedding
from mmfuse.crossmodal._ranking import _directional_hinge, rank_loss
from mmfuse.crossmodal.metrics import mean_average_precision, recall_at_k, relevance_from_pairs


def _brute_force_hinge(S, positive, negative, margin, hardest):
    """Explicit loops over (anchor, positive, negative) triplets."""
    loss, count = 0.0, 0
    for i in range(S.shape[0]):
        negatives = np.flatnonzero(negative[i])
        if negatives.size == 0:
            continue
        for p in np.flatnonzero(positive[i]):
            candidates = [negatives[np.argmax(S[i, negatives])]] if hardest else negatives
            for n in candidates:
                loss += max(0.0, margin - S[i, p] + S[i, n])
                count += 1
    return loss, count


@pytest.mark.parametrize("hardest", [False, True])
@pytest.mark.parametrize("with_labels", [False, True])
def test_hinge_matches_brute_force(hardest, with_labels):
    rng = np.random.default_rng(0)
    b = 24
    S = np.tanh(rng.normal(size=(b, b)))
    if with_labels:
        labels = rng.integers(0, 4, size=b)
        positive = labels[:, None] == labels[None, :]
    else:
        positive = np.eye(b, dtype=bool)
    negative = ~positive
    loss, count, _ = _directional_hinge(S, positive, negative, 0.3, hardest)
    reference_loss, reference_count = _brute_force_hinge(S, positive, negative, 0.3, hardest)
    assert loss == pytest.approx(reference_loss, rel=1e-10)
    if not hardest:
        assert count == reference_count


@pytest.mark.parametrize("hardest", [False, True])
@pytest.mark.parametrize("labels", [None, np.array([0, 1, 2, 0, 1, 2, 0, 1, 3, 3])])
def test_gradient_matches_finite_differences(hardest, labels):
    rng = np.random.default_rng(1)
    U0, V0 = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))

    def loss_of(flat):
        U, V = flat[:40].reshape(10, 4), flat[40:].reshape(10, 4)
        return rank_loss(U, V, labels, 0.5, hardest)[0]

    def grad_of(flat):
        U, V = flat[:40].reshape(10, 4), flat[40:].reshape(10, 4)
        _, grad_U, grad_V = rank_loss(U, V, labels, 0.5, hardest)
        return np.concatenate([grad_U.ravel(), grad_V.ravel()])

    flat = np.concatenate([U0.ravel(), V0.ravel()])
    assert np.linalg.norm(grad_of(flat)) > 1e-3  # the test point has active hinges
    assert check_grad(loss_of, grad_of, flat, epsilon=1e-7) < 1e-5


def _paired_views(n, seed=0):
    rng = np.random.default_rng(seed)
    A = np.random.default_rng(100).normal(size=(6, 20))
    B = np.random.default_rng(101).normal(size=(6, 12))
    Z = rng.normal(size=(n, 6))
    X = Z @ A + 0.3 * rng.normal(size=(n, 20))
    Y = Z @ B + 0.3 * rng.normal(size=(n, 12))
    return X, Y


def test_training_lowers_the_loss_and_beats_random_on_held_out_pairs():
    X, Y = _paired_views(400)
    X_new, Y_new = _paired_views(200, seed=1)
    model = RankingEmbedding(n_components=6, max_epochs=40, learning_rate=0.01,
                             random_state=0).fit(X, Y)
    assert model.loss_curve_[-1] < 0.5 * model.loss_curve_[0]
    assert model.best_loss_ == pytest.approx(min(model.validation_loss_curve_))
    relevance = relevance_from_pairs(np.arange(200), np.arange(200))

    def held_out(transform_x, transform_y):
        U, V = transform_x(X_new), transform_y(Y_new)
        U /= np.linalg.norm(U, axis=1, keepdims=True)
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        return mean_average_precision(U @ V.T, relevance), recall_at_k(U @ V.T, relevance, 5)

    rng = np.random.default_rng(0)
    W_x, W_y = rng.normal(size=(20, 6)), rng.normal(size=(12, 6))
    random_map, random_recall = held_out(lambda A: A @ W_x, lambda B: B @ W_y)
    trained_map, trained_recall = held_out(model.transform_x, model.transform_y)
    assert trained_map > random_map + 0.2
    assert trained_recall > random_recall + 0.2


def test_labels_make_same_class_rows_positives():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=300)
    X = np.eye(3)[labels] @ rng.normal(size=(3, 10)) + rng.normal(size=(300, 10))
    Y = np.eye(3)[labels] @ rng.normal(size=(3, 10)) + rng.normal(size=(300, 10))
    model = RankingEmbedding(n_components=4, max_epochs=30, random_state=0).fit(X, Y, labels)
    U, V = model.transform(X, Y)
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    similarity = U @ V.T
    same = labels[:, None] == labels[None, :]
    assert similarity[same].mean() > similarity[~same].mean() + 0.3


def test_sparse_input_matches_dense_and_no_early_stopping():
    X, Y = _paired_views(120)
    X[X < 0] = 0
    params = dict(n_components=3, max_epochs=5, early_stopping=False, random_state=0)
    dense = RankingEmbedding(**params).fit(X, Y)
    sparse = RankingEmbedding(**params).fit(sp.csr_matrix(X), Y)
    np.testing.assert_allclose(sparse.x_weights_, dense.x_weights_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sparse.transform_x(sp.csr_matrix(X)), dense.transform_x(X),
                               atol=1e-8)
    assert dense.validation_loss_curve_ == [] and dense.n_iter_ <= 5


def test_errors():
    X, Y = _paired_views(6)
    with pytest.raises(ValueError, match="early_stopping needs"):
        RankingEmbedding().fit(X, Y)
    with pytest.raises(ValueError, match="paired row by row"):
        RankingEmbedding(early_stopping=False).fit(X, Y[:-1])
    with pytest.raises(ValueError, match="one label per row"):
        RankingEmbedding(early_stopping=False).fit(X, Y, y=[0, 1])
