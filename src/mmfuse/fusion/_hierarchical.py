"""Hierarchical (tree) fusion: groups of modalities fused, then the groups fused."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator as _BaseEstimator
from sklearn.base import ClassifierMixin, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import _check_feature_names, _check_n_features, check_is_fitted

from mmfuse.blocks import Blocks
from mmfuse.fusion._base import (
    FusionClassifierMixin,
    ModalityComposition,
    as_table,
    check_modalities,
    clone_for_outputs,
    codes_for_fit,
    column_positions,
)
from mmfuse.fusion._blocks import BlockNormalizer
from mmfuse.fusion._early import EarlyFusion
from mmfuse.fusion._late import COMBINE_RULES, LateFusionClassifier

_FUSIONS = ("early", "late")


class HierarchicalFusionClassifier(ClassifierMixin, FusionClassifierMixin, ModalityComposition):
    """Tree-structured fusion: each inner node fuses its children, early or late.

    ``tree`` groups the modality names, e.g. ``(("image", "text"), "audio")``:
    image and text are fused first, and the result is fused with audio.
    A node is either a tuple/list of children (fused as ``fusion`` says) or a
    dict ``{"fusion": "early" | "late", "children": [...], "combine": rule}``.

    - A *late* node is a :class:`LateFusionClassifier` over its children:
      a leaf child is ``Pipeline(transformer, BlockNormalizer, estimator)``
      on the modality's columns; an inner child is that child's own model.
    - An *early* node is ``Pipeline(EarlyFusion(children), estimator)``: a
      leaf child contributes its feature block, an early inner child its
      fused (normalised) block, a late inner child its class probabilities
      (out-of-fold during fit, as in stacking).

    Missing modalities: within late nodes a sample is decided by the
    children it has; within early nodes an absent child's block is zero with
    a presence column (``EarlyFusion(missing="zero", add_indicator=True)``).
    A group is absent when all its modalities are.

    Parameters
    ----------
    modalities : list of (str, transformer or "passthrough", column(s)) tuples
        The leaves; every name must appear in ``tree`` exactly once.
    tree : nested tuple/list/dict of modality names
        See above.
    fusion : {"early", "late"}, default="late"
        Fusion of nodes given as plain tuples/lists.
    estimator : classifier or None, default=None
        Cloned for every leaf of a late node and every early node; needs
        ``predict_proba``. None means ``LogisticRegression(max_iter=1000)``.
    combine : {"auto", "mean", "product", "max", "vote", "stacking"}, default="auto"
        Rule of late nodes (a node dict may override it), as in
        :class:`LateFusionClassifier`: ``"auto"`` takes the product of the
        children's probabilities only when it is significantly better than
        the mean on a held-out fold of `cv`, else the mean (audio-visual
        digits: the product, 0.913 against 0.903 for the mean;
        ``benchmarks/results/defaults.md``). ``"mean"`` was the default
        until 0.1.
    norm : {"l2", "l1", "standard", "power"} or None, default="l2"
        Block normalisation of every leaf (and of early groups).
    cv : int or cross-validation generator, default=5
        Folds for out-of-fold probabilities (late children of early nodes,
        stacking).
    n_jobs : int or None, default=None
        Passed to the late nodes.
    verbose : int, bool or None, default=None
        Passed to the late nodes (progress bars; None: the global ``verbose``).

    Attributes
    ----------
    estimator_ : classifier
        The fitted model of the root node (a LateFusionClassifier or a
        Pipeline), trained on the encoded targets.
    tree_ : dict
        The tree as fitted: ``{"name", "fusion", "combine", "children"}``
        for inner nodes and the modality name for leaves.
    classes_, n_outputs_, n_features_in_ :
        As usual.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.fusion import HierarchicalFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 40)
    >>> X = rng.normal(size=(80, 6)) + y[:, None]
    >>> model = HierarchicalFusionClassifier(
    ...     [("image", "passthrough", [0, 1]), ("text", "passthrough", [2, 3]),
    ...      ("audio", "passthrough", [4, 5])],
    ...     tree=({"fusion": "early", "children": ["image", "text"]}, "audio")).fit(X, y)
    >>> model.tree_["children"][0]["name"], model.tree_["fusion"]
    ('image+text', 'late')
    >>> model.score(X, y) > 0.8
    True
    """

    _parameter_constraints = {
        "modalities": [list],
        "tree": [tuple, list, dict],
        "fusion": [StrOptions(set(_FUSIONS))],
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "combine": [StrOptions(set(COMBINE_RULES))],
        "norm": [StrOptions({"l2", "l1", "standard", "power"}), None],
        "cv": ["cv_object"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose", None],
    }

    def __init__(self, modalities, tree, *, fusion="late", estimator=None, combine="auto",
                 norm="l2", cv=5, n_jobs=None, verbose=None):
        self.modalities = modalities
        self.tree = tree
        self.fusion = fusion
        self.estimator = estimator
        self.combine = combine
        self.norm = norm
        self.cv = cv
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- the tree ------------------------------------------------------------------------

    def _parse(self, node, leaves: set, seen: set):
        """Normalise ``node`` into a leaf name or a dict with a name and children."""
        if isinstance(node, str):
            if node not in leaves:
                raise ValueError(f"tree names {node!r}, which is not a modality; "
                                 f"modalities: {sorted(leaves)}")
            if node in seen:
                raise ValueError(f"modality {node!r} appears more than once in the tree")
            seen.add(node)
            return node
        if isinstance(node, Mapping):
            unknown = set(node) - {"fusion", "children", "combine"}
            if unknown or "children" not in node:
                raise ValueError("a tree node dict needs 'children' and may have 'fusion' and "
                                 f"'combine'; got keys {sorted(node)}")
            fusion = node.get("fusion", self.fusion)
            combine = node.get("combine", self.combine)
            children = node["children"]
        elif isinstance(node, (list, tuple)):
            fusion, combine, children = self.fusion, self.combine, node
        else:
            raise ValueError(f"tree nodes are modality names, tuples/lists of nodes or dicts; "
                             f"got {node!r}")
        if fusion not in _FUSIONS:
            raise ValueError(f"node fusion must be 'early' or 'late', got {fusion!r}")
        if combine not in COMBINE_RULES:
            raise ValueError(f"node combine must be one of {COMBINE_RULES}, got {combine!r}")
        if not isinstance(children, (list, tuple)) or len(children) == 0:
            raise ValueError(f"a tree node needs at least one child, got {children!r}")
        parsed = [self._parse(child, leaves, seen) for child in children]
        return {"name": "+".join(_leaf_names(c) for c in parsed), "fusion": fusion,
                "combine": combine, "children": parsed}

    def _compile(self, node, positions: dict, node_columns, estimator, n_outputs):
        """Classifier for ``node``; it receives the table restricted to ``node_columns``."""
        local = {p: i for i, p in enumerate(node_columns)}
        if isinstance(node, str):  # a leaf as the root: one modality
            node = {"name": node, "fusion": "late", "combine": "mean", "children": [node]}
        specs = []
        for child in node["children"]:
            child_columns = _columns_of(child, positions)
            if isinstance(child, str):
                cols, scalar = positions[child]
                rel = local[cols[0]] if scalar else [local[p] for p in cols]
            else:
                rel = [local[p] for p in child_columns]
            specs.append((child, child_columns, rel))
        if node["fusion"] == "late":
            members = []
            for child, child_columns, rel in specs:
                if isinstance(child, str):
                    model = Pipeline([*self._leaf_steps(child),
                                      ("clf", clone(estimator))])
                else:
                    # LateFusionClassifier wraps its members for multi-output y itself.
                    model = self._compile(child, positions, child_columns, estimator, 1)
                members.append((_leaf_names(child), model, rel))
            return LateFusionClassifier(members, combine=node["combine"], cv=self.cv,
                                        n_jobs=self.n_jobs, verbose=self.verbose)
        blocks = [(_leaf_names(child), self._transformer(child, positions, child_columns,
                                                         estimator, n_outputs), rel)
                  for child, child_columns, rel in specs]
        return Pipeline([
            ("fusion", EarlyFusion(blocks, norm=self.norm, missing="zero", add_indicator=True)),
            ("clf", clone_for_outputs(estimator, n_outputs)),
        ])

    def _leaf_steps(self, name):
        transformer = self._leaves[name]
        steps = [] if isinstance(transformer, str) and transformer == "passthrough" \
            else [("features", clone(transformer))]
        return [*steps, ("normalize", BlockNormalizer(norm=self.norm))]

    def _transformer(self, child, positions, child_columns, estimator, n_outputs):
        """What an early node concatenates for ``child``."""
        if isinstance(child, str):
            transformer = self._leaves[child]
            return "passthrough" if isinstance(transformer, str) else clone(transformer)
        local = {p: i for i, p in enumerate(child_columns)}
        if child["fusion"] == "early":
            blocks = []
            for grandchild in child["children"]:
                gc_columns = _columns_of(grandchild, positions)
                if isinstance(grandchild, str):
                    cols, scalar = positions[grandchild]
                    rel = local[cols[0]] if scalar else [local[p] for p in cols]
                else:
                    rel = [local[p] for p in gc_columns]
                blocks.append((_leaf_names(grandchild),
                               self._transformer(grandchild, positions, gc_columns, estimator,
                                                 n_outputs), rel))
            return EarlyFusion(blocks, norm=self.norm, missing="zero", add_indicator=True)
        model = self._compile(child, positions, child_columns, estimator, n_outputs)
        return ProbabilityTransformer(model, cv=self.cv)

    # -- estimator API -------------------------------------------------------------------

    def fit(self, X, y):
        """Build the tree of fusion models and fit it.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        self._validate_params()
        modalities = check_modalities(self.modalities, owner=type(self).__name__)
        self._leaves = {name: transformer for name, transformer, _ in modalities}
        seen: set = set()
        tree = self._parse(self.tree, set(self._leaves), seen)
        unused = set(self._leaves) - seen
        if unused:
            raise ValueError(f"modalities {sorted(unused)} are not in the tree")
        X = self._validate_table(X, reset=True)
        Y = self._validate_targets(X, y)
        positions = {name: column_positions(X, columns, name)
                     for name, _, columns in modalities}
        root_columns = _columns_of(tree, positions)
        estimator = LogisticRegression(max_iter=1000) if self.estimator is None \
            else self.estimator
        self.estimator_ = self._compile(tree, positions, root_columns, estimator,
                                        self.n_outputs_)
        self._root_columns = root_columns
        self.estimator_.fit(_take_columns(X, root_columns), codes_for_fit(Y))
        self.tree_ = tree
        return self

    def _predict_proba_list(self, X):
        check_is_fitted(self, "estimator_")
        X = self._validate_table(X, reset=False)
        proba = self.estimator_.predict_proba(_take_columns(X, self._root_columns))
        return proba if isinstance(proba, list) else [proba]

    def predict_proba(self, X):
        """Class probabilities of the root node.

        Parameters
        ----------
        X : pandas DataFrame, mapping of columns, or array-like

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), or a list of them
        """
        return self._format_proba(self._predict_proba_list(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._modalities_accept_sparse()
        tags.target_tags.multi_output = True
        return tags


class ProbabilityTransformer(TransformerMixin, _BaseEstimator):
    """A classifier's class probabilities as features (out-of-fold in ``fit_transform``).

    Lets a late-fused group feed an early-fusion parent, as in stacking:
    during ``fit_transform`` the probabilities come from
    :func:`~sklearn.model_selection.cross_val_predict`, so the parent never
    learns from probabilities of samples the group was trained on.

    Parameters
    ----------
    estimator : classifier
        Must have ``predict_proba``.
    cv : int or cross-validation generator, default=5

    Attributes
    ----------
    estimator_ : classifier
        ``estimator`` fitted on all the training data.
    n_proba_ : int
        Number of output columns (classes, summed over outputs).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from mmfuse.fusion import ProbabilityTransformer
    >>> X = np.r_[np.zeros((10, 1)), np.ones((10, 1))]
    >>> y = np.repeat([0, 1], 10)
    >>> ProbabilityTransformer(GaussianNB(), cv=2).fit_transform(X, y).shape
    (20, 2)
    """

    def __init__(self, estimator, *, cv=5):
        self.estimator = estimator
        self.cv = cv

    def fit(self, X, y):
        """Fit the classifier on all the data."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y):
        """Out-of-fold probabilities of the training samples; fits the classifier."""
        X = as_table(X)
        _check_feature_names(self, X, reset=True)
        _check_n_features(self, X, reset=True)
        y_arr = np.asarray(y)
        splitter = check_cv(self.cv, y_arr, classifier=True)
        oof = cross_val_predict(clone(self.estimator), X, y_arr, cv=splitter,
                                method="predict_proba")
        self.estimator_ = clone(self.estimator).fit(X, y_arr)
        # cross_val_predict pads classes a fold did not see, so the columns match
        # those of estimator_.predict_proba.
        full = np.hstack(oof if isinstance(oof, list) else [oof])
        self.n_proba_ = full.shape[1]
        return full

    def transform(self, X):
        """Class probabilities of new samples, one column per (output, class)."""
        check_is_fitted(self, "estimator_")
        X = as_table(X)
        _check_feature_names(self, X, reset=False)
        _check_n_features(self, X, reset=False)
        proba = self.estimator_.predict_proba(X)
        proba = proba if isinstance(proba, list) else [proba]
        return np.hstack(proba)

    def get_feature_names_out(self, input_features=None):
        """``proba0``, ``proba1``, ... one per output column."""
        check_is_fitted(self, "estimator_")
        return np.asarray([f"proba{i}" for i in range(self.n_proba_)], dtype=object)


def _leaf_names(node) -> str:
    return node if isinstance(node, str) else node["name"]


def _columns_of(node, positions) -> list[int]:
    if isinstance(node, str):
        return sorted(positions[node][0])
    return sorted({p for child in node["children"] for p in _columns_of(child, positions)})


def _take_columns(X, columns):
    if isinstance(X, Blocks):
        return X.select(columns)
    return _safe_indexing(X, columns, axis=1)


__all__ = ["HierarchicalFusionClassifier", "ProbabilityTransformer"]
