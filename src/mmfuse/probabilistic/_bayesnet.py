"""A discrete Bayesian network over modalities (and a class), with a scikit-learn face."""

from __future__ import annotations

import numbers
import warnings
from numbers import Integral, Real

import networkx as nx
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from mmfuse._config import resolve_verbose
from mmfuse._modalities import as_table
from mmfuse.probabilistic import _pgmpy_compat as compat
from mmfuse.utils import is_missing_cell

STRUCTURES = ("naive_bayes", "chain", "tan", "learn")
ESTIMATORS = ("mle", "bdeu", "dirichlet")


class MultimodalBayesNet(ClassifierMixin, BaseEstimator):
    """Discrete Bayesian network over modality variables and a class, as a classifier.

    Every column of ``X`` is a discrete variable (a modality's state, e.g.
    from :class:`ModalityDiscretizer`) and ``y`` is one more, the class. The
    network factorises their joint distribution along a DAG, e.g. for a class
    ``C``, an image variable ``X`` and a text variable ``Y``::

        naive Bayes:  P(C, X, Y) = P(C) P(X | C) P(Y | C)
        chain:        P(C, X, Y) = P(C) P(X | C) P(Y | X)     (class -> X -> Y)

    so ``P(X) P(Y | X)`` between modalities is one conditional table you can
    read (:meth:`explain`). Questions are answered by exact inference
    (variable elimination, :class:`pgmpy.inference.VariableElimination`):
    ``P(C | observed)`` for :meth:`predict_proba`, where any modality may be
    missing (a NaN/None cell) and is then summed out, and
    ``P(Y | X = x)`` for cross-modal prediction (:meth:`predict_modality`).
    pgmpy is used through a compatibility layer that follows its API from
    0.1.x to 1.x.

    Parameters
    ----------
    structure : {"naive_bayes", "chain", "tan", "learn"} or list of (str, str), \
default="naive_bayes"
        The DAG. ``"naive_bayes"``: class -> every variable. ``"chain"``:
        class -> first column -> second column -> ... (without ``y``, just
        the chain of columns). ``"tan"``: tree-augmented naive Bayes, a
        Chow-Liu tree over the variables on their mutual information given
        the class (pgmpy ``TreeSearch``; fitted on the complete rows).
        ``"learn"``: greedy hill climbing on ``scoring_method`` within
        ``black_list``/``white_list`` (pgmpy ``HillClimbSearch``). A list
        gives the ``(parent, child)`` edges; the class is named ``class_name``.
    discretizer : ModalityDiscretizer or None, default=None
        When given, ``X`` is a table of media (or features) and this
        transformer (cloned and fitted in :meth:`fit`) turns it into the
        discrete variables; readable state descriptions come from it. When
        None, ``X`` already holds discrete states.
    class_name : str, default="class"
        Name of the class variable in the network.
    scoring_method : {"bic", "bdeu", "k2"}, default="bic"
        Structure score for ``structure="learn"`` and the default of
        :meth:`score_structure`.
    black_list : list of (str, str) or None, default=None
        Edges that ``structure="learn"`` must not add.
    white_list : list of (str, str) or None, default=None
        Edges that ``structure="learn"`` must keep (bnlearn's "whitelist";
        pgmpy's "required"/"fixed" edges).
    class_root : bool, default=True
        With ``structure="learn"``, forbid every edge into the class, so the
        class stays a root (the generative reading "class first").
    max_indegree : int or None, default=None
        Maximum number of parents per node for ``structure="learn"``.
    estimator : {"bdeu", "dirichlet", "mle"}, default="bdeu"
        Parameter estimate of each CPD from the counts: ``"mle"`` relative
        frequencies (a parent configuration never seen gets a uniform row);
        ``"bdeu"`` the posterior mean under a BDeu prior of
        ``equivalent_sample_size`` (spread evenly over each table's cells);
        ``"dirichlet"`` adds ``pseudo_count`` to every cell (1 is Laplace's
        rule). Missing cells are dropped per family (a row counts for every
        CPD whose variables it observes).
    equivalent_sample_size : float, default=5.0
        Prior strength of ``"bdeu"`` (parameters and the BDeu score).
    pseudo_count : float, default=1.0
        Prior count per cell of ``"dirichlet"``.
    unknown_state : {"error", "missing"}, default="error"
        A state at predict time that fit never saw: raise (naming the sample
        and variable), or treat the cell as unobserved (with a warning that
        counts such cells).
    verbose : int, bool or None, default=None
        2 and above let pgmpy's own logging, warnings and progress bars
        through (None: the global ``verbose``).

    Attributes
    ----------
    model_ : pgmpy DiscreteBayesianNetwork
        The fitted network (``BayesianNetwork`` under pgmpy 0.1.x).
    edges_ : list of (str, str)
        Its edges, sorted.
    variables_ : list of str
        All nodes: the class (when ``y`` was given) then the feature variables.
    feature_variables_ : list of str
        The variables from ``X``.
    states_ : dict of {str: list}
        States of every variable, in table order.
    state_descriptions_ : dict of {str: list of str}
        A readable description of every state (from the discretizer when
        there is one, else the state itself).
    classes_ : ndarray
        Class labels (when ``y`` was given).
    discretizer_ : ModalityDiscretizer
        The fitted discretizer (when ``discretizer`` is given).
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    ModalityDiscretizer : turns modality feature blocks into discrete variables.
    mmfuse.fusion.LateFusionClassifier : discriminative late fusion.

    Examples
    --------
    >>> import pandas as pd
    >>> from mmfuse.datasets import sample_shapes_latent
    >>> from mmfuse.probabilistic import MultimodalBayesNet
    >>> data = sample_shapes_latent(600, random_state=0)
    >>> X, y = data[["shape", "colour"]], data["scene"]
    >>> bn = MultimodalBayesNet("naive_bayes", class_name="scene").fit(X, y)
    >>> bn.edges_
    [('scene', 'colour'), ('scene', 'shape')]
    >>> bn.predict(pd.DataFrame({"shape": ["circle"], "colour": ["red"]}))
    array(['red_circles'], dtype=object)
    >>> no_colour = pd.DataFrame({"shape": ["circle"], "colour": [None]})  # text missing
    >>> bn.predict_proba(no_colour).round(2)
    array([[0.02, 0.04, 0.46, 0.03, 0.41, 0.04]])
    >>> bn.predict_modality("colour", given={"shape": "triangle"}).round(2)
            probability description
    colour
    blue           0.47        blue
    red            0.44         red
    green          0.09       green
    """

    _parameter_constraints = {
        "structure": [StrOptions(set(STRUCTURES)), list],
        "discretizer": [HasMethods(["fit", "transform"]), None],
        "class_name": [str],
        "scoring_method": [StrOptions(set(compat.SCORES))],
        "black_list": [list, None],
        "white_list": [list, None],
        "class_root": ["boolean"],
        "max_indegree": [Interval(Integral, 1, None, closed="left"), None],
        "estimator": [StrOptions(set(ESTIMATORS))],
        "equivalent_sample_size": [Interval(Real, 0, None, closed="neither")],
        "pseudo_count": [Interval(Real, 0, None, closed="neither")],
        "unknown_state": [StrOptions({"error", "missing"})],
        "verbose": ["verbose", None],
    }

    def __init__(self, structure="naive_bayes", *, discretizer=None, class_name="class",
                 scoring_method="bic", black_list=None, white_list=None, class_root=True,
                 max_indegree=None, estimator="bdeu", equivalent_sample_size=5.0,
                 pseudo_count=1.0, unknown_state="error", verbose=None):
        self.structure = structure
        self.discretizer = discretizer
        self.class_name = class_name
        self.scoring_method = scoring_method
        self.black_list = black_list
        self.white_list = white_list
        self.class_root = class_root
        self.max_indegree = max_indegree
        self.estimator = estimator
        self.equivalent_sample_size = equivalent_sample_size
        self.pseudo_count = pseudo_count
        self.unknown_state = unknown_state
        self.verbose = verbose

    # ==================================================================================
    # Fitting
    # ==================================================================================
    def fit(self, X, y=None):
        """Choose (or learn) the structure, then estimate every conditional table.

        Parameters
        ----------
        X : pandas DataFrame or 2-D array
            One row per sample. Without a discretizer, one discrete variable
            per column (any hashable states; NaN/None = unobserved); with one,
            the media table the discretizer expects.
        y : array-like of shape (n_samples,) or None
            Class labels. None fits a network over the columns of ``X`` only
            (then :meth:`predict` is unavailable, but :meth:`predict_modality`
            and :meth:`log_likelihood` work).

        Returns
        -------
        self : MultimodalBayesNet
        """
        self._validate_params()
        for attr in ("classes_", "discretizer_"):
            if hasattr(self, attr):  # a refit must not keep what the last fit learned
                delattr(self, attr)
        verbose = resolve_verbose(self.verbose)
        if self.discretizer is not None:
            table = as_table(X)
            if table.shape[0] == 0:
                raise ValueError("MultimodalBayesNet: found an input with 0 samples; at least "
                                 "one sample is required")
            _check_feature_names(self, table, reset=True)
            _check_n_features(self, table, reset=True)
            if y is not None:
                y = _check_targets(y, table.shape[0])
            self.discretizer_ = clone(self.discretizer)
            states = self.discretizer_.fit_transform(table, y)
            columns = [str(c) for c in states.columns]
            labels = {c: _column_labels(states[c].to_numpy(dtype=object), c)
                      for c in columns}
        else:
            columns, labels = self._discrete_columns(X, reset=True)
            if y is not None:
                y = _check_targets(y, len(next(iter(labels.values()))))
        self.feature_variables_ = columns
        if y is not None:
            if self.class_name in columns:
                raise ValueError(f"MultimodalBayesNet: class_name {self.class_name!r} is also "
                                 f"a column of X; choose another class_name")
            self.classes_ = np.unique(y)
            labels = {self.class_name: y.tolist(), **labels}
        has_class = y is not None
        self.variables_ = list(labels)
        self.states_ = {}
        for var, values in labels.items():
            self.states_[var] = self._states_of(var, values)
        self.state_descriptions_ = {var: self._descriptions_of(var)
                                    for var in self.variables_}
        data = _pgmpy_frame(labels)
        with compat.quiet(verbose):
            self.edges_ = self._structure_edges(data, has_class, verbose)
            model = compat.new_network(self.variables_, self.edges_)
            compat.fit_parameters(model, data, state_names=self.states_,
                                  estimator=self.estimator,
                                  equivalent_sample_size=self.equivalent_sample_size,
                                  pseudo_count=self.pseudo_count)
        self.model_ = model
        self._engine = compat.inference(model)
        return self

    def _discrete_columns(self, X, *, reset: bool):
        """Validate a table of discrete states; return column names and labels per column."""
        if isinstance(X, pd.DataFrame):
            # Keep object cells (strings, ints) as they are; sklearn checks names and width.
            _check_feature_names(self, X, reset=reset)
            _check_n_features(self, X, reset=reset)
            if X.shape[0] == 0 or X.shape[1] == 0:
                raise ValueError(f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} "
                                 f"feature(s) (shape={X.shape}) while a minimum of 1 is "
                                 f"required by MultimodalBayesNet.")
            _reject_inf(X)
            names = [str(c) for c in X.columns]
            cells = {name: X.iloc[:, j].to_numpy(dtype=object) for j, name in enumerate(names)}
        else:
            array = validate_data(self, X, reset=reset, dtype=None,
                                  ensure_all_finite="allow-nan", ensure_min_samples=1)
            names = ([str(c) for c in self.feature_names_in_]
                     if hasattr(self, "feature_names_in_") else
                     [f"x{j}" for j in range(array.shape[1])])
            cells = {name: array[:, j] for j, name in enumerate(names)}
        return names, {name: _column_labels(values, name) for name, values in cells.items()}

    def _states_of(self, var, values) -> list:
        if var == self.class_name and hasattr(self, "classes_"):
            return self.classes_.tolist()
        if self.discretizer is not None and var in self.discretizer_.n_states_:
            return list(range(self.discretizer_.n_states_[var]))
        observed = {v for v in values if v is not None}
        if not observed:
            raise ValueError(f"MultimodalBayesNet: variable {var!r} is missing in every "
                             f"training sample; nothing to learn its table from")
        return _sorted_states(observed)

    def _descriptions_of(self, var) -> list[str]:
        states = self.states_[var]
        if self.discretizer is not None and var in self.discretizer_.state_descriptions_:
            return list(self.discretizer_.state_descriptions_[var])
        return [str(s) for s in states]

    def _structure_edges(self, data, has_class, verbose) -> list[tuple]:
        structure, features, c = self.structure, self.feature_variables_, self.class_name
        if isinstance(structure, list):
            return self._given_edges(structure)
        if structure in ("naive_bayes", "tan") and not has_class:
            raise ValueError(f"MultimodalBayesNet: structure={structure!r} needs the class "
                             f"labels y")
        if structure == "naive_bayes" or (structure == "tan" and len(features) < 2):
            return sorted((c, v) for v in features)
        if structure == "chain":
            chain = ([c] if has_class else []) + features
            return sorted(zip(chain[:-1], chain[1:], strict=True))
        if structure == "tan":
            complete = data.dropna()
            if len(complete) < 2:
                raise ValueError("MultimodalBayesNet: structure='tan' needs at least 2 training "
                                 "samples with every variable observed")
            return compat.tree_augmented_edges(complete, class_node=c, root_node=features[0])
        forbidden = [tuple(e) for e in (self.black_list or [])]
        if has_class and self.class_root:
            forbidden += [(v, c) for v in features]
        required = self._given_edges(self.white_list or [], check_acyclic=False)
        return compat.hill_climb(
            data, state_names=self.states_, scoring_method=self.scoring_method,
            equivalent_sample_size=self.equivalent_sample_size, forbidden=forbidden,
            required=required, max_indegree=self.max_indegree, show_progress=verbose >= 2)

    def _given_edges(self, edges, check_acyclic=True) -> list[tuple]:
        out = []
        for edge in edges:
            if not isinstance(edge, (list, tuple)) or len(edge) != 2:
                raise ValueError(f"MultimodalBayesNet: an edge must be a (parent, child) pair, "
                                 f"got {edge!r}")
            parent, child = edge
            for node in (parent, child):
                if node not in self.variables_:
                    raise ValueError(f"MultimodalBayesNet: edge {tuple(edge)!r} names "
                                     f"{node!r}, which is not a variable; variables are "
                                     f"{self.variables_}")
            out.append((parent, child))
        if check_acyclic:
            graph = nx.DiGraph(out)
            if not nx.is_directed_acyclic_graph(graph):
                cycle = nx.find_cycle(graph)
                raise ValueError(f"MultimodalBayesNet: the given edges contain a cycle {cycle}; "
                                 "a Bayesian network must be acyclic")
        return sorted(set(out))

    # ==================================================================================
    # Inference
    # ==================================================================================
    def _inference(self):
        return self._engine

    def __getstate__(self):
        state = super().__getstate__().copy()
        state.pop("_engine", None)  # an inference engine is rebuilt, not pickled
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "model_" in state:
            self._engine = compat.inference(self.model_)

    def _evidence_rows(self, X, *, drop=()) -> list[tuple]:
        """Labels of the feature variables for each row of X (None = unobserved)."""
        if self.discretizer is not None:
            table = as_table(X)
            _check_feature_names(self, table, reset=False)
            _check_n_features(self, table, reset=False)
            states = self.discretizer_.transform(table)
            labels = {c: _column_labels(states[c].to_numpy(dtype=object), c)
                      for c in self.feature_variables_}
        else:
            _, labels = self._discrete_columns(X, reset=False)
        n_unknown = 0
        for var, values in labels.items():
            known = set(self.states_[var])
            for i, value in enumerate(values):
                if value is not None and value not in known:
                    if self.unknown_state == "error":
                        raise ValueError(
                            f"MultimodalBayesNet: sample {i}, variable {var!r}: state "
                            f"{value!r} was not seen in fit (states: {self.states_[var]}); "
                            "set unknown_state='missing' to treat such cells as unobserved")
                    values[i] = None
                    n_unknown += 1
            if var in drop:
                labels[var] = [None] * len(values)
        if n_unknown:
            warnings.warn(f"MultimodalBayesNet: {n_unknown} cell(s) held states not seen in fit "
                          "and were treated as unobserved", UserWarning, stacklevel=3)
        return list(zip(*(labels[v] for v in self.feature_variables_), strict=True))

    def _posterior(self, target: str, evidence: dict) -> np.ndarray:
        """P(target | evidence) over ``states_[target]``, by variable elimination."""
        with compat.quiet(resolve_verbose(self.verbose)):
            with np.errstate(all="ignore"):
                factor = compat.query(self._inference(), [target], evidence)
            p = compat.factor_values(factor, target, self.states_[target])
            if not (np.all(np.isfinite(p)) and p.sum() > 0):
                warnings.warn(f"MultimodalBayesNet: the evidence {evidence} has probability 0 "
                              f"under the model (an 'mle' table with a zero?); returning the "
                              f"marginal of {target!r}", UserWarning, stacklevel=3)
                factor = compat.query(self._inference(), [target], None)
                p = compat.factor_values(factor, target, self.states_[target])
        return p / p.sum()

    def _posteriors(self, target: str, rows: list[tuple]) -> np.ndarray:
        """One posterior per row; each distinct evidence pattern is queried once."""
        cache = {}
        out = np.empty((len(rows), len(self.states_[target])))
        for i, row in enumerate(rows):
            if row not in cache:
                evidence = {v: s for v, s in zip(self.feature_variables_, row, strict=True)
                            if s is not None and v != target}
                cache[row] = self._posterior(target, evidence)
            out[i] = cache[row]
        return out

    def _check_class(self):
        check_is_fitted(self, "model_")
        if not hasattr(self, "classes_"):
            raise ValueError("MultimodalBayesNet was fitted without y: it has no class to "
                             "predict; use predict_modality or log_likelihood")

    def predict_proba(self, X):
        """Posterior class probabilities ``P(class | observed variables)``.

        Missing cells (None/NaN) are unobserved: variable elimination sums
        them out, so a sample lacking a modality is classified from the
        others (and a sample lacking all gets the class prior).

        Parameters
        ----------
        X : pandas DataFrame or 2-D array
            As in :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        self._check_class()
        return self._posteriors(self.class_name, self._evidence_rows(X))

    def predict(self, X):
        """Most probable class of each sample (missing modalities summed out).

        Parameters
        ----------
        X : pandas DataFrame or 2-D array
            As in :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_modality(self, variable, given=None, *, discretize=None):
        """Cross-modal prediction: the posterior of one variable given others.

        "What does the text probably say, given this image?" is
        ``predict_modality("text", given={"image": image})``: the image is
        discretised (when the network has a discretizer), observed, and
        variable elimination gives ``P(text | image)``, with a readable
        description of each text state (its top terms).

        Parameters
        ----------
        variable : str
            The variable to predict: a modality variable or the class.
        given : dict, pandas DataFrame or None, default=None
            A dict ``{variable: value}`` for one query, where a modality's
            value is a raw cell (when ``discretize``) or a state, and the
            class's value a class label. A DataFrame of rows like ``X`` asks
            one query per row, ignoring ``variable``'s own column. None gives
            the marginal ``P(variable)``.
        discretize : bool or None, default=None
            Whether dict values of modalities are raw cells to pass through
            the discretizer. None: when the network has one.

        Returns
        -------
        posterior : pandas DataFrame
            For a dict or None: one row per state of ``variable`` (index),
            columns ``probability`` and ``description``, most probable first.
            For a DataFrame: one row per row of ``given``, one column per
            state.
        """
        check_is_fitted(self, "model_")
        if variable not in self.variables_:
            raise ValueError(f"MultimodalBayesNet: no variable {variable!r}; variables are "
                             f"{self.variables_}")
        states = pd.Index(self.states_[variable], name=variable)
        if given is not None and not isinstance(given, dict):
            rows = self._evidence_rows(given, drop=(variable,))
            index = given.index if isinstance(given, pd.DataFrame) else None
            return pd.DataFrame(self._posteriors(variable, rows), index=index, columns=states)
        evidence = self._evidence_from_dict(given or {}, discretize)
        if variable in evidence:
            raise ValueError(f"MultimodalBayesNet: {variable!r} is both the query and given")
        p = self._posterior(variable, evidence)
        frame = pd.DataFrame({"probability": p,
                              "description": self.state_descriptions_[variable]}, index=states)
        return frame.sort_values("probability", ascending=False, kind="stable")

    def _evidence_from_dict(self, given: dict, discretize) -> dict:
        if discretize is None:
            discretize = self.discretizer is not None
        if discretize and self.discretizer is None:
            raise ValueError("MultimodalBayesNet: discretize=True needs a discretizer")
        evidence = {}
        raw = {}
        for var, value in given.items():
            if var not in self.variables_:
                raise ValueError(f"MultimodalBayesNet: given names {var!r}, which is not a "
                                 f"variable; variables are {self.variables_}")
            if np.ndim(value) == 0 and is_missing_cell(value):
                continue  # an explicitly missing modality: leave it unobserved
            if discretize and var in self.feature_variables_:
                raw[var] = value
            else:
                label = _label(value, var, 0)
                if label not in set(self.states_[var]):
                    raise ValueError(f"MultimodalBayesNet: given {var}={value!r} is not a "
                                     f"state of {var!r}; states are {self.states_[var]}")
                evidence[var] = label
        if raw:
            evidence.update(self._discretize_cells(raw))
        return evidence

    def _discretize_cells(self, raw: dict) -> dict:
        """Discretise one raw cell per modality (a one-row table for the discretizer)."""
        columns_of = {name: cols for name, _, cols in self.discretizer_.modalities}
        names = getattr(self.discretizer_, "feature_names_in_", None)
        if names is None:
            raise ValueError("MultimodalBayesNet: raw cells in `given` need a discretizer fitted "
                             "on a DataFrame with named columns; pass states with "
                             "discretize=False instead")
        row = {str(c): [None] for c in names}
        for var, cell in raw.items():
            cols = columns_of[var]
            if not isinstance(cols, str):
                raise ValueError(f"MultimodalBayesNet: modality {var!r} spans several columns "
                                 f"{cols!r}; give its state with discretize=False instead")
            row[cols] = [cell]
        frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in row.items()})
        states = self.discretizer_.transform(frame)
        out = {}
        for var in raw:
            code = states[var].iloc[0]
            if not np.isnan(code):
                out[var] = int(code)
        return out

    # ==================================================================================
    # Scores and reading the model
    # ==================================================================================
    def _labels_with_class(self, X, y) -> dict:
        rows = self._evidence_rows(X)
        labels = {v: [r[j] for r in rows] for j, v in enumerate(self.feature_variables_)}
        if y is not None:
            self._check_class()
            y = _check_targets(y, len(rows))
            unknown = set(y.tolist()) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"MultimodalBayesNet: y holds labels not seen in fit: "
                                 f"{sorted(unknown, key=str)}")
            labels = {self.class_name: y.tolist(), **labels}
        return labels

    def log_likelihood(self, X, y=None):
        """Log-probability of each sample's observed variables, ``log P(observed)``.

        Unobserved cells (and the class, when ``y`` is None) are summed out.
        A complete sample's log-probability is the sum of its CPD entries
        (the factorisation); an incomplete one's is built by the chain rule
        from variable-elimination queries.

        Parameters
        ----------
        X : pandas DataFrame or 2-D array
            As in :meth:`fit`.
        y : array-like of shape (n_samples,) or None
            Class labels to include as observed.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "model_")
        labels = self._labels_with_class(X, y)
        order = [v for v in nx.topological_sort(self._graph()) if v in labels]
        n = len(next(iter(labels.values())))
        out = np.empty(n)
        complete = [all(labels[v][i] is not None for v in self.variables_ if v in labels)
                    and len(labels) == len(self.variables_) for i in range(n)]
        tables = self._cpd_arrays() if any(complete) else {}
        cache = {}
        for i in range(n):
            row = tuple(labels[v][i] for v in order)
            if row in cache:
                out[i] = cache[row]
                continue
            if complete[i]:
                value = sum(np.log(tables[v][0][tuple(
                    self._index_of(u, labels[u][i]) for u in tables[v][1])])
                    for v in self.variables_)
            else:
                value, evidence = 0.0, {}
                for var, state in zip(order, row, strict=True):
                    if state is None:
                        continue
                    p = self._posterior(var, evidence)
                    value += np.log(p[self._index_of(var, state)])
                    evidence[var] = state
            cache[row] = out[i] = value
        return out

    def _index_of(self, var, state) -> int:
        return self.states_[var].index(state)

    def _graph(self) -> nx.DiGraph:
        graph = nx.DiGraph()
        graph.add_nodes_from(self.variables_)
        graph.add_edges_from(self.edges_)
        return graph

    def _parents(self, var) -> list:
        parents = set(self.model_.get_parents(var))
        return [v for v in self.variables_ if v in parents]

    def _cpd_arrays(self) -> dict:
        out = {}
        for var in self.variables_:
            order = [var, *self._parents(var)]
            out[var] = (compat.cpd_array(self.model_.get_cpds(var), order, self.states_), order)
        return out

    def score_structure(self, X, y=None, *, scoring_method=None):
        """Decomposable score (BIC, BDeu or K2) of the fitted structure on data.

        Higher is better; compare structures on the same data. Unobserved
        cells are dropped per family, as in fitting.

        Parameters
        ----------
        X : pandas DataFrame or 2-D array
            As in :meth:`fit`.
        y : array-like of shape (n_samples,) or None
            Class labels; required when the network has a class.
        scoring_method : {"bic", "bdeu", "k2"} or None, default=None
            None: the estimator's ``scoring_method``.

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "model_")
        if hasattr(self, "classes_") and y is None:
            raise ValueError("MultimodalBayesNet: this network has a class; pass y to "
                             "score_structure")
        labels = self._labels_with_class(X, y)
        method = self.scoring_method if scoring_method is None else scoring_method
        with compat.quiet(resolve_verbose(self.verbose)):
            score = compat.make_score(method, _pgmpy_frame(labels), self.states_,
                                      self.equivalent_sample_size)
            return compat.structure_score(self.model_, score)

    def explain(self, variable=None):
        """The conditional probability tables, as DataFrames.

        Parameters
        ----------
        variable : str or None, default=None
            One variable's table, or (None) every table.

        Returns
        -------
        cpds : pandas DataFrame or dict of {str: DataFrame}
            ``P(variable | parents)``: one row per configuration of the
            parents (a MultiIndex for several parents; a single ``"prior"``
            row for a root), one column per state; rows sum to 1. The same
            layout as ``make_shapes(...).truth["cpds"]``.
        """
        check_is_fitted(self, "model_")
        if variable is not None:
            if variable not in self.variables_:
                raise ValueError(f"MultimodalBayesNet: no variable {variable!r}; variables "
                                 f"are {self.variables_}")
            return self._cpd_frame(variable)
        return {var: self._cpd_frame(var) for var in self.variables_}

    def _cpd_frame(self, var) -> pd.DataFrame:
        parents = self._parents(var)
        table = compat.cpd_array(self.model_.get_cpds(var), [var, *parents], self.states_)
        columns = pd.Index(self.states_[var], name=var)
        if not parents:
            return pd.DataFrame(table.reshape(1, -1), index=pd.Index(["prior"]), columns=columns)
        values = np.moveaxis(table, 0, -1).reshape(-1, len(self.states_[var]))
        if len(parents) == 1:
            index = pd.Index(self.states_[parents[0]], name=parents[0])
        else:
            index = pd.MultiIndex.from_product([self.states_[p] for p in parents], names=parents)
        return pd.DataFrame(values, index=index, columns=columns)

    def plot(self, ax=None, *, descriptions=False):
        """Draw the network with matplotlib, parents above their children.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw (None: a new figure).
        descriptions : bool, default=False
            Write the number of states under each name.

        Returns
        -------
        ax : matplotlib Axes
        """
        import matplotlib.pyplot as plt

        check_is_fitted(self, "model_")
        graph = self._graph()
        if ax is None:
            _, ax = plt.subplots(figsize=(1.8 + 1.6 * len(self.variables_) ** 0.8, 3.5))
        layers = list(nx.topological_generations(graph))
        pos = {}
        for depth, layer in enumerate(layers):
            layer = [v for v in self.variables_ if v in layer]
            for k, node in enumerate(layer):
                pos[node] = ((k + 1) / (len(layer) + 1), 1.0 - (depth + 0.5) / len(layers))
        for parent, child in self.edges_:
            ax.annotate("", xy=pos[child], xytext=pos[parent],
                        arrowprops={"arrowstyle": "-|>", "color": "0.3", "shrinkA": 18,
                                    "shrinkB": 18, "lw": 1.2})
        for node, (x, y) in pos.items():
            text = f"{node}\n({len(self.states_[node])} states)" if descriptions else str(node)
            is_class = node == self.class_name and hasattr(self, "classes_")
            ax.text(x, y, text, ha="center", va="center", fontsize=10,
                    bbox={"boxstyle": "round,pad=0.4",
                          "fc": "#f6d8a8" if is_class else "#dce8f6", "ec": "0.3"})
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_axis_off()
        return ax

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.target_tags.required = False
        return tags


