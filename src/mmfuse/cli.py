"""The ``mmfuse`` command line: ``mmfuse demo``, ``mmfuse retrieve`` (and more later)."""

from __future__ import annotations

import argparse
import platform
import sys
import time


def build_demo_models(n_jobs=None, random_state=0):
    """The three pipelines the demo compares: image only, text only, early fusion.

    Each pipeline takes the whole ``make_shapes`` frame and selects its
    modalities through :class:`~mmfuse.fusion.EarlyFusion`, so the three are
    cross-validated on exactly the same rows.

    Returns
    -------
    models : dict of {str: Pipeline}

    Examples
    --------
    >>> from mmfuse.cli import build_demo_models
    >>> sorted(build_demo_models())
    ['early fusion (image + text)', 'image only', 'text only']
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from mmfuse.encoding import BagOfWords
    from mmfuse.fusion import EarlyFusion
    from mmfuse.image import SIFTExtractor
    from mmfuse.text import TextVectorizer

    def image_block():
        return Pipeline([
            # Sparse (detector) keypoints sit on the shapes' corners and edges, where the
            # class evidence is; a dense grid spends most descriptors on background.
            ("sift", SIFTExtractor(mode="sparse", rootsift=True, n_jobs=n_jobs)),
            ("bow", BagOfWords(n_words=64, max_descriptors=20_000, random_state=random_state)),
        ])

    def text_block():
        return TextVectorizer(sublinear_tf=True)

    def classifier():
        return LogisticRegression(C=10.0, max_iter=2000)

    blocks = {
        "image only": [("image", image_block(), "image")],
        "text only": [("text", text_block(), "text")],
        "early fusion (image + text)": [("image", image_block(), "image"),
                                        ("text", text_block(), "text")],
    }
    return {name: Pipeline([("fusion", EarlyFusion(mods)), ("clf", classifier())])
            for name, mods in blocks.items()}


def run_demo(n_samples=600, random_state=0, n_jobs=None, cv=5, out=None):
    """Cross-validate the demo pipelines on ``make_shapes`` and print a table.

    Returns
    -------
    results : pandas.DataFrame
        One row per model: accuracy and macro-F1 (mean, std over folds),
        fit and predict time per fold.
    """
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold, cross_validate

    from mmfuse.datasets import make_shapes

    out = sys.stdout if out is None else out
    start = time.perf_counter()
    data = make_shapes(n_samples=n_samples, random_state=random_state)
    gen_time = time.perf_counter() - start
    print(f"make_shapes: {n_samples} samples, {len(data.target_names)} scene classes, "
          f"modalities {list(data.frame.columns)} ({gen_time:.1f} s)", file=out)
    splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    rows = []
    for name, model in build_demo_models(n_jobs=n_jobs, random_state=random_state).items():
        scores = cross_validate(model, data.frame, data.target, cv=splitter,
                                scoring=("accuracy", "f1_macro"))
        rows.append({
            "model": name,
            "accuracy": scores["test_accuracy"].mean(),
            "accuracy_std": scores["test_accuracy"].std(),
            "macro_f1": scores["test_f1_macro"].mean(),
            "macro_f1_std": scores["test_f1_macro"].std(),
            "fit_s": scores["fit_time"].mean(),
            "predict_s": scores["score_time"].mean(),
        })
    results = pd.DataFrame(rows).set_index("model")
    table = pd.DataFrame({
        "accuracy": [f"{m:.3f} ± {s:.3f}" for m, s in
                     zip(results.accuracy, results.accuracy_std, strict=True)],
        "macro-F1": [f"{m:.3f} ± {s:.3f}" for m, s in
                     zip(results.macro_f1, results.macro_f1_std, strict=True)],
        "fit s/fold": results.fit_s.map("{:.2f}".format),
        "predict s/fold": results.predict_s.map("{:.2f}".format),
    }, index=results.index)
    print(f"\n{cv}-fold stratified cross-validation (mean ± std over folds), "
          "LogisticRegression on each representation:\n", file=out)
    print(table.to_string(), file=out)
    best_single = results.drop(index="early fusion (image + text)").accuracy.max()
    gain = results.loc["early fusion (image + text)", "accuracy"] - best_single
    print(f"\nearly fusion vs best single modality: {gain:+.3f} accuracy", file=out)
    print(f"total {time.perf_counter() - start:.1f} s on {platform.machine()} "
          f"python {platform.python_version()}, numpy {np.__version__}", file=out)
    return results


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmfuse", description="Classical-plus-probabilistic multimodal learning.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="cross-validate image-only, text-only and early-fusion models "
                     "on the built-in make_shapes data")
    demo.add_argument("--n-samples", type=_positive_int, default=600)
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--n-jobs", type=int, default=None,
                      help="parallel jobs for feature extraction (joblib; -1 = all cores)")
    demo.add_argument("--cv", type=_positive_int, default=5, help="number of CV folds")
    retrieve = sub.add_parser(
        "retrieve", help="cross-modal retrieval (image <-> text) on the built-in make_shapes "
                         "data: MAP of CCA, semantic matching, ... both directions")
    retrieve.add_argument("--n-samples", type=_positive_int, default=300)
    retrieve.add_argument("--methods", default="cca,sm,scm",
                          help="comma-separated: cca, kcca, pls, sm, scm, ranking")
    retrieve.add_argument("--k", type=_positive_int, default=5, help="results per query")
    retrieve.add_argument("--query", default=None,
                          help="text query for the example search (default: a held-out caption)")
    retrieve.add_argument("--random-state", type=int, default=0)
    datasets = sub.add_parser(
        "datasets", help="which real datasets the benchmarks and tutorials use, and which "
                         "are found under --data-dir (default: $MMFUSE_DATA)")
    datasets.add_argument("--data-dir", default=None)
    sub.add_parser(
        "bench", add_help=False,
        help="run the benchmark suites (classification, retrieval, sequence, kernels) with "
             "deep baselines (the `deep` extra). `mmfuse bench --help` for options")
    return parser


def run_bench(argv) -> int:
    """``mmfuse bench ...``: the benchmark suites (:mod:`mmfuse.bench`)."""
    from mmfuse.bench import main as bench_main

    return bench_main(list(argv), prog="mmfuse bench")


def main(argv=None) -> int:
    """Entry point of the ``mmfuse`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # its options belong to the benchmark runner
        return run_bench(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        if args.cv < 2:
            print("mmfuse demo: --cv must be at least 2", file=sys.stderr)
            return 2
        run_demo(n_samples=args.n_samples, random_state=args.random_state,
                 n_jobs=args.n_jobs, cv=args.cv)
        return 0
    if args.command == "retrieve":
        from mmfuse.crossmodal import run_retrieve_demo
        from mmfuse.crossmodal._retriever import DEMO_METHODS

        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        unknown = sorted(set(methods) - set(DEMO_METHODS))
        if not methods or unknown:
            print(f"mmfuse retrieve: unknown method(s) {unknown or args.methods!r}; choose "
                  f"from {', '.join(DEMO_METHODS)}", file=sys.stderr)
            return 2
        if args.n_samples < 20:
            print("mmfuse retrieve: --n-samples must be at least 20", file=sys.stderr)
            return 2
        run_retrieve_demo(methods, n_samples=args.n_samples, k=args.k, query=args.query,
                          random_state=args.random_state)
        return 0
    if args.command == "datasets":
        from mmfuse.datasets import describe_datasets

        print(describe_datasets(args.data_dir))
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands
