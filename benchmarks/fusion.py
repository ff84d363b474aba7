"""Fusion strategies side by side: single modalities, early, late, kernel, cascade, tree.

For each dataset and each fold of a stratified K-fold split, every modality's
features are learned on the training part only (codebooks, vocabularies,
scalers, PCA) and then shared by all the models, so the models differ only in
how they fuse. Deterministic per-sample extraction (SIFT, MFCC) runs once
before the folds and is timed separately. Fit and predict times are those of
the fusion models on the extracted features.

Missing-modality test: each fusion model also predicts the test part with one
modality dropped (NaN block) for a random 50 % of the test samples.

Usage::

    python benchmarks/fusion.py                      # every dataset found
    python benchmarks/fusion.py --datasets shapes --cv 3
    python benchmarks/fusion.py --data-dir ../shared/datasets --datasets av_digits wikipedia

Writes ``benchmarks/results/fusion_<dataset>.json`` and ``.md``.
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
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from mmfuse.bench.datasets import (
    DATASETS,
    KERNELS,
    Dataset,
    machine_info,
    stack_blocks,
)
from mmfuse.fusion import (
    BlockNormalizer,
    CascadeFusionClassifier,
    EarlyFusion,
    HierarchicalFusionClassifier,
    KernelFusionClassifier,
    LateFusionClassifier,
)

RESULTS = Path(__file__).resolve().parent / "results"
CASCADE_THRESHOLDS = (0.6, 0.9)
MISSING_SHARE = 0.5


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------

def _lr(C):
    return LogisticRegression(C=C, max_iter=3000)


def build_models(ds: Dataset, blocks: dict, costs: dict, C: float, order: list) -> dict:
    """Every model, on the fused numeric table whose columns ``blocks`` describes."""
    triples = [(m, "passthrough", blocks[m]) for m in ds.modalities]

    def leaf():
        return Pipeline([("normalize", BlockNormalizer()), ("clf", _lr(C))])

    models = {f"only {m}": Pipeline([("fusion", EarlyFusion([(m, "passthrough", blocks[m])])),
                                     ("clf", _lr(C))]) for m in ds.modalities}
    models["early"] = Pipeline([
        ("fusion", EarlyFusion(triples, missing="zero", add_indicator=True)), ("clf", _lr(C))])
    models["early, CV weights"] = Pipeline([
        ("fusion", EarlyFusion(triples, missing="zero", add_indicator=True, weights="cv",
                               weight_grid=(0.25, 1.0, 4.0), cv=3)), ("clf", _lr(C))])
    late = [(m, leaf(), blocks[m]) for m in ds.modalities]
    for rule in ("mean", "product", "max", "vote", "stacking"):
        models[f"late {rule}"] = LateFusionClassifier(late, combine=rule, cv=5)
    for rule in ("mean", "product"):
        models[f"late {rule}, CV weights"] = LateFusionClassifier(late, combine=rule,
                                                                  weights="cv", cv=5)
    models["kernel (alignment)"] = KernelFusionClassifier(triples, kernel=ds.kernels)
    for threshold in CASCADE_THRESHOLDS:
        models[f"cascade {' > '.join(order)}, threshold {threshold}"] = CascadeFusionClassifier(
            [(m, "passthrough", blocks[m]) for m in order], estimator=_lr(C),
            threshold=threshold, costs=costs)
    if ds.tree is not None:
        models["hierarchical ((image + text) early, audio) late"] = \
            HierarchicalFusionClassifier(triples, tree=ds.tree, estimator=_lr(C))
    return models


# ---------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------

def evaluate(ds: Dataset, cv: int, seed: int, C: float, verbose=True) -> dict:
    splitter = StratifiedKFold(cv, shuffle=True, random_state=seed)
    runs: dict = {}
    cascade_stats: dict = {}
    extraction = {m: [] for m in ds.modalities}
    for fold, (tr, te) in enumerate(splitter.split(np.zeros(len(ds.y)), ds.y)):
        start = time.perf_counter()
        train, test, costs = ds.featurize(tr, te)
        for m in ds.modalities:
            extraction[m].append(costs[m])
        X_tr, X_te, blocks = stack_blocks(train, test, ds.modalities)
        y_tr, y_te = ds.y[tr], ds.y[te]
        if verbose:
            widths = {m: len(cols) for m, cols in blocks.items()}
            print(f"[{ds.name}] fold {fold + 1}/{cv}: features {time.perf_counter() - start:.1f}"
                  f" s, widths {widths}", flush=True)
        rng = np.random.default_rng(seed + fold)
        if ds.cascade_order is None:  # fixed after the first fold, so names stay stable
            ds.cascade_order = sorted(ds.modalities, key=lambda m: costs[m])
        for name, model in build_models(ds, blocks, costs, C, ds.cascade_order).items():
            model = clone(model)
            t0 = time.perf_counter()
            model.fit(X_tr, y_tr)
            t1 = time.perf_counter()
            pred = model.predict(X_te)
            t2 = time.perf_counter()
            run = runs.setdefault(name, {"accuracy": [], "macro_f1": [], "fit_s": [],
                                         "predict_s": [], "missing": {}})
            run["accuracy"].append(accuracy_score(y_te, pred))
            run["macro_f1"].append(f1_score(y_te, pred, average="macro"))
            run["fit_s"].append(t1 - t0)
            run["predict_s"].append(t2 - t1)
            if not name.startswith("only "):
                for m in ds.modalities:
                    drop = rng.random(len(te)) < MISSING_SHARE
                    X_miss = X_te.copy()
                    X_miss[np.ix_(np.flatnonzero(drop), blocks[m])] = np.nan
                    acc = accuracy_score(y_te, model.predict(X_miss))
                    run["missing"].setdefault(m, []).append(acc)
            if name.startswith("cascade"):
                report = model.cascade_report(X_te, y_te)
                stats = cascade_stats.setdefault(name, {"reached": [], "decided": [],
                                                        "stage_accuracy": [],
                                                        "saved_compute": []})
                stats["reached"].append(report.table["reached"].tolist())
                stats["decided"].append(report.table["decided"].tolist())
                stats["stage_accuracy"].append(report.table["accuracy"].tolist())
                stats["saved_compute"].append(report.saved_compute)
                stats["stages"] = report.table.index.tolist()
            if verbose:
                print(f"  {name:<48} acc {run['accuracy'][-1]:.3f}  fit {t1 - t0:6.2f} s",
                      flush=True)
    return {"models": runs, "cascade": cascade_stats,
            "extraction_s_per_sample": {m: float(np.mean(v)) for m, v in extraction.items()}}


def _ms(values, digits=3):
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def checks(ds: Dataset, result: dict) -> dict:
    """The issue's targets: best fusion vs best single; graceful late-fusion degradation."""
    models = result["models"]
    singles = {n: np.mean(r["accuracy"]) for n, r in models.items() if n.startswith("only ")}
    fusions = {n: np.mean(r["accuracy"]) for n, r in models.items() if n not in singles}
    best_single = max(singles, key=singles.get)
    best_fusion = max(fusions, key=fusions.get)
    out = {"best_single": best_single, "best_single_accuracy": singles[best_single],
           "best_fusion": best_fusion, "best_fusion_accuracy": fusions[best_fusion],
           "fusion_beats_single": fusions[best_fusion] > singles[best_single],
           "gain": fusions[best_fusion] - singles[best_single],
           "graceful": {}}
    for name in ("late mean", "late product", "late stacking", "late product, CV weights"):
        full = np.mean(models[name]["accuracy"])
        for m, accs in models[name]["missing"].items():
            others = [singles[f"only {o}"] for o in ds.modalities if o != m]
            floor = max(others)
            acc = float(np.mean(accs))
            spread = float(np.std(accs))
            out["graceful"][f"{name}, 50% without {m}"] = {
                "accuracy": acc, "std": spread, "full_fusion": full,
                "best_remaining_single": floor,
                "between": bool(min(floor, full) <= acc <= max(floor, full)),
                "between_within_spread": bool(min(floor, full) - spread <= acc
                                              <= max(floor, full) + spread)}
    return out


