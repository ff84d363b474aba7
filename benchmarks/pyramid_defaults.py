"""Accuracy of the default Fisher-vector pyramid, before and after issue 27's defaults.

Before: ``SpatialPyramid(FisherVector())`` meant levels (1, 2, 4) of a
64-word Fisher vector on raw 128-d SIFT: 344,064 values per image. After:
``levels="auto"`` gives (1, 2) for wide codes and ``n_components="auto"``
projects SIFT on 64 whitened principal components first: 40,960 values.
Both are fitted on the training photos with dense SIFT (default
``SIFTExtractor``), then a linear SVM (``SVC(kernel="precomputed")`` on the
linear kernel of the codes, default ``C=1``: the kernel trick keeps 344,064-d
codes of a few thousand photos within memory, where liblinear's copies of
them did not) is trained on the codes and scored on the test photos, on real
photographs:

- ``grocery_store``: 2,640 train / 2,485 test photos, 81 fine classes;
- ``mvsa_twitter``: 3,200 train / 800 test tweet photos, 3 sentiment classes
  (image only).

    python benchmarks/pyramid_defaults.py [--datasets grocery_store mvsa_twitter]

Writes ``results/pyramid_defaults.{json,md}`` with machine info.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def load_grocery(root: Path):
    def read(name):
        rows = [line.split(",") for line in (root / f"{name}.txt").read_text().splitlines()
                if line.strip()]
        return [str(root / r[0].strip()) for r in rows], np.array([int(r[1]) for r in rows])

    return read("train"), read("test")


def load_mvsa(root: Path):
    table = pd.read_csv(root / "labels.csv")
    paths = [str(root / "images" / f"{g}.jpg") for g in table["guid"]]
    labels = table["label"].to_numpy()
    split = table["split"].to_numpy()
    pick = lambda s: ([p for p, k in zip(paths, split, strict=True) if k == s],  # noqa: E731
                      labels[split == s])
    return pick("train"), pick("test")


CONFIGS = {
    "before: levels (1, 2, 4), FV on raw SIFT": dict(levels=(1, 2, 4), n_components=None),
    "after: defaults (levels auto = (1, 2), FV n_components auto = 64)": dict(),
}


def run(dataset: str, data_dir: Path) -> list[dict]:
    from sklearn.svm import SVC

    from mmfuse.encoding import FisherVector, SpatialPyramid
    from mmfuse.image import SIFTExtractor

    loader = {"grocery_store": load_grocery, "mvsa_twitter": load_mvsa}[dataset]
    (train_paths, y_train), (test_paths, y_test) = loader(data_dir / dataset)
    start = time.perf_counter()
    sift = SIFTExtractor(n_jobs=2)
    D_train = sift.fit_transform(train_paths)
    D_test = sift.transform(test_paths)
    sift_s = time.perf_counter() - start
    rows = []
    for name, config in CONFIGS.items():
        levels = config.get("levels", "auto")
        encoder = FisherVector(n_components=config.get("n_components", "auto"), random_state=0)
        pyramid = SpatialPyramid(encoder, levels=levels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # EM / liblinear may stop at max_iter
            start = time.perf_counter()
            Z_train = pyramid.fit_transform(D_train)
            encode_s = time.perf_counter() - start
            dims = int(Z_train.shape[1])
            Z_test = pyramid.transform(D_test)
            start = time.perf_counter()
            K_train = _linear_kernel(Z_train, Z_train)
            K_test = _linear_kernel(Z_test, Z_train)
            del Z_train, Z_test
            clf = SVC(kernel="precomputed").fit(K_train, y_train)
            clf_s = time.perf_counter() - start
        accuracy = float(np.mean(clf.predict(K_test) == y_test))
        rows.append({"dataset": dataset, "config": name, "dims": dims,
                     "accuracy": accuracy, "n_train": len(y_train), "n_test": len(y_test),
                     "sift_s": sift_s, "fit_transform_train_s": encode_s,
                     "classifier_s": clf_s,
                     "output_gib_per_10k": dims * 4 * 10_000 / 2**30})
        print(json.dumps(rows[-1]), flush=True)
        del K_train, K_test, clf
    return rows


def _linear_kernel(A, B, rows=256):
    """``A @ B.T`` in float64, a block of rows at a time (no float64 copy of A or B)."""
    out = np.empty((A.shape[0], B.shape[0]))
    for start in range(0, A.shape[0], rows):
        out[start:start + rows] = A[start:start + rows] @ B.T
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["grocery_store", "mvsa_twitter"])
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] /
                                                  "shared" / "datasets"))
    args = parser.parse_args(argv)
    from kernels import machine_info, machine_line

    rows = []
    for dataset in args.datasets:
        rows += run(dataset, Path(args.data_dir))
    machine = machine_info()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pyramid_defaults.json").write_text(
        json.dumps({"machine": machine, "rows": rows}, indent=1))
    lines = ["# Default Fisher-vector pyramid, before and after issue 27", "",
             "Dense SIFT (default `SIFTExtractor`) -> `SpatialPyramid(FisherVector(...))` "
             "fitted on the training photos -> linear SVM (`SVC(kernel=\"precomputed\")` on the "
             "linear kernel, C=1), accuracy on the "
             "official test photos. Output GiB per 10k images: float32 codes of 10,000 "
             "images.", "",
             machine_line(machine), "",
             "| dataset | configuration | dims | accuracy | output GiB / 10k images | "
             "encode train s | classifier s |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['config']} | {r['dims']:,} | {r['accuracy']:.3f} | "
                     f"{r['output_gib_per_10k']:.1f} | {r['fit_transform_train_s']:.0f} | "
                     f"{r['classifier_s']:.0f} |")
    (RESULTS / "pyramid_defaults.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
