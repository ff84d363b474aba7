"""Run named benchmark suites: ``mmfuse bench`` (or ``python -m mmfuse.bench``; in a
source checkout also ``python -m benchmarks``).

Examples::

    mmfuse bench --suite classification            # every dataset found, 3 seeds
    mmfuse bench --suite sequence retrieval --seeds 0 1 2
    mmfuse bench --suite classification --tasks av_digits --train-fraction 0.1
    mmfuse bench --suite all --tiny --out /tmp/bench   # smoke test, seconds

Datasets come from ``--data-dir`` (default ``$MMFUSE_DATA``, then mmfuse's data
home); a task whose data is absent is skipped with a line saying so. Each suite
writes ``<out>/bench_<suite>.json`` (every record, the summary, the machine),
``bench_<suite>.md`` (the tables) and, with matplotlib, per-task plots
(``bench_<suite>_<task>_tradeoff.png``: metric vs fit time;
``..._per_class.png``: per-class recall of the best model of each family).
The default results folder is the checkout's ``benchmarks/results`` when mmfuse
runs from a source checkout, else ``mmfuse_bench_results/`` in the current
folder.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

from mmfuse.bench._paths import default_results_dir

SUITE_NAMES = ("classification", "retrieval", "sequence", "kernels")


def build_parser(prog="mmfuse bench") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Run mmfuse's benchmark suites: classical and probabilistic "
        "models side by side with deep baselines, on the same splits and seeds.")
    parser.add_argument("--suite", nargs="+", choices=(*SUITE_NAMES, "all"), required=True,
                        help="suites to run ('all': every suite)")
    parser.add_argument("--tasks", nargs="+", default=None,
                        help="only these tasks (datasets) of the suite")
    parser.add_argument("--data-dir", default=os.environ.get("MMFUSE_DATA"),
                        help="folder holding fsdd/, mnist/, wikipedia_xmodal/ "
                        "(default: $MMFUSE_DATA)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tiny", action="store_true",
                        help="generated data only, a few dozen samples, 2 deep epochs: a "
                        "smoke test of the harness (results are not written unless --out)")
    parser.add_argument("--no-deep", action="store_true", help="leave the deep baselines out")
    parser.add_argument("--epochs", type=int, default=50,
                        help="deep baselines' epoch cap (early stopping may end sooner)")
    parser.add_argument("--patience", type=int, default=10,
                        help="deep baselines stop after this many epochs without a better "
                        "validation loss (retrieval: validation MAP)")
    parser.add_argument("--train-fraction", type=float, default=1.0,
                        help="keep this stratified share of each split's training rows")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default: benchmarks/results in a source "
                        "checkout, else ./mmfuse_bench_results; tiny runs: none)")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress lines or bars")
    return parser


def result_stem(suite: str, config) -> str:
    stem = f"bench_{suite}"
    if config.train_fraction < 1.0:
        stem += f"_train{round(config.train_fraction * 100)}"
    if config.tiny:
        stem += "_tiny"
    return stem


def run_suite(suite: str, config, *, seeds, out: Path | None, plots=True, verbose=True,
              command="") -> dict:
    """Run one suite; returns ``{"summary": DataFrame, "records": [...], "skipped": [...]}``."""
    from mmfuse.bench import harness
    from mmfuse.bench.suites import SUITES, build_task, deep_available, task_names

    log = print if verbose else (lambda *a, **k: None)
    if suite == "kernels":
        return run_kernels(config, out, verbose)
    machine = harness.machine_info()
    reason = deep_available() if config.deep else "deep baselines left out (--no-deep)"
    if reason:
        log(f"[{suite}] {reason}")
    tasks, records, skipped = [], [], []
    for name in task_names(suite, config):
        try:
            task = build_task(suite, name, config)
        except FileNotFoundError as exc:
            line = f"[{suite}] {name}: skipped, its data is absent ({exc})"
            print(line)
            skipped.append(line)
            continue
        models = SUITES[suite]["models"](task, config)
        log(f"[{suite}] {name}: {len(models)} models x {len(seeds)} seeds")
        task_records = harness.run_task(task, models, seeds, verbose=verbose)
        records += task_records
        tasks.append(task)
        summary = harness.summarize(task_records)
        print(f"\n## {suite}: {name}\n\n{harness.task_table(summary, task)}\n", flush=True)
    summary = harness.summarize(records)
    if out is not None and tasks:
        config_dict = {"suite": suite, "seeds": list(seeds), "command": command,
                       **{k: v for k, v in vars(config).items() if k != "extra"}}
        stem = result_stem(suite, config)
        payload = {"suite": suite, "config": config_dict, "machine": machine,
                   "loadavg_after": list(os.getloadavg()),
                   "tasks": [{"name": t.name, "kind": t.kind, "description": t.description,
                              "split": t.split_note, "setup_seconds": t.setup_seconds,
                              "target_names": [str(n) for n in (t.target_names or [])],
                              "run": {"config": config_dict, "machine": machine}}
                             for t in tasks],
                   "records": records, "skipped": skipped}
        if config.tasks:  # a run of some tasks keeps the other tasks of the suite's file
            payload = merge_previous(out / f"{stem}.json", payload)
        page = (summary if payload["records"] is records
                else harness.summarize(payload["records"]))
        payload["summary"] = page.to_dict(orient="records")
        markdown = harness.to_markdown(suite, [_task_of(t) for t in payload["tasks"]], page,
                                       machine, config_dict)
        paths = harness.save_results(out, stem, payload, markdown)
        if plots:
            for task in tasks:
                paths += harness.save_plots(out, stem, task, summary)
        log(f"[{suite}] wrote " + ", ".join(str(p) for p in paths))
    return {"summary": summary, "records": records, "skipped": skipped}


def merge_previous(path: Path, payload: dict) -> dict:
    """``payload`` plus the tasks (and their records) of an earlier run saved at ``path``
    that this run did not redo; tasks keep the order of the earlier file, new ones last."""
    if not path.is_file():
        return payload
    import json

    previous = json.loads(path.read_text())
    if previous.get("suite") != payload["suite"]:
        return payload
    redone = {t["name"] for t in payload["tasks"]}
    kept = [t for t in previous.get("tasks", []) if t["name"] not in redone]
    for task in kept:  # runs before per-task run info was recorded
        task.setdefault("run", {"config": previous.get("config"),
                                "machine": previous.get("machine")})
    order = [t["name"] for t in previous.get("tasks", [])]
    tasks = sorted(kept + payload["tasks"],
                   key=lambda t: order.index(t["name"]) if t["name"] in order else len(order))
    records = [r for r in previous.get("records", []) if r["task"] not in redone]
    return {**payload, "tasks": tasks, "records": records + payload["records"],
            "skipped": sorted(set(previous.get("skipped", [])) | set(payload["skipped"]))}


def _task_of(entry: dict):
    """A results-page Task from a task entry of a results JSON."""
    from mmfuse.bench.harness import Task

    return Task(name=entry["name"], kind=entry["kind"], description=entry["description"],
                y=None, modalities=[], raw=None, featurize=None, split=None,
                split_note=entry.get("split", ""), target_names=entry.get("target_names"),
                setup_seconds=entry.get("setup_seconds", {}), run=entry.get("run"))


def run_kernels(config, out, verbose) -> dict:
    """The speed suite: :mod:`mmfuse.bench.kernels` (CPU rows; GPU rows when CuPy sees one)."""
    from mmfuse.bench import kernels

    try:
        import faiss  # noqa: F401
    except ImportError:
        line = ("[kernels] skipped: the speed suite compares against faiss-cpu, which is "
                "absent (pip install \"mmfuse[bench]\")")
        print(line)
        return {"summary": None, "records": [], "skipped": [line]}
    argv = ["--quick", "--repeats", "1"] if config.tiny else []
    if out is not None and not config.tiny:
        argv += ["--out", str(out)]
    status = kernels.main(argv)
    records = [{"suite": "kernels", "device": "cpu", "status": status}]
    if not config.tiny and _gpu_present():
        records.append({"suite": "kernels", "device": "gpu",
                        "status": kernels.main([*argv, "--device", "gpu"])})
    return {"summary": None, "records": records, "skipped": []}


def _gpu_present() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def main(argv=None, prog="mmfuse bench") -> int:
    from mmfuse.bench.suites import SuiteConfig

    args = build_parser(prog).parse_args(argv)
    if not 0.0 < args.train_fraction <= 1.0:
        print(f"{prog}: --train-fraction must be in (0, 1]", file=sys.stderr)
        return 2
    suites = list(SUITE_NAMES) if "all" in args.suite else list(dict.fromkeys(args.suite))
    if args.tasks and len(suites) > 1:
        print(f"{prog}: --tasks needs exactly one --suite", file=sys.stderr)
        return 2
    out = args.out
    if out is None and not args.tiny:
        out = default_results_dir()
    config = SuiteConfig(data_dir=args.data_dir, tiny=args.tiny, deep=not args.no_deep,
                         train_fraction=args.train_fraction, epochs=args.epochs,
                         patience=args.patience,
                         tasks=args.tasks)
    command = " ".join([prog, *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    status = 0
    start = time.perf_counter()
    with warnings.catch_warnings():
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", ConvergenceWarning)
        # sklearn's announcements of future defaults (LogisticRegressionCV...): not results.
        warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")
        for suite in suites:
            try:
                result = run_suite(suite, config, seeds=args.seeds, out=out,
                                   plots=not args.no_plots, verbose=not args.quiet,
                                   command=command)
            except ValueError as exc:
                print(f"{prog}: {exc}", file=sys.stderr)
                return 2
            failed = [r for r in result["records"] if r.get("error") or r.get("status")]
            for record in failed:
                print(f"[{suite}] FAILED: {record}", file=sys.stderr)
            status = status or (1 if failed else 0)
    if not args.quiet:
        print(f"done in {time.perf_counter() - start:.0f} s")
    return status

