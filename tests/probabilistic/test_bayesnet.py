"""MultimodalBayesNet against the generative truth of make_shapes and brute-force enumeration."""

import itertools
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from mmfuse.datasets import make_shapes, sample_shapes_latent
from mmfuse.probabilistic import ModalityDiscretizer, MultimodalBayesNet
from mmfuse.probabilistic import _pgmpy_compat as compat

# Sample size at which hill climbing recovers the true skeleton of the shapes network
# (documented in docs/tutorials/07_bayesian_networks.py): with BIC, BDeu and K2, for
# each of the seeds below. At n=200 K2 and BDeu still add or reverse edges.
N_RECOVERY = 2000
FEATURES = ["shape", "colour", "size", "count"]


# -- brute force: enumerate the joint distribution from CPD tables --------------------


def cpd_row(frame, assignment):
    """The row of a CPD frame (truth or explain() layout) for an assignment of its parents."""
    if frame.index.names == [None] and list(frame.index) == ["prior"]:
        return frame.loc["prior"]
    names = list(frame.index.names)
    key = assignment[names[0]] if len(names) == 1 else tuple(assignment[p] for p in names)
    return frame.loc[key]


def brute_joint(cpds, states):
    """Every configuration of the variables with its probability, as a DataFrame."""
    variables = list(states)
    rows = []
    for config in itertools.product(*(states[v] for v in variables)):
        assignment = dict(zip(variables, config, strict=True))
        p = 1.0
        for var, frame in cpds.items():
            p *= float(cpd_row(frame, assignment)[assignment[var]])
        rows.append((*config, p))
    return pd.DataFrame(rows, columns=[*variables, "p"])


def brute_posterior(joint, target, evidence):
    """P(target | evidence) by summing the enumerated joint."""
    mask = np.ones(len(joint), dtype=bool)
    for var, state in evidence.items():
        mask &= (joint[var] == state).to_numpy()
    marginal = joint[mask].groupby(target)["p"].sum()
    return marginal / marginal.sum()


def skeleton(edges):
    return {frozenset(e) for e in edges}


def structural_hamming_distance(edges_a, edges_b):
    """Skeleton SHD: edges present in one undirected skeleton and not the other."""
    return len(skeleton(edges_a) ^ skeleton(edges_b))


def shapes_xy(n, seed):
    data = sample_shapes_latent(n, random_state=seed)
    return data[FEATURES], data["scene"]


# -- structure and parameters against the generative truth ----------------------------


@pytest.mark.parametrize("score", ["bic", "bdeu", "k2"])
@pytest.mark.parametrize("seed", [0, 1])
def test_structure_learning_recovers_true_skeleton(score, seed):
    truth = make_shapes(1, random_state=0).truth
    X, y = shapes_xy(N_RECOVERY, seed)
    bn = MultimodalBayesNet("learn", class_name="scene", scoring_method=score).fit(X, y)
    assert structural_hamming_distance(bn.edges_, truth["edges"]) == 0, bn.edges_
    # the class is kept a root, so its edges are oriented as in the truth
    assert {e for e in bn.edges_ if "scene" in e} == {("scene", "shape"), ("scene", "colour")}


def test_learned_cpds_approach_truth_as_n_grows():
    truth = make_shapes(1, random_state=0).truth
    states = truth["variables"]
    true_joint = brute_joint(truth["cpds"], states)["p"].to_numpy()
    sizes = (100, 1000, 10000)
    kl = []
    for n in sizes:
        values = []
        for seed in range(3):
            X, y = shapes_xy(n, seed)
            bn = MultimodalBayesNet(list(truth["edges"]), class_name="scene",
                                    estimator="bdeu").fit(X, y)
            learned = brute_joint(bn.explain(), states)["p"].to_numpy()
            values.append(float(np.sum(true_joint * np.log(true_joint / learned))))
        kl.append(np.mean(values))
    assert kl[0] > kl[1] > kl[2], kl
    # asymptotically KL ~ (free parameters) / (2 n) = 36 / (2 n)
    assert kl[2] < 10 * 36 / (2 * sizes[2]), kl
    # and the tables themselves are close to the truth at the largest size
    for var, frame in bn.explain().items():
        true = truth["cpds"][var]
        np.testing.assert_allclose(frame.loc[true.index, true.columns].to_numpy(),
                                   true.to_numpy(), atol=0.03, err_msg=var)


# -- a tiny network: inference against enumeration --------------------------------------


