"""MultimodalBayesNet against late and early fusion, with every modality and with each missing.

For each dataset and each fold of a stratified K-fold split, every
modality's features are learned on the training part only, exactly as in
``benchmarks/fusion.py`` (whose dataset builders this script reuses, so the
numbers are comparable): make_shapes (image = sparse RootSIFT + 64-word bag
of words, text = TF-IDF, audio = MFCC summary) and the audio-visual digits
(image = PCA of the pixels, audio = MFCC summary).

Models, all fitted on complete training data:

- ``MultimodalBayesNet`` over one discrete variable per modality made by
  ``ModalityDiscretizer``: ``"supervised"`` states (the class a per-modality
  logistic regression predicts, out-of-fold while fitting) with a naive-Bayes,
  a tree-augmented (TAN) and a learned (BIC hill climbing, class a root;
  alone, and keeping the naive-Bayes edges class -> modality so that only
  edges between modalities are learned) structure; unsupervised
  ``"kmeans"`` states (16 per modality) with naive Bayes; and naive Bayes
  over k-means clusters (30 per modality) of each modality's out-of-fold
  class probabilities (``ProbabilityTransformer``), states that keep how
  confident the modality's classifier was, not only its answer.
- ``LateFusionClassifier`` (mean and product rules) and ``EarlyFusion`` +
  logistic regression (missing blocks zero-filled, presence indicators), as
  in ``benchmarks/fusion.py``, and each modality alone for reference.

Each fused model then predicts the test part with all modalities, and with
each modality removed from every test sample (its block set to NaN, i.e.
missing).

Usage::

    python benchmarks/probabilistic.py                       # every dataset found
    python benchmarks/probabilistic.py --datasets shapes --cv 3

Writes ``benchmarks/results/probabilistic_<dataset>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the same datasets and features as fusion.py
from fusion import DATASETS, machine_info, stack_blocks

from mmfuse.fusion import (
    BlockNormalizer,
    EarlyFusion,
    LateFusionClassifier,
    ProbabilityTransformer,
)
from mmfuse.probabilistic import ModalityDiscretizer, MultimodalBayesNet

RESULTS = Path(__file__).resolve().parent / "results"
KMEANS_STATES = 16
PROBA_STATES = 30


def _leaf(C):
    return Pipeline([("normalize", BlockNormalizer()),
                     ("clf", LogisticRegression(C=C, max_iter=3000))])


def build_models(modalities, blocks, C, seed) -> dict:
    triples = [(m, "passthrough", blocks[m]) for m in modalities]

    def bayes_net(structure, method, **kwargs):
        disc = ModalityDiscretizer(triples, method=method, classifier=_leaf(C), cv=5,
                                   n_states=KMEANS_STATES, random_state=seed)
        return MultimodalBayesNet(structure, discretizer=disc, class_name="class", **kwargs)

    # States that keep the classifier's confidence: k-means clusters of each modality's
    # out-of-fold class probabilities (ProbabilityTransformer cross-fits in fit_transform).
    proba_states = ModalityDiscretizer(
        [(m, ProbabilityTransformer(_leaf(C), cv=5), blocks[m]) for m in modalities],
        method="kmeans", n_states=PROBA_STATES, random_state=seed)

    models = {f"only {m}": Pipeline([("fusion", EarlyFusion([(m, "passthrough", blocks[m])])),
                                     ("clf", LogisticRegression(C=C, max_iter=3000))])
              for m in modalities}
    models["BN naive Bayes, supervised states"] = bayes_net("naive_bayes", "supervised")
    models["BN TAN, supervised states"] = bayes_net("tan", "supervised")
    models["BN learned (BIC), supervised states"] = bayes_net("learn", "supervised")
    models["BN learned (BIC) keeping class edges, supervised states"] = bayes_net(
        "learn", "supervised", white_list=[("class", m) for m in modalities])
    models[f"BN naive Bayes, k-means states ({KMEANS_STATES})"] = bayes_net("naive_bayes",
                                                                           "kmeans")
    models[f"BN naive Bayes, k-means of class probabilities ({PROBA_STATES})"] = \
        MultimodalBayesNet("naive_bayes", discretizer=proba_states, class_name="class")
    late = [(m, _leaf(C), blocks[m]) for m in modalities]
    models["late mean"] = LateFusionClassifier(late, combine="mean")
    models["late product"] = LateFusionClassifier(late, combine="product")
    models["early"] = Pipeline([
        ("fusion", EarlyFusion(triples, missing="zero", add_indicator=True)),
        ("clf", LogisticRegression(C=C, max_iter=3000))])
    return models


def evaluate(ds, cv: int, seed: int, C: float) -> dict:
    splitter = StratifiedKFold(cv, shuffle=True, random_state=seed)
    runs: dict = {}
    structures: dict = {}
    for fold, (tr, te) in enumerate(splitter.split(np.zeros(len(ds.y)), ds.y)):
        start = time.perf_counter()
        train, test, _ = ds.featurize(tr, te)
        X_tr, X_te, blocks = stack_blocks(train, test, ds.modalities)
        y_tr, y_te = ds.y[tr], ds.y[te]
        print(f"[{ds.name}] fold {fold + 1}/{cv}: features {time.perf_counter() - start:.1f} s",
              flush=True)
        for name, model in build_models(ds.modalities, blocks, C, seed).items():
            model = clone(model)
            t0 = time.perf_counter()
            model.fit(X_tr, y_tr)
            t1 = time.perf_counter()
            pred = model.predict(X_te)
            t2 = time.perf_counter()
            run = runs.setdefault(name, {"accuracy": [], "fit_s": [], "predict_s": [],
                                         "missing": {}})
            run["accuracy"].append(accuracy_score(y_te, pred))
            run["fit_s"].append(t1 - t0)
            run["predict_s"].append(t2 - t1)
            if not name.startswith("only "):
                for m in ds.modalities:
                    X_miss = X_te.copy()
                    X_miss[:, blocks[m]] = np.nan
                    run["missing"].setdefault(m, []).append(
                        accuracy_score(y_te, model.predict(X_miss)))
            if isinstance(model, MultimodalBayesNet):
                structures.setdefault(name, []).append([list(e) for e in model.edges_])
            print(f"  {name:<56} acc {run['accuracy'][-1]:.3f}  fit {t1 - t0:6.2f} s"
                  + "".join(f"  -{m} {run['missing'][m][-1]:.3f}" for m in run["missing"]),
                  flush=True)
    return {"models": runs, "structures": structures}


def _ms(values, digits=3):
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def to_markdown(ds, result: dict, args, machine: dict) -> str:
    models = result["models"]
    lines = [f"# Bayesian network vs late / early fusion on {ds.name}", "", ds.description, "",
             f"{args.cv}-fold stratified cross-validation (shuffled, seed {args.seed}), mean ± "
             "std over folds. Every logistic regression: C="
             f"{args.C} on L2-normalised blocks. Features are learned per fold (see "
             "`benchmarks/fusion.py`). 'without m': modality m removed from every test "
             "sample (a NaN block: unobserved for the network, missing for late fusion, "
             "zero-filled with a presence indicator for early fusion). Fit/predict: seconds per "
             "fold on the extracted features.", ""]
    header = ("| model | all modalities | "
              + " | ".join(f"without {m}" for m in ds.modalities) + " | fit s | predict s |")
    lines += [header, "|---" * (len(ds.modalities) + 4) + "|"]
    for name, r in models.items():
        cells = [_ms(r["missing"][m]) if r["missing"] else "—" for m in ds.modalities]
        lines.append(f"| {name} | {_ms(r['accuracy'])} | " + " | ".join(cells)
                     + f" | {np.mean(r['fit_s']):.2f} | {np.mean(r['predict_s']):.3f} |")
    singles = {m: np.mean(models[f"only {m}"]["accuracy"]) for m in ds.modalities}
    lines += ["", "Reference for the 'without' columns: the best single modality among those "
              "left (" + ", ".join(f"without {m}: "
                                   f"{max(v for o, v in singles.items() if o != m):.3f}"
                                   for m in ds.modalities) + ").", ""]
    if result["structures"]:
        lines += ["## Structures the networks used (fold 1)", ""]
        for name, folds in result["structures"].items():
            edges = ", ".join(f"{a} → {b}" for a, b in folds[0])
            lines.append(f"- {name}: {edges}")
        lines.append("")
    lines += ["## Machine", "",
              f"- {machine['cpu']}, {machine['cores']} cores, {machine['platform']}",
              f"- {', '.join(f'{k} {v}' for k, v in machine['versions'].items())}",
              f"- {machine['date']}; load average before {machine['loadavg']}, after "
              f"{result['loadavg_after']} (machine shared with other jobs: timings are noisy)",
              f"- total wall time {result['wall_s']:.0f} s", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=["shapes", "av_digits"],
                        default=["shapes", "av_digits"])
    parser.add_argument("--data-dir", default=os.environ.get("MMFUSE_DATA")
                        or str(Path(__file__).resolve().parents[1].parent / "shared"
                               / "datasets"))
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--C", type=float, default=1.0, help="LogisticRegression C")
    parser.add_argument("--n-samples", type=int, default=600, help="make_shapes samples")
    parser.add_argument("--noise", type=float, default=2.0, help="make_shapes noise")
    parser.add_argument("--av-noise", type=float, default=1.0, help="load_av_digits noise")
    parser.add_argument("--av-n-samples", type=int, default=None,
                        help="stratified subset of the 3,000 AV-digit pairs")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        machine = machine_info()
        try:
            import pgmpy

            machine["versions"]["pgmpy"] = pgmpy.__version__
        except ImportError:
            pass
        start = time.perf_counter()
        try:
            ds = DATASETS[name](args)
        except FileNotFoundError as exc:
            print(f"[{name}] skipped: {exc}", file=sys.stderr)
            continue
        result = evaluate(ds, args.cv, args.seed, args.C)
        result["wall_s"] = time.perf_counter() - start
        result["loadavg_after"] = list(os.getloadavg())
        markdown = to_markdown(ds, result, args, machine)
        print(markdown)
        payload = {"dataset": name, "description": ds.description, "args": vars(args),
                   "machine": machine, "setup_seconds": ds.setup_seconds, **result}
        (out / f"probabilistic_{name}.json").write_text(json.dumps(payload, indent=1,
                                                                   default=float))
        (out / f"probabilistic_{name}.md").write_text(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
