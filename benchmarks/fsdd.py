"""Spoken digits (FSDD): MFCC + HMMs, MFCC + Fisher vectors, MFCC summary + SVM.

Pipelines, all on the same MFCC frames (13 coefficients + deltas + delta-deltas,
25 ms windows every 10 ms at 8 kHz, leading/trailing silence trimmed at 30 dB,
pre-emphasis 0.97, per-utterance CMVN):

- ``HMM (Gaussian, 8 states)``: :class:`mmfuse.probabilistic.HMMClassifier`, one
  left-right GaussianHMM per digit, diagonal covariances.
- ``HMM (GMM, 8 states x 2)``: the same with two Gaussians per state (GMMHMM).
- ``Fisher vector + logistic``: :class:`mmfuse.encoding.FisherVector` (32
  diagonal Gaussians, improved FV) and a multinomial logistic regression.
- ``summary + SVM``: per-clip mean and standard deviation of the MFCC frames
  (without CMVN), standardised, RBF SVM.

Splits: the official one (takes 0-4 test, 300 clips; 2,700 train) and
speaker-independent leave-one-speaker-out (6 folds; every speaker's 500 clips
are tested by models that never heard that speaker).

MFCC extraction is deterministic per clip and runs once, timed on its own; fit
and predict times are those of the models on the extracted features (so the
Fisher-vector fit includes learning the mixture).

Usage::

    python benchmarks/fsdd.py                        # $MMFUSE_DATA or ../shared/datasets
    python benchmarks/fsdd.py --data-dir ../shared/datasets --skip-loso-gmm

Writes ``benchmarks/results/fsdd.json`` and ``fsdd.md``.
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
from kernels import machine_info  # CPU, cores, versions, BLAS, load average
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mmfuse.audio import MFCCExtractor
from mmfuse.datasets import load_fsdd
from mmfuse.encoding import FisherVector
from mmfuse.probabilistic import HMMClassifier

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_HMM_ACCURACY = 0.97
MFCC_OPTIONS = dict(sr=8000, n_mfcc=13, deltas=2, trim_db=30.0, pre_emphasis=0.97)


def models(seed: int) -> dict:
    """name -> (input kind, factory of an unfitted model)."""
    return {
        "HMM (Gaussian, 8 states)": ("frames", lambda: HMMClassifier(
            n_states=8, topology="left-right", covariance_type="diag", random_state=seed)),
        "HMM (GMM, 8 states x 2)": ("frames", lambda: HMMClassifier(
            n_states=8, n_mix=2, topology="left-right", covariance_type="diag", n_iter=20,
            random_state=seed)),
        "Fisher vector (32) + logistic": ("frames", lambda: make_pipeline(
            FisherVector(n_words=32, random_state=seed),
            LogisticRegression(C=10.0, max_iter=2000))),
        "summary (mean/std) + SVM": ("summary", lambda: make_pipeline(
            StandardScaler(), SVC(C=10.0, gamma="scale"))),
    }


def run_split(name, factory, X, y, train, test) -> dict:
    model = factory()
    start = time.perf_counter()
    model.fit(X[train], y[train])
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(X[test])
    predict_s = time.perf_counter() - start
    return {
        "accuracy": float(accuracy_score(y[test], predicted)),
        "macro_f1": float(f1_score(y[test], predicted, average="macro")),
        "fit_s": fit_s,
        "predict_s": predict_s,
        "n_train": int(np.sum(train) if train.dtype == bool else len(train)),
        "n_test": int(np.sum(test) if test.dtype == bool else len(test)),
        "confusion": confusion_matrix(y[test], predicted, labels=np.arange(10)).tolist(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("MMFUSE_DATA")
                        or str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-loso-gmm", action="store_true",
                        help="leave the (slow) GMM-HMM out of the leave-one-speaker-out runs")
    parser.add_argument("--output", default=str(RESULTS / "fsdd"),
                        help="path prefix of the .json and .md results")
    args = parser.parse_args(argv)

    try:
        data = load_fsdd(args.data_dir)
    except FileNotFoundError as exc:
        print(f"FSDD not available: {exc}", file=sys.stderr)
        return 1
    info = machine_info(extra=("hmmlearn",))
    y = data.target
    print(f"FSDD: {len(y)} clips, {np.unique(data.speaker).size} speakers; "
          f"load average {info['loadavg']}", flush=True)

    start = time.perf_counter()
    frames = MFCCExtractor(**MFCC_OPTIONS).fit_transform(data.audio)
    frames_s = time.perf_counter() - start
    start = time.perf_counter()
    summary = MFCCExtractor(**MFCC_OPTIONS, output="summary").fit_transform(data.audio)
    summary_s = time.perf_counter() - start
    features = {"frames": frames, "summary": summary}
    extraction = {"frames_s": frames_s, "summary_s": summary_s,
                  "n_frames": int(frames.values.shape[0]),
                  "frames_per_clip": [int(frames.lengths.min()), float(frames.lengths.mean()),
                                      int(frames.lengths.max())]}
    print(f"MFCC frames: {frames_s:.1f} s ({frames.values.shape[0]} frames); "
          f"summaries: {summary_s:.1f} s", flush=True)

    results = {"official": {}, "loso": {}}
    catalogue = models(args.seed)
    for name, (kind, factory) in catalogue.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            result = run_split(name, factory, features[kind], y, ~data.is_test, data.is_test)
        results["official"][name] = result
        print(f"official  {name:32s} acc {result['accuracy']:.4f}  F1 {result['macro_f1']:.4f}"
              f"  fit {result['fit_s']:.1f} s  predict {result['predict_s']:.1f} s", flush=True)

    speakers = np.asarray(data.speaker)
    skipped = []
    for name, (kind, factory) in catalogue.items():
        if args.skip_loso_gmm and "GMM" in name:
            skipped.append(name)
            continue
        folds = []
        for train, test in LeaveOneGroupOut().split(np.zeros(len(y)), y, speakers):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)
                fold = run_split(name, factory, features[kind], y, train, test)
            fold["speaker"] = str(speakers[test][0])
            folds.append(fold)
            print(f"loso      {name:32s} {fold['speaker']:10s} acc {fold['accuracy']:.4f}  "
                  f"fit {fold['fit_s']:.1f} s", flush=True)
        accuracies = np.array([f["accuracy"] for f in folds])
        results["loso"][name] = {
            "accuracy_mean": float(accuracies.mean()), "accuracy_std": float(accuracies.std()),
            "macro_f1_mean": float(np.mean([f["macro_f1"] for f in folds])),
            "fit_s_mean": float(np.mean([f["fit_s"] for f in folds])),
            "predict_s_mean": float(np.mean([f["predict_s"] for f in folds])),
            "folds": folds,
        }

    info["loadavg_end"] = list(os.getloadavg())
    best_hmm = max(r["accuracy"] for n, r in results["official"].items() if n.startswith("HMM"))
    report = {
        "benchmark": "fsdd",
        "dataset": {"name": "Free Spoken Digit Dataset", "n_clips": int(len(y)),
                    "n_speakers": int(np.unique(speakers).size),
                    "official_split": "takes 0-4 test (300), others train (2700)"},
        "mfcc": {**MFCC_OPTIONS, "frame_duration": 0.025, "hop_duration": 0.010,
                 "cmvn": "utterance (frames); none (summary)"},
        "target": {"hmm_official_accuracy": TARGET_HMM_ACCURACY,
                   "best_hmm_official_accuracy": best_hmm,
                   "met": bool(best_hmm >= TARGET_HMM_ACCURACY)},
        "extraction": extraction,
        "results": results,
        "loso_skipped": skipped,
        "machine": info,
    }
    markdown = to_markdown(report)
    print()
    print(markdown)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown)
    return 0


def to_markdown(report: dict) -> str:
    info = report["machine"]
    lines = [
        "# FSDD spoken digits: MFCC + HMMs, Fisher vectors, summary + SVM",
        "",
        f"{report['dataset']['n_clips']} clips, {report['dataset']['n_speakers']} speakers. "
        "MFCC: 13 coefficients + deltas + delta-deltas, 25 ms / 10 ms at 8 kHz, silence "
        "trimmed at 30 dB, pre-emphasis 0.97, per-utterance CMVN (frames).",
        f"MFCC extraction of all clips: frames {report['extraction']['frames_s']:.1f} s, "
        f"summaries {report['extraction']['summary_s']:.1f} s (run once; not in the fit "
        "times below).",
        "",
        "## Official split (takes 0-4 test: 300 clips; 2,700 train)",
        "",
        "| pipeline | accuracy | macro-F1 | fit (s) | predict (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in report["results"]["official"].items():
        lines.append(f"| {name} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
                     f"{r['fit_s']:.1f} | {r['predict_s']:.2f} |")
    target = report["target"]
    lines += [
        "",
        f"Target: HMMClassifier >= {target['hmm_official_accuracy']:.2f} on the official test "
        f"split; best HMM: {target['best_hmm_official_accuracy']:.4f} -> "
        f"{'met' if target['met'] else 'NOT met'}.",
        "",
        "## Speaker-independent: leave one speaker out (6 folds of 500 clips)",
        "",
        "| pipeline | accuracy (mean +- std) | macro-F1 (mean) | per speaker | fit (s, mean) |",
        "|---|---:|---:|---|---:|",
    ]
    for name, r in report["results"]["loso"].items():
        per = ", ".join(f"{f['speaker']} {f['accuracy']:.2f}" for f in r["folds"])
        lines.append(f"| {name} | {r['accuracy_mean']:.4f} +- {r['accuracy_std']:.4f} | "
                     f"{r['macro_f1_mean']:.4f} | {per} | {r['fit_s_mean']:.1f} |")
    for name in report.get("loso_skipped", []):
        official = report["results"]["official"][name]
        lines.append(f"| {name} | not run (--skip-loso-gmm: its official-split fit took "
                     f"{official['fit_s']:.0f} s, times 6 folds) | | | |")
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if k != "python")
    lines += [
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']} ({info['cores']} logical cores), {info['platform']}",
        f"- Python {info['versions']['python']}; {versions}",
        f"- Date: {info['date']}",
        f"- Load average (1, 5, 15 min) at start {info['loadavg']}, at end "
        f"{info['loadavg_end']}: the machine was shared, so times are indicative.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