@pytest.fixture(scope="module")
def tiny():
    """C -> A, C -> B, A -> B with random data (3 x 3 x 2 states)."""
    rng = np.random.default_rng(0)
    n = 300
    c = rng.choice(["c0", "c1", "c2"], size=n)
    a = np.where(rng.random(n) < 0.7, np.char.replace(c, "c", "a"),
                 rng.choice(["a0", "a1", "a2"], size=n))
    b = np.where((a == "a0") | (rng.random(n) < 0.3), 1, 2)
    X = pd.DataFrame({"A": a, "B": b})
    bn = MultimodalBayesNet([("C", "A"), ("C", "B"), ("A", "B")], class_name="C").fit(X, c)
    joint = brute_joint(bn.explain(), bn.states_)
    return bn, joint, X, c


def test_predict_proba_with_missing_modality_equals_marginalisation(tiny):
    bn, joint, _, _ = tiny
    cases = [{"A": "a1", "B": 2}, {"A": "a2"}, {"B": 1}, {}]
    X = pd.DataFrame({"A": [case.get("A") for case in cases],
                      "B": [case.get("B", np.nan) for case in cases]})
    proba = bn.predict_proba(X)
    for row, case in zip(proba, cases, strict=True):
        expected = brute_posterior(joint, "C", case).reindex(bn.classes_).to_numpy()
        np.testing.assert_allclose(row, expected, rtol=1e-9, atol=1e-12)
    assert bn.predict(X[:1])[0] == bn.classes_[np.argmax(proba[0])]


def test_predict_modality_equals_enumeration(tiny):
    bn, joint, X, _ = tiny
    posterior = bn.predict_modality("A", given={"B": 2, "C": "c0"})
    expected = brute_posterior(joint, "A", {"B": 2, "C": "c0"})
    np.testing.assert_allclose(posterior["probability"].loc[expected.index], expected, rtol=1e-9)
    assert posterior["probability"].is_monotonic_decreasing
    # the table form: one query per row, the target's own column ignored
    table = bn.predict_modality("B", X.iloc[:3])
    for i in range(3):
        expected = brute_posterior(joint, "B", {"A": X["A"].iloc[i]})
        np.testing.assert_allclose(table.iloc[i][expected.index], expected, rtol=1e-9)
    # nothing given: the marginal
    marginal = bn.predict_modality("B")
    np.testing.assert_allclose(marginal["probability"].loc[[1, 2]],
                               joint.groupby("B")["p"].sum().loc[[1, 2]], rtol=1e-9)


def test_log_likelihood_equals_enumeration(tiny):
    bn, joint, _, _ = tiny
    X = pd.DataFrame({"A": ["a0", "a2", None, None], "B": [1, np.nan, 2, np.nan]})
    y = np.array(["c1", "c2", "c0", "c1"])

    def brute(evidence):
        mask = np.ones(len(joint), dtype=bool)
        for var, state in evidence.items():
            if state is not None and not (isinstance(state, float) and np.isnan(state)):
                mask &= (joint[var] == state).to_numpy()
        return np.log(joint["p"][mask].sum())

    np.testing.assert_allclose(
        bn.log_likelihood(X), [brute({"A": a, "B": b}) for a, b in zip(X.A, X.B, strict=True)],
        rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        bn.log_likelihood(X, y),
        [brute({"A": a, "B": b, "C": c}) for a, b, c in zip(X.A, X.B, y, strict=True)],
        rtol=1e-9, atol=1e-12)


# -- parameter estimates against counting ----------------------------------------------


def test_cpds_equal_counts_mle_bdeu_dirichlet(tiny):
    _, _, X, c = tiny
    data = X.assign(C=c)
    counts = pd.crosstab([data["C"], data["A"]], data["B"])  # N_ijk of B given (C, A)
    for estimator in ("mle", "bdeu", "dirichlet"):
        kwargs = {"estimator": estimator, "equivalent_sample_size": 6.0, "pseudo_count": 0.5}
        bn = MultimodalBayesNet([("C", "A"), ("C", "B"), ("A", "B")], class_name="C",
                                **kwargs).fit(X, c)
        table = bn.explain("B")
        full = counts.reindex(table.index, fill_value=0).to_numpy(dtype=float)
        if estimator == "bdeu":  # alpha = ess / (r q) per cell
            full = full + 6.0 / (2 * 9)
        elif estimator == "dirichlet":
            full = full + 0.5
        np.testing.assert_allclose(table.to_numpy(), full / full.sum(axis=1, keepdims=True),
                                   rtol=1e-9, err_msg=estimator)
        np.testing.assert_allclose(table.sum(axis=1), 1.0)
    prior = bn.explain("C")
    assert list(prior.index) == ["prior"]


def test_missing_training_cells_are_dropped_per_family():
    X = pd.DataFrame({"A": ["x", "y", None, "x", "y", "x"], "B": [0, 0, 1, np.nan, 1, 1]})
    y = np.array([0, 1, 1, 0, 1, 0])
    bn = MultimodalBayesNet(estimator="mle").fit(X, y)
    observed = X.assign(y=y).dropna(subset=["A"])
    expected = pd.crosstab(observed["y"], observed["A"], normalize="index")
    np.testing.assert_allclose(bn.explain("A").to_numpy(), expected.to_numpy())
    observed = X.assign(y=y).dropna(subset=["B"])
    expected = pd.crosstab(observed["y"], observed["B"], normalize="index")
    np.testing.assert_allclose(bn.explain("B").to_numpy(), expected.to_numpy())


