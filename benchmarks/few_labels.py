"""Learning with few labels across modalities (issue 20): clustering and semi-supervision.

Two real two-view sets, each on its official split:

* ``av_digits``: audio-visual digits at ``noise=1`` (MNIST image under pixel
  noise and an occluding square + the FSDD recording under white noise at
  0 dB SNR). Views: the image's 784 pixels reduced to 50 principal
  components (PCA fitted on the training images, no labels), and the MFCC
  summary of the recording (``MFCCExtractor(output="summary")``). 2,700
  train / 300 test, 10 classes.
* ``wikipedia``: Wikipedia categories with the authors' features: the image's
  128-word SIFT bag of words and the text's 10-topic LDA. 2,173 train /
  693 test, 10 classes.

Each view is standardised (``StandardScaler`` on the training split).

1. Clustering of the training split into 10 clusters, against the classes:
   adjusted Rand index and NMI of ``KMeans`` on each view and on the views
   side by side, and of ``MultiviewKMeans`` and ``MultiviewSpectralClustering``.
2. Few labels: a stratified fraction (1, 5, 10, 100%) of the training labels
   is kept, the rest marked ``-1``; test accuracy of supervised fusion
   (logistic regression on both views side by side, trained on the kept
   labels), ``CoTrainingClassifier``, ``MultiviewLabelSpreading`` and
   ``CCAClassifier`` (its default kernel CCA, and linear ``CCA()``), each
   with its defaults, averaged over three draws of the kept labels (seeds
   0-2), with the spread.
3. The issue's criteria per dataset: the best multiview clustering against
   the best single view (ARI), and the best semi-supervised method against
   supervised fusion at 5% of the labels.

    python benchmarks/few_labels.py [--data-dir DIR]

Writes ``results/few_labels.{json,md}`` and ``results/few_labels_<dataset>.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
FRACTIONS = (0.01, 0.05, 0.10, 1.0)
METHODS = ("supervised fusion (logistic, both views)", "CoTrainingClassifier",
           "MultiviewLabelSpreading", "CCAClassifier", "CCAClassifier(CCA())")
SEEDS = (0, 1, 2)


def av_digits(data_dir: Path):
    from sklearn.decomposition import PCA

    from mmfuse.audio import MFCCExtractor
    from mmfuse.datasets import load_av_digits

    sets = {}
    for subset in ("train", "test"):
        av = load_av_digits(data_dir / "mnist", data_dir / "fsdd", noise=1.0, subset=subset)
        pixels = np.stack(av.frame["image"]).reshape(len(av.target), -1) / 255.0
        clips = [(clip, av.sample_rate) for clip in av.frame["audio"]]
        sets[subset] = (pixels, clips, np.asarray(av.target))
    pca = PCA(50, random_state=0).fit(sets["train"][0])
    mfcc = MFCCExtractor(output="summary").fit(sets["train"][1])
    return {subset: ({"image": pca.transform(p), "audio": mfcc.transform(c)}, y)
            for subset, (p, c, y) in sets.items()}


def wikipedia(data_dir: Path):
    from mmfuse.datasets import load_wikipedia

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # XML files read leniently, reported by the loader
        data = load_wikipedia(data_dir)
    out = {}
    for subset in ("train", "test"):
        rows = data.split == subset
        out[subset] = ({"image": data.image_features[rows], "text": data.text_features[rows]},
                       np.asarray(data.target[rows]))
    return out


def standardised(sets):
    from sklearn.preprocessing import StandardScaler

    train, test = sets["train"][0], sets["test"][0]
    scalers = {name: StandardScaler().fit(block) for name, block in train.items()}
    return ({name: scalers[name].transform(b) for name, b in train.items()}, sets["train"][1],
            {name: scalers[name].transform(b) for name, b in test.items()}, sets["test"][1])


def keep_labels(y, fraction, seed):
    """A stratified ``fraction`` of the labels (at least one per class), -1 elsewhere."""
    rng = np.random.default_rng(seed)
    keep = np.zeros(y.size, bool)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        keep[rng.choice(rows, max(1, round(fraction * rows.size)), replace=False)] = True
    return np.where(keep, y, -1)


def clustering_rows(name, X, y):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from mmfuse.cluster import MultiviewKMeans, MultiviewSpectralClustering

    n = len(np.unique(y))
    models = {f"KMeans on {view}": (lambda v=view: KMeans(n, n_init="auto", random_state=0)
                                    .fit_predict(X[v])) for view in X}
    models["KMeans on the views side by side"] = lambda: KMeans(
        n, n_init="auto", random_state=0).fit_predict(np.hstack(list(X.values())))
    models["MultiviewKMeans"] = lambda: MultiviewKMeans(n, random_state=0).fit_predict(X)
    models["MultiviewSpectralClustering"] = lambda: MultiviewSpectralClustering(
        n, combine="product", random_state=0).fit_predict(X)
    models["MultiviewSpectralClustering(combine='mean')"] = lambda: MultiviewSpectralClustering(
        n, combine="mean", random_state=0).fit_predict(X)
    rows = []
    for method, run in models.items():
        start = time.perf_counter()
        labels = run()
        rows.append({"dataset": name, "method": method,
                     "ari": float(adjusted_rand_score(y, labels)),
                     "nmi": float(normalized_mutual_info_score(y, labels)),
                     "seconds": time.perf_counter() - start})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def few_label_rows(name, X, y, X_test, y_test):
    from sklearn.linear_model import LogisticRegression

    from mmfuse.crossmodal import CCA
    from mmfuse.semi_supervised import (
        CCAClassifier,
        CoTrainingClassifier,
        MultiviewLabelSpreading,
    )

    side = np.hstack(list(X.values()))
    side_test = np.hstack(list(X_test.values()))
    rows = []
    for fraction in FRACTIONS:
        for seed in SEEDS:
            partial = keep_labels(y, fraction, seed)
            labelled = partial != -1
            for method in METHODS:
                if fraction == 1.0 and seed > 0:
                    continue  # all labels: no draw to vary
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # lbfgs / spreading may stop at max_iter
                    start = time.perf_counter()
                    if method == METHODS[0]:
                        model = LogisticRegression(max_iter=2000).fit(side[labelled],
                                                                      partial[labelled])
                        accuracy = float(model.score(side_test, y_test))
                    else:
                        model = {METHODS[1]: lambda s=seed: CoTrainingClassifier(random_state=s),
                                 METHODS[2]: MultiviewLabelSpreading,
                                 METHODS[3]: lambda s=seed: CCAClassifier(random_state=s),
                                 METHODS[4]: lambda: CCAClassifier(CCA())}[method]()
                        accuracy = float(model.fit(X, partial).score(X_test, y_test))
                rows.append({"dataset": name, "fraction": fraction, "seed": seed,
                             "n_labels": int(labelled.sum()), "method": method,
                             "accuracy": accuracy, "seconds": time.perf_counter() - start})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def summarise(rows):
    table = {}
    for r in rows:
        table.setdefault((r["dataset"], r["fraction"], r["method"]), []).append(r)
    return [{"dataset": d, "fraction": f, "method": m,
             "n_labels": int(np.mean([r["n_labels"] for r in rs])),
             "mean": float(np.mean([r["accuracy"] for r in rs])),
             "min": float(np.min([r["accuracy"] for r in rs])),
             "max": float(np.max([r["accuracy"] for r in rs])), "runs": len(rs)}
            for (d, f, m), rs in table.items()]


def plot(summary, dataset, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in dict.fromkeys(s["method"] for s in summary if s["dataset"] == dataset):
        rows = sorted((s for s in summary if s["dataset"] == dataset and s["method"] == method),
                      key=lambda s: s["fraction"])
        x = [100 * s["fraction"] for s in rows]
        ax.plot(x, [s["mean"] for s in rows], marker="o", label=method)
        ax.fill_between(x, [s["min"] for s in rows], [s["max"] for s in rows], alpha=0.15)
    ax.set_xscale("log")
    ax.set_xlabel("labelled share of the training split (%)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{dataset}: accuracy vs labels")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] /
                                                  "shared" / "datasets"))
    args = parser.parse_args(argv)
    from kernels import machine_info, machine_line

    data_dir = Path(args.data_dir)
    clusters, few = [], []
    for name, loader in (("av_digits", av_digits), ("wikipedia", wikipedia)):
        X, y, X_test, y_test = standardised(loader(data_dir))
        clusters += clustering_rows(name, X, y)
        few += few_label_rows(name, X, y, X_test, y_test)
    summary = summarise(few)
    machine = machine_info()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "few_labels.json").write_text(json.dumps(
        {"machine": machine, "clustering": clusters, "few_labels": few, "summary": summary},
        indent=1))
    lines = ["# Learning with few labels across modalities (issue 20)", "",
             __doc__.split("\n\n")[1].replace("\n", " "), "",
             "## 1. Clustering the training split (10 clusters)", "",
             "| dataset | method | ARI | NMI | seconds |", "|---|---|---:|---:|---:|"]
    for r in clusters:
        lines.append(f"| {r['dataset']} | {r['method']} | {r['ari']:.3f} | {r['nmi']:.3f} | "
                     f"{r['seconds']:.1f} |")
    lines += ["", "## 2. Test accuracy with a fraction of the training labels", "",
              "Mean over three draws of the kept labels (min-max); 100%: one run.", "",
              "| dataset | labels | method | accuracy | min-max |", "|---|---|---|---:|---|"]
    for s in summary:
        lines.append(f"| {s['dataset']} | {100 * s['fraction']:g}% ({s['n_labels']}) | "
                     f"{s['method']} | {s['mean']:.3f} | {s['min']:.3f}-{s['max']:.3f} |")
    lines += ["", "## 3. The criteria", "",
              "| dataset | best single-view KMeans ARI | best multiview clustering ARI | "
              "supervised fusion at 5% | best semi-supervised at 5% |",
              "|---|---|---|---:|---|"]
    for dataset in ("av_digits", "wikipedia"):
        single = max((r for r in clusters if r["dataset"] == dataset
                      and r["method"].startswith("KMeans on ") and "side" not in r["method"]),
                     key=lambda r: r["ari"])
        multi = max((r for r in clusters if r["dataset"] == dataset
                     and r["method"].startswith("Multiview")), key=lambda r: r["ari"])
        at5 = [s for s in summary if s["dataset"] == dataset and s["fraction"] == 0.05]
        base = next(s for s in at5 if s["method"] == METHODS[0])
        best = max((s for s in at5 if s["method"] != METHODS[0]), key=lambda s: s["mean"])
        lines.append(f"| {dataset} | {single['ari']:.3f} ({single['method']}) | "
                     f"{multi['ari']:.3f} ({multi['method']}) | {base['mean']:.3f} | "
                     f"{best['mean']:.3f} ({best['method']}, {best['min']:.3f}-"
                     f"{best['max']:.3f}) |")
    for dataset in ("av_digits", "wikipedia"):
        path = RESULTS / f"few_labels_{dataset}.png"
        plot(summary, dataset, path)
        lines += ["", f"![{dataset}]({path.name})"]
    lines += ["", machine_line(machine)]
    (RESULTS / "few_labels.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
