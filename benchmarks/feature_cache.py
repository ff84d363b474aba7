"""Stacking with SIFT inside: extraction once per photo with CachedTransformer (issue 16.3).

A stacked late fusion (``combine="stacking"``, 5 folds) refits the image
pipeline on every fold and once on all rows, so without a cache it describes
every photo about six times. This script times, on real MVSA Twitter photos
and their tweets (the first ``--n`` rows of the official training split):

- one extraction: ``SIFTExtractor().fit_transform(photos)``;
- the stacked fusion's ``fit`` without a cache, with
  ``CachedTransformer(SIFTExtractor())`` (a fresh in-memory cache), and with
  ``oof_refit="final_step"`` (the steps before each pipeline's classifier
  fitted once; only the classifier refitted per fold), alone and with the
  cache;

and counts the photos the extractor described in each. Image pipeline:
dense SIFT -> ``BagOfWords(64)`` -> logistic regression; text pipeline:
``TextVectorizer`` -> logistic regression.

    python benchmarks/feature_cache.py [--n 800]

Writes ``results/feature_cache.{json,md}`` with machine info.
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

from mmfuse.image import SIFTExtractor

RESULTS = Path(__file__).resolve().parent / "results"
COUNT = []


class CountingSIFT(SIFTExtractor):
    """SIFTExtractor that counts the photos it describes (module level, so that the
    cache fingerprints it by reference, as any importable extractor)."""

    def transform(self, X):
        COUNT.append(len(X))
        return super().transform(X)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=800)
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] /
                                                  "shared" / "datasets"))
    args = parser.parse_args(argv)
    from kernels import machine_info, machine_line
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from mmfuse.encoding import BagOfWords
    from mmfuse.fusion import LateFusionClassifier
    from mmfuse.parallel import CachedTransformer
    from mmfuse.text import TextVectorizer

    root = Path(args.data_dir) / "mvsa_twitter"
    table = pd.read_csv(root / "labels.csv")
    table = table[table.split == "train"].head(args.n)
    texts = [(root / "texts" / f"{g}.txt").read_bytes().decode("utf-8", "replace").strip()
             for g in table.guid]
    frame = pd.DataFrame({"image": [str(root / "images" / f"{g}.jpg") for g in table.guid],
                          "text": texts})
    y = table.label.to_numpy()

    start = time.perf_counter()
    SIFTExtractor().fit_transform(list(frame["image"]))
    one_extraction = time.perf_counter() - start

    def stacked(extractor, oof_refit):
        image = Pipeline([("sift", extractor), ("bow", BagOfWords(64, random_state=0)),
                          ("clf", LogisticRegression(max_iter=1000))])
        text = Pipeline([("tfidf", TextVectorizer()),
                         ("clf", LogisticRegression(max_iter=1000))])
        return LateFusionClassifier([("image", image, "image"), ("text", text, "text")],
                                    combine="stacking", cv=5, oof_refit=oof_refit)

    rows = []
    settings = [("no cache", CountingSIFT(), "pipeline"),
                ("CachedTransformer", CachedTransformer(CountingSIFT()), "pipeline"),
                ('oof_refit="final_step"', CountingSIFT(), "final_step"),
                ('CachedTransformer + oof_refit="final_step"',
                 CachedTransformer(CountingSIFT()), "final_step")]
    for name, extractor, oof_refit in settings:
        CachedTransformer.clear()
        COUNT.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            model = stacked(extractor, oof_refit).fit(frame, y)
            seconds = time.perf_counter() - start
        rows.append({"setting": name, "fit_s": seconds, "photos_described": int(sum(COUNT)),
                     "extractions_per_photo": sum(COUNT) / len(frame),
                     "fit_over_one_extraction": seconds / one_extraction,
                     "oof_refit": oof_refit,
                     "train_accuracy": float(np.mean(model.predict(frame) == y))})
        print(json.dumps(rows[-1]), flush=True)
    machine = machine_info()
    RESULTS.mkdir(exist_ok=True)
    result = {"machine": machine, "n_photos": len(frame), "one_extraction_s": one_extraction,
              "rows": rows}
    (RESULTS / "feature_cache.json").write_text(json.dumps(result, indent=1))
    lines = ["# Stacking with SIFT inside, with and without CachedTransformer", "",
             f"{len(frame)} MVSA Twitter photos + tweets (first rows of the training split); "
             "stacked late fusion, 5 folds; image: dense SIFT -> BagOfWords(64) -> logistic "
             "regression; text: TextVectorizer -> logistic regression. `oof_refit=\"final_step\"`: "
             "SIFT, codebook and TF-IDF fitted once on all rows, only the classifiers refitted "
             "per fold (label-free steps see the held-out folds' inputs, never their labels).",
             "",
             f"One extraction (`SIFTExtractor().fit_transform`): {one_extraction:.1f} s.", "",
             "| setting | stacking fit s | photos described | extractions per photo | "
             "fit / one extraction |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['fit_s']:.1f} | {r['photos_described']:,} | "
                     f"{r['extractions_per_photo']:.2f} | {r['fit_over_one_extraction']:.2f} |")
    lines += ["", machine_line(machine)]
    (RESULTS / "feature_cache.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