def test_bic_score_equals_formula(tiny):
    bn, _, X, c = tiny
    data = X.assign(C=c)
    n = len(data)
    loglik, n_params = 0.0, 0
    for var, parents in (("C", []), ("A", ["C"]), ("B", ["C", "A"])):
        groups = data.groupby(parents + [var]).size() if parents else data.groupby(var).size()
        totals = (groups.groupby(level=list(range(len(parents)))).transform("sum")
                  if parents else groups.sum())
        loglik += float((groups * np.log(groups / totals)).sum())
        n_parent_configs = int(np.prod([len(bn.states_[p]) for p in parents]))
        n_params += n_parent_configs * (len(bn.states_[var]) - 1)
    expected = loglik - 0.5 * np.log(n) * n_params
    assert bn.score_structure(X, c, scoring_method="bic") == pytest.approx(expected, rel=1e-9)


# -- templates and constraints -----------------------------------------------------------


def test_structure_templates():
    X, y = shapes_xy(500, 0)
    nb = MultimodalBayesNet("naive_bayes", class_name="scene").fit(X, y)
    assert nb.edges_ == sorted(("scene", v) for v in FEATURES)
    chain = MultimodalBayesNet("chain", class_name="scene").fit(X, y)
    assert chain.edges_ == sorted([("scene", "shape"), ("shape", "colour"), ("colour", "size"),
                                   ("size", "count")])
    no_class = MultimodalBayesNet("chain").fit(X[["shape", "size"]])
    assert no_class.edges_ == [("shape", "size")]
    assert not hasattr(no_class, "classes_")
    with pytest.raises(ValueError, match="no class"):
        no_class.predict(X[["shape", "size"]])
    tan = MultimodalBayesNet("tan", class_name="scene").fit(X, y)
    extra = [e for e in tan.edges_ if "scene" not in e]
    assert {("scene", v) for v in FEATURES} <= set(tan.edges_)
    # a tree over the features: n - 1 edges, connected, each feature at most one feature parent
    assert len(extra) == len(FEATURES) - 1
    assert len(skeleton(extra)) == 3 and len({c for _, c in extra}) == 3


def test_black_and_white_lists():
    X, y = shapes_xy(1000, 0)
    bn = MultimodalBayesNet("learn", class_name="scene", black_list=[("shape", "size"),
                                                                     ("size", "shape")],
                            white_list=[("colour", "count")]).fit(X, y)
    assert skeleton(bn.edges_).isdisjoint({frozenset(("shape", "size"))})
    assert ("colour", "count") in bn.edges_
    free = MultimodalBayesNet("learn", class_name="scene", class_root=False).fit(X, y)
    rooted = MultimodalBayesNet("learn", class_name="scene").fit(X, y)
    assert not any(child == "scene" for _, child in rooted.edges_)
    assert skeleton(free.edges_) == skeleton(rooted.edges_)


def test_plot_and_explain_layout():
    import matplotlib

    matplotlib.use("Agg")
    X, y = shapes_xy(300, 0)
    bn = MultimodalBayesNet("learn", class_name="scene").fit(X, y)
    ax = bn.plot(descriptions=True)
    names = [t.get_text().split("\n")[0] for t in ax.texts if type(t).__name__ == "Text"]
    assert sorted(names) == sorted(bn.variables_)
    assert sum(1 for t in ax.texts if type(t).__name__ == "Annotation") == len(bn.edges_)
    cpds = bn.explain()
    for var, frame in cpds.items():
        assert list(frame.columns) == bn.states_[var]
        np.testing.assert_allclose(frame.sum(axis=1), 1.0)


# -- errors and policies ------------------------------------------------------------------


