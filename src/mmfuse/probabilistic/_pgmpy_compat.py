"""A thin layer over pgmpy, whose API moved between 0.1.x, 1.0 and 1.1+.

Everything mmfuse needs from pgmpy goes through the functions here, so that
the rest of :mod:`mmfuse.probabilistic` is written once:

=====================  =========================  ==============================
                       pgmpy 0.1.x                pgmpy 1.1+
=====================  =========================  ==============================
network                ``BayesianNetwork``        ``DiscreteBayesianNetwork``
structure scores       ``BicScore``, ``BDeuScore``  ``pgmpy.structure_score.BIC``,
                       ``K2Score``                ``BDeu``, ``K2``
hill climbing          ``HillClimbSearch(data)``  ``pgmpy.causal_discovery.
                       ``.estimate(black_list=,`` ``HillClimbSearch(...).fit(data)``
                       ``fixed_edges=)``          with ``ExpertKnowledge``
parameters             ``model.fit(data,``        ``model.fit(data, estimator=``
                       ``estimator=<class>,...)`` ``DiscreteMLE(...))``
=====================  =========================  ==============================

pgmpy 1.0 sits in between (``pgmpy.estimators.BIC`` and ``HillClimbSearch(data)
.estimate(expert_knowledge=...)``); every function picks the newest API that
the installed pgmpy offers. pgmpy logs, warns about deprecations and shows
progress bars; :func:`quiet` silences all of it unless ``verbose`` asks for it.
"""

from __future__ import annotations

import functools
import inspect
import logging
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

SCORES = ("bic", "bdeu", "k2")
_SCORE_NAMES = {  # newest name first
    "bic": ("BIC", "BicScore"),
    "bdeu": ("BDeu", "BDeuScore", "BdeuScore"),
    "k2": ("K2", "K2Score"),
}


