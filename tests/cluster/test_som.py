"""SelfOrganizingMap against MiniSom run by hand on the same scaled views."""

import numpy as np
import pytest
from minisom import MiniSom
from sklearn.utils import check_random_state
from sklearn.utils.estimator_checks import parametrize_with_checks

from mmfuse.cluster import SelfOrganizingMap


@parametrize_with_checks([SelfOrganizingMap((3, 3), n_iter=50, random_state=0)],
                         expected_failed_checks=lambda estimator: {
                             "check_clustering": "labels are grid units, and units no sample "
                             "maps to leave gaps in them (the check wants 0..k-1)"})
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_map_equals_minisom_on_the_scaled_views():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(120, 3)) * 50 + 7
    b = rng.normal(size=(120, 4)) * 0.1
    som = SelfOrganizingMap((4, 5), sigma=1.5, n_iter=800, random_state=3).fit({"a": a, "b": b})
    # the scaling written out: centred, unit total variance, equal weights 1/2
    scaled = []
    for view in (a, b):
        centred = view - view.mean(axis=0)
        scaled.append(centred * np.sqrt(0.5) / np.sqrt((centred ** 2).sum(axis=1).mean()))
    data = np.hstack(scaled)
    seed = int(check_random_state(3).randint(np.iinfo(np.int32).max))
    reference = MiniSom(4, 5, 7, sigma=1.5, learning_rate=0.5, random_seed=seed)
    reference.pca_weights_init(data)
    reference.train(data, 800, random_order=True)
    np.testing.assert_allclose(som.cluster_centers_, reference.get_weights().reshape(20, 7))
    winners = np.array([np.ravel_multi_index(reference.winner(x), (4, 5)) for x in data])
    np.testing.assert_array_equal(som.labels_, winners)
    np.testing.assert_allclose(som.u_matrix(), reference.distance_map())
    assert som.quantization_error_ == pytest.approx(reference.quantization_error(data))
    distances = som.transform({"a": a, "b": b})
    np.testing.assert_array_equal(np.argmin(distances, axis=1), som.labels_)


def test_u_matrix_ridge_separates_two_groups():
    rng = np.random.default_rng(1)
    truth = np.repeat([0, 1], 150)
    a = rng.normal(size=(300, 2)) + 6 * truth[:, None]
    b = rng.normal(size=(300, 3)) + 3 * truth[:, None]
    som = SelfOrganizingMap((8, 8), random_state=0).fit({"a": a, "b": b})
    units = [set(som.labels_[truth == c]) for c in (0, 1)]
    assert not units[0] & units[1]
    u = som.u_matrix().ravel()
    hit = np.zeros(64, bool)
    hit[list(units[0] | units[1])] = True
    # units that hold samples sit in valleys; the ridge between the groups is empty
    assert u[hit].mean() < u[~hit].mean()


def test_plot_u_matrix_marks_the_samples():
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(2)
    X = {"a": rng.normal(size=(40, 2)), "b": rng.normal(size=(40, 2))}
    som = SelfOrganizingMap((4, 4), random_state=0).fit(X)
    ax = som.plot_u_matrix(X, np.repeat([0, 1], 20))
    assert len(ax.collections) == 3  # the mesh and one scatter per label
    with pytest.raises(ValueError, match="grid_shape"):
        SelfOrganizingMap((0, 3)).fit(X)