def test_errors_name_sample_and_variable():
    X, y = shapes_xy(200, 0)
    bn = MultimodalBayesNet(class_name="scene").fit(X, y)
    bad = X.iloc[:3].copy()
    bad.loc[bad.index[2], "shape"] = "hexagon"
    with pytest.raises(ValueError, match=r"sample 2, variable 'shape'.*'hexagon'"):
        bn.predict(bad)
    lenient = clone(bn).set_params(unknown_state="missing").fit(X, y)
    with pytest.warns(UserWarning, match="1 cell"):
        p_unknown = lenient.predict_proba(bad)
    as_missing = bad.copy()
    as_missing.loc[as_missing.index[2], "shape"] = None
    np.testing.assert_allclose(p_unknown, lenient.predict_proba(as_missing))
    with pytest.raises(ValueError, match="cycle"):
        MultimodalBayesNet([("scene", "shape"), ("shape", "size"), ("size", "shape")],
                           class_name="scene").fit(X, y)
    with pytest.raises(ValueError, match="not a variable"):
        MultimodalBayesNet([("scene", "texture")], class_name="scene").fit(X, y)
    with pytest.raises(ValueError, match="needs the class"):
        MultimodalBayesNet("naive_bayes").fit(X)
    with pytest.raises(ValueError, match="also a column"):
        MultimodalBayesNet(class_name="shape").fit(X, y)
    with pytest.raises(ValueError, match="missing for samples"):
        MultimodalBayesNet().fit(X.iloc[:3], ["a", None, "b"])
    with pytest.raises(NotFittedError):
        MultimodalBayesNet().predict(X)
    with pytest.raises(ValueError, match="not a state"):
        bn.predict_modality("colour", given={"shape": "hexagon"})


def test_mle_zero_probability_evidence_falls_back_to_marginal():
    X = pd.DataFrame({"A": ["x", "x", "y", "y"], "B": ["u", "u", "v", "v"]})
    y = np.array([0, 0, 1, 1])
    bn = MultimodalBayesNet(estimator="mle").fit(X, y)
    impossible = pd.DataFrame({"A": ["x"], "B": ["v"]})  # P = 0 under both classes
    with pytest.warns(UserWarning, match="probability 0"):
        proba = bn.predict_proba(impossible)
    np.testing.assert_allclose(proba, [[0.5, 0.5]])


# -- the discretizer inside the network, on media -------------------------------------------


def _mean_colour(images):
    return np.vstack([np.asarray(img, dtype=float).reshape(-1, 3).mean(axis=0)
                      for img in images])


@pytest.fixture(scope="module")
def shapes_media():
    from sklearn.preprocessing import FunctionTransformer

    from mmfuse.text import TextVectorizer

    data = make_shapes(180, random_state=0, image_size=24)
    labels = np.asarray(data.target_names)[data.target]
    frame = data.frame[["image", "text"]]
    disc = ModalityDiscretizer([("image", FunctionTransformer(_mean_colour), "image"),
                                ("text", TextVectorizer(), "text")],
                               method="supervised", cv=3, random_state=0)
    bn = MultimodalBayesNet(discretizer=disc, class_name="scene").fit(frame, labels)
    return bn, frame, labels


def test_media_network_missing_modality_and_cross_modal_query(shapes_media):
    bn, frame, _ = shapes_media
    states = bn.discretizer_.transform(frame)
    no_text = frame.assign(text=None)
    proba = bn.predict_proba(no_text.iloc[:5])
    joint = brute_joint(bn.explain(), bn.states_)
    for i in range(5):
        image_state = int(states["image"].iloc[i])
        expected = brute_posterior(joint, "scene", {"image": image_state})
        np.testing.assert_allclose(proba[i], expected.reindex(bn.classes_), rtol=1e-9)
    # "what does the text probably say, given this image?"
    answer = bn.predict_modality("text", given={"image": frame["image"].iloc[0]})
    expected = brute_posterior(joint, "text", {"image": int(states["image"].iloc[0])})
    np.testing.assert_allclose(answer["probability"].loc[expected.index], expected, rtol=1e-9)
    assert answer["description"].str.contains(":").all()  # "class: top terms"
    assert set(answer["description"]) == set(bn.discretizer_.state_descriptions_["text"])


def test_media_network_pickles_and_clones(shapes_media):
    bn, frame, labels = shapes_media
    restored = pickle.loads(pickle.dumps(bn))
    np.testing.assert_allclose(restored.predict_proba(frame.iloc[:10]),
                               bn.predict_proba(frame.iloc[:10]))
    params = clone(bn).get_params()
    assert params["discretizer__method"] == "supervised"
    assert not hasattr(clone(bn), "model_")


def test_compat_legacy_hill_climbing_path_agrees():
    """The pgmpy <= 1.0 search API (still present, deprecated, in 1.1) gives the same DAG."""
    X, y = shapes_xy(1000, 0)
    data = compat.pd.DataFrame({"scene": y.astype(object), **{c: X[c].astype(object)
                                                             for c in FEATURES}})
    states = {c: sorted(data[c].unique()) for c in data}
    forbidden = [(v, "scene") for v in FEATURES]
    with compat.quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new = compat.hill_climb(data, state_names=states, forbidden=forbidden)
        score = compat.make_score("bic", data, states, legacy=True)
        old = compat._hill_climb_estimate(data, states, score, forbidden, [], None, 100, False)
    assert new == old


@parametrize_with_checks([MultimodalBayesNet(),
                          MultimodalBayesNet(estimator="dirichlet", pseudo_count=0.5)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. states unseen in fit
        check(estimator)