@functools.cache
def _pgmpy():
    """pgmpy's network class and inference engine, imported on first use (pgmpy is slow to
    import, and warns at import time about the modules it is moving)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgmpy
        from pgmpy.inference import VariableElimination

        try:  # pgmpy >= 1.0
            from pgmpy.models import DiscreteBayesianNetwork as network
        except ImportError:  # pgmpy 0.1.x
            from pgmpy.models import BayesianNetwork as network
    return pgmpy.__version__, network, VariableElimination


def pgmpy_version() -> str:
    """The installed pgmpy version."""
    return _pgmpy()[0]


@contextmanager
def quiet(verbose: int = 0):
    """Silence pgmpy's log messages and warnings (kept when ``verbose >= 2``)."""
    if verbose >= 2:
        yield
        return
    logger = logging.getLogger("pgmpy")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"pgmpy(\..*)?")
            warnings.filterwarnings("ignore", category=FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def new_network(nodes, edges):
    """An empty discrete Bayesian network with these nodes and edges."""
    model = _pgmpy()[1]()
    model.add_nodes_from(list(nodes))
    model.add_edges_from([tuple(e) for e in edges])
    return model


def _score_class(name: str, legacy: bool = False):
    if name not in _SCORE_NAMES:
        raise ValueError(f"scoring method must be one of {SCORES}, got {name!r}")
    modules = []
    if not legacy:
        try:
            import pgmpy.structure_score as new_scores  # pgmpy >= 1.1

            modules.append(new_scores)
        except ImportError:
            pass
    import pgmpy.estimators as old_scores

    modules.append(old_scores)
    for module in modules:
        for attr in _SCORE_NAMES[name]:
            if hasattr(module, attr):
                return getattr(module, attr)
    raise ImportError(f"pgmpy {pgmpy_version()} offers no {name!r} structure score")


def make_score(name: str, data: pd.DataFrame, state_names: dict, equivalent_sample_size=10.0,
               *, legacy=False):
    """A decomposable structure score (``"bic"``, ``"bdeu"``, ``"k2"``) over ``data``.

    ``legacy=True`` takes the class from ``pgmpy.estimators`` (what the pre-1.1
    ``HillClimbSearch.estimate`` accepts) even where ``pgmpy.structure_score`` exists.
    """
    cls = _score_class(name, legacy)
    kwargs = {"state_names": state_names}
    if name == "bdeu":
        kwargs["equivalent_sample_size"] = equivalent_sample_size
    return cls(data, **kwargs)


def structure_score(model, score) -> float:
    """Total score of a network's structure (sum of local scores)."""
    return float(score.score(model))


def hill_climb(data, *, state_names, scoring_method="bic", equivalent_sample_size=10.0,
               forbidden=(), required=(), max_indegree=None, tabu_length=100,
               show_progress=False) -> list[tuple]:
    """Greedy hill climbing over DAGs; returns the edges of the best DAG found."""
    forbidden, required = [tuple(e) for e in forbidden], [tuple(e) for e in required]
    try:  # pgmpy >= 1.1: sklearn-style causal discovery
        from pgmpy.causal_discovery import ExpertKnowledge, HillClimbSearch
    except ImportError:
        score = make_score(scoring_method, data, state_names, equivalent_sample_size,
                           legacy=True)
        return _hill_climb_estimate(data, state_names, score, forbidden, required,
                                    max_indegree, tabu_length, show_progress)
    score = make_score(scoring_method, data, state_names, equivalent_sample_size)
    search = HillClimbSearch(
        scoring_method=score, tabu_length=tabu_length, max_indegree=max_indegree,
        expert_knowledge=ExpertKnowledge(forbidden_edges=forbidden, required_edges=required),
        return_type="dag", show_progress=show_progress)
    search.fit(data)
    return sorted(search.causal_graph_.edges())


def _hill_climb_estimate(data, state_names, score, forbidden, required, max_indegree,
                         tabu_length, show_progress):
    """pgmpy 0.1.x and 1.0: ``HillClimbSearch(data).estimate(...)``."""
    from pgmpy.estimators import HillClimbSearch

    search = HillClimbSearch(data, state_names=state_names)
    params = inspect.signature(search.estimate).parameters
    kwargs = {"scoring_method": score, "tabu_length": tabu_length,
              "max_indegree": max_indegree, "show_progress": show_progress}
    if "expert_knowledge" in params:  # pgmpy 1.0
        from pgmpy.estimators import ExpertKnowledge

        kwargs["expert_knowledge"] = ExpertKnowledge(forbidden_edges=forbidden,
                                                     required_edges=required)
    else:  # pgmpy 0.1.x
        kwargs["black_list"] = forbidden or None
        kwargs["fixed_edges"] = set(required)
    return sorted(search.estimate(**kwargs).edges())


def tree_augmented_edges(data, *, class_node, root_node) -> list[tuple]:
    """Tree-augmented naive Bayes structure (Chow-Liu tree on conditional mutual information)."""
    from pgmpy.estimators import TreeSearch

    search = TreeSearch(data, root_node=root_node, n_jobs=1)
    dag = search.estimate(estimator_type="tan", class_node=class_node, show_progress=False)
    return sorted(dag.edges())


def fit_parameters(model, data, *, state_names, estimator="bdeu", equivalent_sample_size=5.0,
                   pseudo_count=1.0):
    """Fit the CPDs of ``model`` on ``data`` (NaN = unobserved, dropped per family).

    ``estimator``: ``"mle"`` (relative frequencies; unseen parent configurations
    get a uniform row), ``"bdeu"`` (posterior mean under the BDeu prior of
    ``equivalent_sample_size``) or ``"dirichlet"`` (``pseudo_count`` added to
    every cell, i.e. Laplace smoothing at 1; ``"k2"`` in pgmpy's terms).
    """
    try:  # pgmpy >= 1.1: estimator instances
        from pgmpy.parameter_estimator import DiscreteBayesianEstimator, DiscreteMLE
    except ImportError:
        return _fit_parameters_legacy(model, data, state_names, estimator,
                                      equivalent_sample_size, pseudo_count)
    if estimator == "mle":
        est = DiscreteMLE(state_names=state_names)
    elif estimator == "bdeu":
        est = DiscreteBayesianEstimator(state_names=state_names, prior_type="BDeu",
                                        equivalent_sample_size=equivalent_sample_size)
    else:
        est = DiscreteBayesianEstimator(state_names=state_names, prior_type="dirichlet",
                                        pseudo_counts=pseudo_count)
    model.fit(data, estimator=est)
    return model


def _fit_parameters_legacy(model, data, state_names, estimator, equivalent_sample_size,
                           pseudo_count):
    from pgmpy.estimators import BayesianEstimator, MaximumLikelihoodEstimator

    kwargs = {"state_names": state_names}
    params = inspect.signature(model.fit).parameters
    if "complete_samples_only" in params:  # else every row with a NaN would be dropped
        kwargs["complete_samples_only"] = False
    if "n_jobs" in params:  # 0.1.x defaults to n_jobs=-1 (one process per CPU)
        kwargs["n_jobs"] = 1
    if estimator == "mle":
        model.fit(data, estimator=MaximumLikelihoodEstimator, **kwargs)
    elif estimator == "bdeu":
        model.fit(data, estimator=BayesianEstimator, prior_type="BDeu",
                  equivalent_sample_size=equivalent_sample_size, **kwargs)
    else:
        pseudo = {}
        for var in model.nodes():
            n_parent_configs = int(np.prod([len(state_names[p]) for p in model.get_parents(var)]))
            pseudo[var] = np.full((len(state_names[var]), n_parent_configs), float(pseudo_count))
        model.fit(data, estimator=BayesianEstimator, prior_type="dirichlet",
                  pseudo_counts=pseudo, **kwargs)
    return model


def inference(model):
    """Exact inference engine (variable elimination) for a fitted network."""
    return _pgmpy()[2](model)


def query(engine, variables, evidence=None, joint=True):
    """Posterior factor over ``variables`` given ``evidence`` ({variable: state})."""
    return engine.query(variables=list(variables), evidence=evidence or None, joint=joint,
                        show_progress=False)


def factor_values(factor, variable, states) -> np.ndarray:
    """The values of a one-variable factor, in the order of ``states``."""
    names = factor.state_names[variable]
    values = np.asarray(factor.values, dtype=float)
    position = {s: i for i, s in enumerate(names)}
    return values[[position[s] for s in states]]


def cpd_array(cpd, order: list, state_names: dict) -> np.ndarray:
    """A CPD as an array ``P[child, parent_1, ..., parent_k]`` with axes in ``order``.

    ``order`` is ``[child, parent_1, ...]`` and states follow ``state_names``,
    whatever the order pgmpy keeps internally.
    """
    values = np.asarray(cpd.get_values(), dtype=float)
    variables = list(cpd.variables)
    cards = [len(cpd.state_names[v]) for v in variables]
    table = values.reshape(cards)
    for axis, var in enumerate(variables):
        position = {s: i for i, s in enumerate(cpd.state_names[var])}
        table = np.take(table, [position[s] for s in state_names[var]], axis=axis)
    return np.transpose(table, [variables.index(v) for v in order])
