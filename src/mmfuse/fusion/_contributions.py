"""What each modality adds: out-of-fold scores with and without it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import check_cv, cross_val_score
from sklearn.pipeline import Pipeline

from mmfuse.fusion._base import as_frame


def _fusion_step(estimator):
    """``(holder, step name or None)``: where the ``modalities`` parameter lives."""
    if "modalities" in estimator.get_params(deep=False):
        return estimator, None
    if isinstance(estimator, Pipeline):
        for name, step in estimator.steps:
            if hasattr(step, "get_params") and "modalities" in step.get_params(deep=False):
                return step, name
    raise TypeError(f"{type(estimator).__name__} has no 'modalities' (a fusion estimator, or a "
                    "Pipeline with one, e.g. EarlyFusion + a classifier)")


def _with_modalities(estimator, keep: list[str]):
    holder, step = _fusion_step(estimator)
    modalities = [m for m in holder.get_params(deep=False)["modalities"] if m[0] in keep]
    model = clone(estimator)
    if step is None:
        model.set_params(modalities=modalities)
    else:
        model.set_params(**{f"{step}__modalities": modalities})
    return model


def modality_contributions(estimator, X, y, *, cv=5, scoring=None, n_jobs=None):
    """Out-of-fold score of a fusion model with every modality, without each, and of each alone.

    For every modality ``m`` of the model, cross-validates (same folds for
    all) the model with all its modalities, the model without ``m`` and the
    model with ``m`` only. ``adds`` is the full score minus the score without
    ``m``: what ``m`` contributes on top of the others. A modality whose
    ``adds`` is about zero or negative brings nothing the others do not
    already know (or only noise): drop it, or give it less weight.

    Parameters
    ----------
    estimator : fusion classifier, or Pipeline with a fusion step
        Anything with a ``modalities`` list of ``(name, estimator, columns)``
        triples (:class:`LateFusionClassifier`, :class:`KernelFusionClassifier`,
        :class:`CascadeFusionClassifier`, ``Pipeline([EarlyFusion, clf])``).
    X : DataFrame, mapping of blocks or Blocks
    y : array-like of shape (n_samples,)
    cv : int or cross-validation generator, default=5
        Stratified folds for classifiers, shared by every model.
    scoring : str, callable or None, default=None
        Scikit-learn scorer (None: the estimator's ``score``, accuracy).
    n_jobs : int or None, default=None
        Folds run in parallel (``cross_val_score``).

    Returns
    -------
    report : pandas.DataFrame
        One row per modality, indexed by name, with columns ``alone``,
        ``without``, ``all`` (mean out-of-fold scores), ``adds``
        (``all - without``) and ``adds_std`` (spread of the per-fold
        differences). ``report.attrs["summary"]`` says it in words.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mmfuse.fusion import LateFusionClassifier, modality_contributions
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 60)
    >>> X = {"useful": rng.normal(size=(120, 3)) + y[:, None],
    ...      "noise": rng.normal(size=(120, 3))}
    >>> late = LateFusionClassifier([("useful", LogisticRegression(), "useful"),
    ...                              ("noise", LogisticRegression(), "noise")])
    >>> report = modality_contributions(late, X, y)
    >>> bool(report.loc["useful", "adds"] > report.loc["noise", "adds"])
    True
    """
    holder, _ = _fusion_step(estimator)
    names = [m[0] for m in holder.get_params(deep=False)["modalities"]]
    if len(names) < 2:
        raise ValueError(f"modality_contributions needs at least 2 modalities, got {names}")
    X = as_frame(X)  # a mapping of blocks becomes Blocks, which CV splits by rows
    y = np.asarray(y)
    splitter = check_cv(cv, y, classifier=True)
    folds = list(splitter.split(np.zeros(len(y)), y))

    def score(model):
        return cross_val_score(model, X, y, cv=folds, scoring=scoring, n_jobs=n_jobs)

    full = score(clone(estimator))
    rows = {}
    for name in names:
        without = score(_with_modalities(estimator, [n for n in names if n != name]))
        alone = score(_with_modalities(estimator, [name]))
        rows[name] = {"alone": alone.mean(), "without": without.mean(), "all": full.mean(),
                      "adds": (full - without).mean(), "adds_std": (full - without).std()}
    report = pd.DataFrame.from_dict(rows, orient="index")
    report.attrs["summary"] = "; ".join(
        f"{name} adds {r['adds']:+.3f} ({r['without']:.3f} without it -> {r['all']:.3f} with "
        f"it; {r['alone']:.3f} alone)" + ("" if r["adds"] > r["adds_std"] else
                                           ": about nothing, within the fold-to-fold spread")
        for name, r in rows.items())
    return report


__all__ = ["modality_contributions"]
