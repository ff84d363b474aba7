"""Image encoders on real images: MNIST digits, dense SIFT, each encoder, a linear SVM.

Dense multi-scale RootSIFT (patch sizes 8 and 12 px, step 3 px: 85
descriptors per 28 x 28 digit) is extracted once; every encoder then gets the
same codebook budget (``--n-words`` codewords / Gaussians):

- hard bag-of-words (the baseline), alone and with a 1x1 + 2x2 + 4x4 pyramid;
- soft (kernel-codebook) bag-of-words with power normalisation + pyramid;
- VLAD and Fisher vectors on PCA-reduced descriptors (whitened for the
  Fisher vector's diagonal mixture), alone and with a 1x1 + 2x2 pyramid.

A linear SVM (``LinearSVC``) is trained on the first ``--n-train`` training
images, its C picked from {0.1, 1, 10, 100} on a held-out 20 % of them, and
evaluated on the first ``--n-test`` images of the official test set. Encode
time per image is the time of ``transform`` (PCA + encoding) on the test
set, divided by its size; SIFT time is reported separately.

Results go to ``benchmarks/results/mnist_encoders.{json,md}``.

Run: ``python benchmarks/mnist_encoders.py [--data-dir ../shared/datasets]``.
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
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from mmfuse.datasets import load_mnist
from mmfuse.encoding import VLAD, BagOfWords, DescriptorPCA, FisherVector, SpatialPyramid
from mmfuse.image import SIFTExtractor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernels import machine_info

RESULTS = Path(__file__).resolve().parent / "results"


def encoders(n_words: int, pca_dims: int, seed: int = 0) -> dict:
    """Encoder pipelines over descriptor sets, all with ``n_words`` codewords."""
    def bow(**kw):
        return BagOfWords(n_words, random_state=seed, **kw)

    def pca(whiten):
        return DescriptorPCA(pca_dims, whiten=whiten, random_state=seed)

    def vlad():
        return VLAD(n_words, random_state=seed)

    def fisher():
        return FisherVector(n_words, max_descriptors=50_000, random_state=seed)

    return {
        "BoW hard (l1)": bow(),
        "BoW hard (l1) + SPM 1,2,4": SpatialPyramid(bow(), levels=(1, 2, 4)),
        "BoW soft + power + SPM 1,2,4": SpatialPyramid(
            bow(assignment="soft", norm="power"), levels=(1, 2, 4)),
        f"PCA{pca_dims} + VLAD": make_pipeline(pca(False), vlad()),
        f"PCA{pca_dims} + VLAD + SPM 1,2": make_pipeline(
            pca(False), SpatialPyramid(vlad(), levels=(1, 2))),
        f"PCA{pca_dims}-whitened + FV": make_pipeline(pca(True), fisher()),
        f"PCA{pca_dims}-whitened + FV + SPM 1,2": make_pipeline(
            pca(True), SpatialPyramid(fisher(), levels=(1, 2))),
    }


def fit_svm(X, y, seed=0):
    """LinearSVC with C chosen on a stratified 20 % validation split, refitted on all."""
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.2, stratify=y,
                                                  random_state=seed)
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for C in (0.1, 1.0, 10.0, 100.0):
            clf = LinearSVC(C=C, random_state=seed).fit(X_fit, y_fit)
            scores[C] = float(np.mean(clf.predict(X_val) == y_val))
        best = max(scores, key=scores.get)
        return LinearSVC(C=best, random_state=seed).fit(X, y), best, scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("MMFUSE_DATA",
                                                             "../shared/datasets"))
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--n-words", type=int, default=32, help="codebook budget")
    parser.add_argument("--pca-dims", type=int, default=32)
    parser.add_argument("--only", nargs="*", help="run only encoders whose name contains these")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    machine = machine_info()
    start_all = time.perf_counter()
    train = load_mnist(args.data_dir, subset="train", n_samples=args.n_train)
    test = load_mnist(args.data_dir, subset="test", n_samples=args.n_test)
    sift = SIFTExtractor(mode="dense", step=3, patch_size=(8, 12), rootsift=True)
    t0 = time.perf_counter()
    d_train = sift.fit_transform(list(train.images))
    d_test = sift.transform(list(test.images))
    sift_s = time.perf_counter() - t0
    n_images = len(train.target) + len(test.target)
    print(f"dense RootSIFT: {d_train.values.shape[0] + d_test.values.shape[0]:,} descriptors "
          f"for {n_images:,} images in {sift_s:.1f} s "
          f"({sift_s / n_images * 1e3:.2f} ms/image)", flush=True)

    rows = []
    for name, encoder in encoders(args.n_words, args.pca_dims).items():
        if args.only and not any(s in name for s in args.only):
            continue
        t0 = time.perf_counter()
        encoder.fit(d_train)
        fit_s = time.perf_counter() - t0
        X_train = encoder.transform(d_train)
        t0 = time.perf_counter()
        X_test = encoder.transform(d_test)
        encode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        clf, C, val = fit_svm(X_train, train.target)
        svm_s = time.perf_counter() - t0
        accuracy = float(np.mean(clf.predict(X_test) == test.target))
        row = {"encoder": name, "n_words": args.n_words, "dimension": int(X_test.shape[1]),
               "test_accuracy": accuracy, "C": C, "validation_accuracy": val,
               "codebook_fit_s": fit_s, "encode_ms_per_image": encode_s / len(test.target) * 1e3,
               "svm_fit_s": svm_s}
        rows.append(row)
        print(f"{name:40s} dim {row['dimension']:6d}  accuracy {accuracy:.4f}  "
              f"encode {row['encode_ms_per_image']:.3f} ms/image  codebook {fit_s:.1f} s  "
              f"svm {svm_s:.1f} s (C={C})", flush=True)

    result = {
        "machine": machine, "loadavg_after": list(os.getloadavg()),
        "settings": {"n_train": len(train.target), "n_test": len(test.target),
                     "n_words": args.n_words, "pca_dims": args.pca_dims,
                     "sift": "dense RootSIFT, patch_size (8, 12), step 3",
                     "classifier": "LinearSVC, C from {0.1, 1, 10, 100} on a 20% validation split"},
        "sift_ms_per_image": sift_s / n_images * 1e3,
        "total_s": time.perf_counter() - start_all,
        "rows": rows,
    }
    text = to_markdown(result)
    print(text)
    if not args.only:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "mnist_encoders.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "mnist_encoders.md").write_text(text + "\n")
        print(f"wrote {args.out / 'mnist_encoders.json'} and .md")
    return 0


def to_markdown(result: dict) -> str:
    m, s = result["machine"], result["settings"]
    lines = [
        "# Image encoders on MNIST", "",
        f"- date: {m['date']}; CPU: {m['cpu']}, {m['cores']} cores",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- load average before: {m['loadavg']}, after: {result['loadavg_after']}",
        f"- train: first {s['n_train']:,} MNIST training images; test: first "
        f"{s['n_test']:,} images of the official test set",
        f"- descriptors: {s['sift']} ({result['sift_ms_per_image']:.2f} ms/image)",
        f"- codebook budget: {s['n_words']} codewords / Gaussians for every encoder; "
        f"PCA to {s['pca_dims']} dimensions for VLAD and FV",
        f"- classifier: {s['classifier']}",
        f"- total run time {result['total_s']:.0f} s", "",
        "| encoder | dimension | test accuracy | encode ms/image | codebook fit s | C |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['encoder']} | {r['dimension']:,} | {r['test_accuracy']:.4f} | "
                     f"{r['encode_ms_per_image']:.3f} | {r['codebook_fit_s']:.1f} | {r['C']:g} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