def to_markdown(ds: Dataset, result: dict, args, machine: dict) -> str:
    models, check = result["models"], result["checks"]
    lines = [f"# Fusion strategies on {ds.name}", "", ds.description, "",
             f"{args.cv}-fold stratified cross-validation (shuffled, seed {args.seed}), mean ± "
             f"std over folds. Classifier everywhere: LogisticRegression(C={args.C}); every "
             "block L2-normalised; kernel fusion: SVC(C=1) on the alignment-weighted sum of "
             f"{', '.join(f'{m}: {k}' for m, k in ds.kernels.items())} kernels. "
             "Fit/predict: seconds per fold for the fusion model on extracted features.", "",
             "| model | accuracy | macro-F1 | fit s | predict s |", "|---|---|---|---|---|"]
    for name, r in models.items():
        lines.append(f"| {name} | {_ms(r['accuracy'])} | {_ms(r['macro_f1'])} | "
                     f"{np.mean(r['fit_s']):.2f} | {np.mean(r['predict_s']):.3f} |")
    lines += ["", f"Best single modality: **{check['best_single']}** "
              f"{check['best_single_accuracy']:.3f}; best fusion: **{check['best_fusion']}** "
              f"{check['best_fusion_accuracy']:.3f} ({check['gain']:+.3f}; target: fusion "
              f"beats the best single modality — "
              f"{'met' if check['fusion_beats_single'] else 'NOT met'}).", "",
              f"## Missing modality: one modality dropped for {MISSING_SHARE:.0%} of the test "
              "samples", "", "Accuracy (drop against the full-input accuracy of the same model).",
              ""]
    header = "| model | full | " + " | ".join(f"50% without {m}" for m in ds.modalities) + " |"
    lines += [header, "|---" * (len(ds.modalities) + 2) + "|"]
    for name, r in models.items():
        if not r["missing"]:
            continue
        full = np.mean(r["accuracy"])
        cells = [f"{np.mean(r['missing'][m]):.3f} ({np.mean(r['missing'][m]) - full:+.3f})"
                 for m in ds.modalities]
        lines.append(f"| {name} | {full:.3f} | " + " | ".join(cells) + " |")
    lines += ["", "Graceful degradation of late fusion (target: no error, accuracy between the "
              "best remaining single modality and full fusion — in either order, since a weak "
              "modality can make uniform late fusion worse than the best single one; 'within "
              "spread' allows one fold standard deviation):", ""]
    for key, g in check["graceful"].items():
        verdict = ("met" if g["between"] else "met within spread"
                   if g["between_within_spread"] else "NOT met")
        lines.append(f"- {key}: {g['accuracy']:.3f} ± {g['std']:.3f} (best remaining single "
                     f"{g['best_remaining_single']:.3f}, full {g['full_fusion']:.3f}) — "
                     f"{verdict}")
    for name, stats in result["cascade"].items():
        lines += ["", f"## {name}: where samples stopped", "",
                  "| stage | reached | decided | accuracy of decided |", "|---|---|---|---|"]
        reached = np.mean(stats["reached"], axis=0)
        decided = np.mean(stats["decided"], axis=0)
        acc = np.nanmean(np.asarray(stats["stage_accuracy"], dtype=float), axis=0)
        for i, stage in enumerate(stats["stages"]):
            lines.append(f"| {stage} | {reached[i]:.3f} | {decided[i]:.3f} | {acc[i]:.3f} |")
        lines += ["", f"Feature-extraction compute saved against computing every modality for "
                  f"every sample: {_ms(stats['saved_compute'])}."]
    lines += ["", "## Feature extraction", "",
              "Seconds per sample (used as the cascade's stage costs): " + ", ".join(
                  f"{m} {s * 1e3:.3f} ms" for m, s in result["extraction_s_per_sample"].items())
              + ". One-off setup: " + ", ".join(f"{k} {v:.1f} s"
                                                 for k, v in ds.setup_seconds.items()) + ".",
              "", "## Machine", "",
              f"- {machine['cpu']}, {machine['cores']} cores, {machine['platform']}",
              f"- {', '.join(f'{k} {v}' for k, v in machine['versions'].items())}",
              f"- {machine['date']}; load average before {machine['loadavg']}, after "
              f"{result['loadavg_after']} (machine shared with other jobs: timings are noisy)",
              f"- total wall time {result['wall_s']:.0f} s", ""]
    return "\n".join(lines)


