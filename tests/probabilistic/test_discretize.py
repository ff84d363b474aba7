"""ModalityDiscretizer against sklearn/NumPy references, and the media conformance suite."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils.estimator_checks import parametrize_with_checks

from mmfuse.probabilistic import ModalityDiscretizer, MultimodalBayesNet
from mmfuse.utils.estimator_checks import MEDIA_CHECKS


def blobs(n=90, seed=0):
    """Three groups; feature 'hot{k}' is high in group k."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(0, 0.3, size=(n, 3))
    X[np.arange(n), y] += 3.0
    return pd.DataFrame(X, columns=["hot0", "hot1", "hot2"]), y


def test_kmeans_states_are_nearest_centroids_and_described_by_top_features():
    X, y = blobs()
    disc = ModalityDiscretizer([("m", "passthrough", ["hot0", "hot1", "hot2"])], n_states=3,
                               n_top=1, random_state=0)
    states = disc.fit_transform(X)["m"].to_numpy()
    centres = disc.quantizers_["m"].cluster_centers_
    nearest = np.argmin(((X.to_numpy()[:, None] - centres[None]) ** 2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(states, nearest)
    np.testing.assert_array_equal(disc.transform(X)["m"].to_numpy(), nearest)
    # each cluster is one group, described by the feature that is hot in it
    for k in range(3):
        group = y[states == k]
        assert len(set(group)) == 1
        assert disc.state_descriptions_["m"][k] == f"hot{group[0]}"
    assert disc.describe("m").tolist() == disc.state_descriptions_["m"]


def test_argmax_and_quantile_states():
    X, _ = blobs()
    disc = ModalityDiscretizer([("arg", "passthrough", ["hot0", "hot1", "hot2"]),
                                ("q", "passthrough", ["hot0"])],
                               method={"arg": "argmax", "q": "quantile"}, n_states=4)
    states = disc.fit_transform(X)
    np.testing.assert_array_equal(states["arg"], np.argmax(X.to_numpy(), axis=1))
    assert disc.state_descriptions_["arg"] == ["hot0", "hot1", "hot2"]
    # quantile bins hold (about) equal shares, and follow the order of the feature
    counts = np.bincount(states["q"].astype(int), minlength=4)
    assert counts.min() >= len(X) // 4 - 1 and counts.max() <= len(X) // 4 + 2
    order = np.argsort(X["hot0"].to_numpy(), kind="stable")
    assert np.all(np.diff(states["q"].to_numpy()[order]) >= 0)
    assert disc.state_descriptions_["q"][0].startswith("hot0 in [")


def test_supervised_states_are_out_of_fold_predictions():
    X, y = blobs()
    y = np.array(["a", "b", "c"])[y]
    X.iloc[:, :] += np.random.default_rng(1).normal(0, 2.0, size=X.shape)  # some errors
    clf = LogisticRegression(max_iter=1000)
    cv = StratifiedKFold(3)
    disc = ModalityDiscretizer([("m", "passthrough", ["hot0", "hot1", "hot2"])],
                               method="supervised", classifier=clf, cv=cv)
    states = disc.fit_transform(X, y)["m"].to_numpy()
    expected = cross_val_predict(clf, X.to_numpy(), y, cv=cv)
    np.testing.assert_array_equal(np.array(["a", "b", "c"])[states.astype(int)], expected)
    refit = LogisticRegression(max_iter=1000).fit(X.to_numpy(), y)
    np.testing.assert_array_equal(
        np.array(["a", "b", "c"])[disc.transform(X)["m"].to_numpy().astype(int)],
        refit.predict(X.to_numpy()))
    assert disc.state_descriptions_["m"][1] == "b: hot1"  # the top positive coefficient
    with pytest.raises(ValueError, match="needs the class labels"):
        ModalityDiscretizer([("m", "passthrough", ["hot0"])], method="supervised").fit(X)


def test_auto_method_is_supervised_with_labels_and_kmeans_without():
    """"auto": out-of-fold LDA predictions for dense features when y is given (a scaled
    logistic regression for sparse ones), the k-means states of method="kmeans" without."""
    import scipy.sparse as sp
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = blobs()
    X.iloc[:, :] += np.random.default_rng(1).normal(0, 2.0, size=X.shape)  # some errors
    triples = [("m", "passthrough", ["hot0", "hot1", "hot2"])]
    auto = ModalityDiscretizer(triples, cv=StratifiedKFold(3))
    states = auto.fit_transform(X, y)["m"].to_numpy()
    assert auto.methods_ == {"m": "supervised"}
    expected = cross_val_predict(LinearDiscriminantAnalysis(), X.to_numpy(), y,
                                 cv=StratifiedKFold(3))
    np.testing.assert_array_equal(states, expected)
    assert 0 < np.mean(expected != y) < 0.5  # the test can tell the folds apart
    np.testing.assert_array_equal(auto.transform(X)["m"].to_numpy(),
                                  LinearDiscriminantAnalysis().fit(X, y).predict(X.to_numpy()))
    assert auto.state_descriptions_["m"][1].startswith("1: hot1")

    unsupervised = ModalityDiscretizer(triples, n_states=3, random_state=0)
    kmeans = ModalityDiscretizer(triples, method="kmeans", n_states=3, random_state=0)
    np.testing.assert_array_equal(unsupervised.fit_transform(X), kmeans.fit_transform(X))
    assert unsupervised.methods_ == {"m": "kmeans"}

    sparse = ModalityDiscretizer([("m", _Sparse(), ["hot0", "hot1", "hot2"])],
                                 cv=StratifiedKFold(3))
    states = sparse.fit_transform(X, y)["m"].to_numpy()
    reference = make_pipeline(StandardScaler(with_mean=False), LogisticRegression(max_iter=1000))
    expected = cross_val_predict(reference, sp.csr_matrix(X.to_numpy()), y,
                                 cv=StratifiedKFold(3))
    np.testing.assert_array_equal(states, expected)


class _Sparse:
    """A stateless transformer returning its input as a CSR matrix."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        import scipy.sparse as sp

        return sp.csr_matrix(np.asarray(X, dtype=float))

    def fit_transform(self, X, y=None):
        return self.transform(X)

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self


def test_missing_modality_gives_nan_and_is_fitted_without_it():
    X, _ = blobs()
    X = X.astype(object)
    X.iloc[[3, 7], :2] = None
    disc = ModalityDiscretizer([("a", "passthrough", ["hot0", "hot1"]),
                                ("b", "passthrough", ["hot2"])], n_states=3, random_state=0)
    states = disc.fit_transform(X)
    assert states["a"].isna().tolist() == [i in (3, 7) for i in range(len(X))]
    assert not states["b"].isna().any()
    assert disc.n_missing_ == {"a": 2, "b": 0}
    everything_missing = X.copy()
    everything_missing[["hot0", "hot1"]] = None
    with pytest.raises(ValueError, match="'a' is missing in every training sample"):
        disc.fit(everything_missing)


def test_text_modality_with_network_reads_top_terms():
    from mmfuse.text import TextVectorizer

    texts = ["a red circle", "the red disk", "crimson round blob", "a red ball",
             "a blue square", "navy blue box", "a blue block", "blue square box"] * 4
    frame = pd.DataFrame({"text": texts})
    disc = ModalityDiscretizer([("text", TextVectorizer(), "text")], n_states=2, n_top=2,
                               random_state=0)
    states = disc.fit_transform(frame)["text"].to_numpy()
    red = np.array(["red" in t or "crimson" in t for t in texts])
    assert len(set(states[red])) == 1 and len(set(states[~red])) == 1
    red_state = int(states[red][0])
    assert "red" in disc.state_descriptions_["text"][red_state]
    frame_none = frame.copy()
    frame_none.loc[0, "text"] = None
    assert np.isnan(disc.transform(frame_none)["text"].iloc[0])
    bn = MultimodalBayesNet(discretizer=disc).fit(frame, red)
    answer = bn.predict_modality("text", given={"class": True})
    assert answer.index[0] == red_state
    assert "red" in answer["description"].iloc[0]


def test_descriptor_sets_are_refused_with_a_hint():
    from mmfuse.descriptors import DescriptorSet

    class Local:
        def fit(self, X, y=None):
            return self

        def fit_transform(self, X, y=None):
            return DescriptorSet.from_arrays([np.zeros((2, 3))] * len(X))

        def transform(self, X):
            return self.fit_transform(X)

        def get_params(self, deep=True):
            return {}

    disc = ModalityDiscretizer([("m", Local(), "m")], n_states=2)
    with pytest.raises(TypeError, match="BagOfWords"):
        disc.fit(pd.DataFrame({"m": [1, 2, 3]}))


@pytest.mark.parametrize("check", MEDIA_CHECKS, ids=lambda c: c.__name__)
def test_media_conformance(check):
    from mmfuse.text import TextVectorizer

    texts = ["a red circle", "blue squares", None, "the crimson disk", "an emerald block",
             "a green box", "navy triangles", "red wedges"]
    frame = pd.DataFrame({"text": texts, "x": np.arange(8.0)})
    disc = ModalityDiscretizer([("text", TextVectorizer(), "text"), ("x", "passthrough", ["x"])],
                               method={"x": "quantile"}, n_states=2, random_state=0)
    if check.__name__ == "check_wrong_input_clear_error":
        check(disc, frame, bad_inputs=[pd.DataFrame({"other": texts}), np.arange(3.0)])
    else:
        check(disc, frame)


@parametrize_with_checks([
    ModalityDiscretizer([("all", "passthrough", slice(0, None))], n_states=3, random_state=0),
    ModalityDiscretizer([("a", "passthrough", slice(0, None)), ("b", "passthrough",
                                                                slice(0, None))],
                        method={"a": "quantile", "b": "argmax"}, n_states=3),
])
def test_sklearn_checks(estimator, check):
    check(estimator)


def test_in_a_pipeline_equals_the_network_with_a_discretizer():
    from sklearn.pipeline import make_pipeline

    X, y = blobs(seed=2)
    X.iloc[:5, :2] = np.nan  # modality "a" missing in five samples
    disc = ModalityDiscretizer([("a", "passthrough", ["hot0", "hot1"]),
                                ("b", "passthrough", ["hot2"])], n_states=3, random_state=0)
    pipe = make_pipeline(disc, MultimodalBayesNet()).fit(X, y)
    inner = MultimodalBayesNet(discretizer=disc).fit(X, y)
    np.testing.assert_allclose(pipe.predict_proba(X), inner.predict_proba(X))