# -- labels ----------------------------------------------------------------------------


def _label(value, var, i):
    """A cell as a hashable state label (None when missing); integral floats become ints."""
    if is_missing_cell(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"MultimodalBayesNet: sample {i}, variable {var!r}: Input "
                             f"contains infinity, which is not a state")
        return int(value) if value.is_integer() else value
    if isinstance(value, (str, np.str_)):
        return str(value)
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"MultimodalBayesNet: sample {i}, variable {var!r}: a state "
                        f"argument must be a string or a number, got {type(value).__name__}"
                        ) from None
    return value


def _column_labels(values, var) -> list:
    return [_label(v, var, i) for i, v in enumerate(values)]


def _sorted_states(states) -> list:
    try:
        return sorted(states)
    except TypeError:  # mixed types: a stable, readable order
        return sorted(states, key=lambda s: (type(s).__name__, str(s)))


def _reject_inf(frame: pd.DataFrame) -> None:
    numeric = frame.select_dtypes(include="number")
    if numeric.size and np.isinf(numeric.to_numpy(dtype=float)).any():
        raise ValueError("MultimodalBayesNet: Input contains infinity, which is not a state")


def _check_targets(y, n_samples) -> np.ndarray:
    y = column_or_1d(y, warn=True)
    if len(y) != n_samples:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"[{n_samples}, {len(y)}]")
    if y.dtype.kind in "fc" and np.isnan(y).any() or any(is_missing_cell(v) for v in y):
        missing = [i for i, v in enumerate(y) if is_missing_cell(v)][:10]
        raise ValueError(f"MultimodalBayesNet: y is missing for samples {missing}; every "
                         "training sample needs a class label")
    check_classification_targets(y)
    return y


def _pgmpy_frame(labels: dict) -> pd.DataFrame:
    """Object columns of state labels with NaN for unobserved cells, as pgmpy expects."""
    return pd.DataFrame({var: pd.Series([np.nan if v is None else v for v in values],
                                        dtype=object)
                         for var, values in labels.items()})