def rerender(out: Path, names) -> int:
    """Recompute the checks and the Markdown of saved results (after a report change)."""
    for name in names:
        path = out / f"fusion_{name}.json"
        if not path.is_file():
            continue
        payload = json.loads(path.read_text())
        singles = [n[5:] for n in payload["models"] if n.startswith("only ")]
        ds = Dataset(name=name, description=payload["description"], y=np.zeros(0),
                     modalities=singles, featurize=None,
                     kernels=payload.get("kernels") or KERNELS[name],
                     setup_seconds=payload["setup_seconds"])
        payload["checks"] = checks(ds, payload)
        args = argparse.Namespace(**payload["args"])
        markdown = to_markdown(ds, payload, args, payload["machine"])
        path.write_text(json.dumps(payload, indent=1, default=float))
        (out / f"fusion_{name}.md").write_text(markdown)
        print(markdown)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS),
                        default=sorted(DATASETS))
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
    parser.add_argument("--rerender", action="store_true",
                        help="rebuild checks and Markdown from the saved JSON (no training)")
    args = parser.parse_args(argv)
    if args.rerender:
        return rerender(Path(args.out), args.datasets)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    status = 0
    for name in args.datasets:
        machine = machine_info()
        start = time.perf_counter()
        try:
            ds = DATASETS[name](args)
        except FileNotFoundError as exc:
            print(f"[{name}] skipped: {exc}", file=sys.stderr)
            continue
        result = evaluate(ds, args.cv, args.seed, args.C)
        result["checks"] = checks(ds, result)
        result["wall_s"] = time.perf_counter() - start
        result["loadavg_after"] = list(os.getloadavg())
        markdown = to_markdown(ds, result, args, machine)
        print(markdown)
        payload = {"dataset": name, "description": ds.description, "kernels": ds.kernels,
                   "args": vars(args),
                   "machine": machine, "setup_seconds": ds.setup_seconds, **result}
        (out / f"fusion_{name}.json").write_text(json.dumps(payload, indent=1, default=float))
        (out / f"fusion_{name}.md").write_text(markdown)
        if not result["checks"]["fusion_beats_single"]:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
