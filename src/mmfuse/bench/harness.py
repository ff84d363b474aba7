"""The benchmark harness: tasks, model specs, the seeded runner, records and reports.

A *suite* is a list of :class:`Task` objects (one per dataset) and, per task, a
dict of :class:`ModelSpec`. :func:`run_task` runs every model on the same
train/test split for each seed and returns one record per (model, seed) with
the metrics, fit time, predict time per sample, peak memory and model size.
:func:`summarize` turns records into mean and spread over seeds;
:func:`to_markdown`, :func:`save_results` and :func:`save_plots` write the
tables, JSON and figures.

Two kinds of model input share a split:

- ``"features"``: classical models get the task's engineered features, learned
  on the training rows only (``Task.featurize``) and shared by every classical
  model of that seed, so they differ only in how they model or fuse;
- ``"raw"``: deep models get the raw media frame (``Task.raw``) and learn their
  own encoders; they carve their early-stopping validation rows out of the
  same training rows.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mmfuse.bench._paths import default_results_dir

RESULTS = default_results_dir()


# ---------------------------------------------------------------------------------------
# Machine information
# ---------------------------------------------------------------------------------------

def machine_info() -> dict:
    """``benchmarks/kernels.py``'s machine info (CPU, cores, BLAS, date, load average) plus
    memory, GPU (when torch sees one) and the versions of every library a suite uses.

    Returns
    -------
    info : dict
        JSON-serialisable; ``loadavg`` is ``os.getloadavg()`` at the call, so a
        reader can tell whether timings were taken on a busy machine.
    """
    import importlib.metadata as md

    from mmfuse.bench.kernels import machine_info as base_info  # CPU, cores, BLAS, date

    info = base_info()
    info["loadavg"] = [round(x, 2) for x in info["loadavg"]]
    info["gpu"] = None
    for dist in ("mmfuse", "numpy", "scipy", "scikit-learn", "pandas",
                 "opencv-contrib-python-headless", "nltk", "pgmpy", "hmmlearn", "librosa",
                 "torch", "faiss-cpu", "cupy-cuda12x"):
        try:
            info["versions"][dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


# ---------------------------------------------------------------------------------------
# Measuring one call: wall time and peak resident memory
# ---------------------------------------------------------------------------------------

def reset_high_water_mark() -> bool:
    """Reset Linux's peak-RSS mark of this process (``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return proc_status_bytes("VmHWM") > 0
    except OSError:
        return False


def proc_status_bytes(field: str = "VmHWM") -> int:
    """A memory field of ``/proc/self/status`` in bytes (``VmHWM``: peak RSS since
    the last reset; ``VmRSS``: RSS now), 0 when unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakMemory:
    """Context manager sampling this process's resident set size in a thread.

    ``peak_mb`` is the highest RSS seen while the block ran minus the RSS on
    entry: the extra memory the block needed at its peak (sampled every
    ``interval`` seconds; on Linux the kernel's peak mark, reset on entry,
    catches the spikes sampling misses). On a CUDA
    device, torch's own peak allocation is added when torch is in use.
    Without psutil, ``peak_mb`` is NaN.
    """

    def __init__(self, interval=0.005):
        self.interval = interval
        self.peak_mb = float("nan")

    def __enter__(self):
        try:
            import psutil
        except ImportError:
            self._proc = None
            return self
        self._proc = psutil.Process()
        self._hwm = reset_high_water_mark()
        self._start = self._peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self._cuda = _cuda_reset_peak()
        return self

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        if self._proc is None:
            return False
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)
        if self._hwm:  # the kernel's exact peak: no sampling gap, even on a loaded machine
            self._peak = max(self._peak, proc_status_bytes("VmHWM"))
        self.peak_mb = (self._peak - self._start) / 2**20
        if self._cuda:
            import torch

            self.peak_mb += torch.cuda.max_memory_allocated() / 2**20
        return False


def _cuda_reset_peak() -> bool:
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return False
    torch.cuda.reset_peak_memory_stats()
    return True


def timed(fn, *args, **kwargs):
    """``(result, seconds, peak_mb)`` of ``fn(*args, **kwargs)``."""
    with PeakMemory() as memory:
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
    return out, seconds, memory.peak_mb


# ---------------------------------------------------------------------------------------
# Tasks and models
# ---------------------------------------------------------------------------------------

@dataclass
class Features:
    """Classical features of one split, learned on its training rows.

    ``train``/``test`` are what the feature models fit and predict on (a
    numeric matrix whose column blocks ``blocks`` names per modality, or any
    object the task's models take, e.g. MFCC frame sets). ``info`` holds
    what model builders need (blocks, kernels, costs...).
    """

    train: object
    test: object
    info: dict = field(default_factory=dict)


@dataclass
class Task:
    """One dataset of a suite.

    Parameters
    ----------
    name, kind : str
        ``kind`` is ``"classification"``, ``"sequence"`` or ``"retrieval"``.
    description : str
        Markdown: the data, its split and the features, for the results page.
    y : ndarray of shape (n_samples,)
        Class labels (retrieval: category labels, relevance = same label).
    modalities : list of str
    raw : DataFrame or None
        One column per modality, raw media: the deep models' input.
    featurize : callable (train_idx, test_idx) -> Features
        The classical models' input, learned on the training rows only.
    split : callable seed -> (train_idx, test_idx)
    split_note : str
    target_names : list of str
    setup_seconds : dict
        Timings of the one-off preparation (loading, per-sample extraction).
    """

    name: str
    kind: str
    description: str
    y: np.ndarray
    modalities: list
    raw: pd.DataFrame | None
    featurize: Callable
    split: Callable
    split_note: str = ""
    target_names: list | None = None
    setup_seconds: dict = field(default_factory=dict)
    retrieval_views: tuple = ("image", "text")
    run: dict | None = None  # {"config", "machine"} of the run that measured this task


@dataclass
class ModelSpec:
    """How to build one model of a suite.

    ``build(features_info, seed)`` returns an unfitted estimator. ``input``
    is ``"features"`` (classical, fitted on ``Features.train``) or ``"raw"``
    (deep, fitted on ``Task.raw`` rows). ``family`` groups rows in tables
    (``"single modality"``, ``"fusion"``, ``"probabilistic"``, ``"deep"``...).
    ``missing`` says the model accepts absent modalities at predict time.
    ``view`` picks one entry when the task's features are a dict of
    alternatives (e.g. MFCC frames or their summary).
    """

    name: str
    family: str
    build: Callable
    input: str = "features"
    missing: bool = False
    view: str | None = None


def model_size(model, X_train) -> tuple[str, int]:
    """``("parameters", n)`` for deep models (``n_params_``), else ``("features", d)``."""
    if hasattr(model, "n_params_"):
        return "parameters", int(model.n_params_)
    last = model[-1] if hasattr(model, "steps") else None
    if getattr(last, "n_features_in_", None) is not None and not hasattr(last, "steps"):
        return "features", int(last.n_features_in_)
    shape = getattr(X_train, "shape", None)
    if shape is not None and len(shape) == 2:
        return "features", int(shape[1])
    width = getattr(getattr(X_train, "values", None), "shape", (0, 0))
    return "features", int(width[1]) if len(width) == 2 else 0


def _rows(X, idx):
    if isinstance(X, pd.DataFrame):
        return X.iloc[idx].reset_index(drop=True)
    return X[idx]


def _drop_modality(spec: ModelSpec, X, modality, info):
    """Test input with ``modality`` absent from every row."""
    if spec.input == "raw":
        X = X.copy()
        X[modality] = pd.Series([None] * len(X), dtype=object)
        return X
    X = np.array(X, dtype=np.float64, copy=True)
    X[:, info["blocks"][modality]] = np.nan
    return X


def _classification_metrics(y_true, y_pred, labels) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=labels,
                                       zero_division=0)),
            "per_class": recall_score(y_true, y_pred, average=None, labels=labels,
                                      zero_division=0).tolist()}


def retrieval_scores(model, X_test, Y_test, y_test, metric="cosine") -> dict:
    """Image->text and text->image MAP among the test pairs, same label = relevant."""
    from mmfuse.crossmodal import CrossModalIndex
    from mmfuse.crossmodal.metrics import mean_average_precision, relevance_from_labels

    images, texts = model.transform_x(X_test), model.transform_y(Y_test)
    image_index, text_index = CrossModalIndex(metric), CrossModalIndex(metric)
    image_index.add(images)
    text_index.add(texts)
    relevance = relevance_from_labels(y_test, y_test)
    return {"map_i2t": float(mean_average_precision(text_index.similarity(images), relevance)),
            "map_t2i": float(mean_average_precision(image_index.similarity(texts), relevance))}


def run_task(task: Task, models: dict, seeds, *, verbose=True, log=None) -> list[dict]:
    """Every model on every seed's split of ``task``; one record per (model, seed).

    A model that raises is recorded with its error and the run goes on (its
    metrics are NaN), so one broken baseline cannot sink a suite.
    """
    from tqdm.auto import tqdm

    log = tqdm.write if log is None else log
    labels = np.unique(task.y)
    records = []
    seeds = list(seeds)
    bar = tqdm(total=len(seeds) * len(models), desc=task.name, disable=not verbose,
               leave=False)
    for seed in seeds:
        train, test = task.split(seed)
        features, feat_s = None, float("nan")
        if any(spec.input == "features" for spec in models.values()):
            features, feat_s, _ = timed(task.featurize, train, test)
            if verbose:
                log(f"[{task.name}] seed {seed}: {len(train)} train / {len(test)} test, "
                    f"features {feat_s:.1f} s")
        for name, spec in models.items():
            bar.set_postfix_str(f"seed {seed}: {name}"[:40])
            record = {"task": task.name, "kind": task.kind, "model": name,
                      "family": spec.family, "input": spec.input, "seed": int(seed),
                      "n_train": len(train), "n_test": len(test)}
            if spec.input == "features":
                # Learning the classical features on this seed's training rows (codebooks,
                # vocabularies, scalers): shared by every classical model of the seed.
                record["features_s"] = feat_s
            try:
                record.update(_run_one(task, spec, seed, train, test, features, labels))
            except Exception as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
                warnings.warn(f"[{task.name}] {name} (seed {seed}) failed: {record['error']}",
                              RuntimeWarning, stacklevel=2)
            records.append(record)
            if verbose:
                main = record.get("accuracy", record.get("map_i2t", float("nan")))
                log(f"  {name:<44} {main:.3f}  fit {record.get('fit_s', float('nan')):7.2f} s")
            bar.update()
    bar.close()
    return records


def _run_one(task, spec, seed, train, test, features, labels) -> dict:
    info = features.info if features is not None else {}
    model = spec.build(info, seed)
    if spec.input == "features":
        X_tr, X_te = features.train, features.test
        if spec.view is not None:
            X_tr, X_te = X_tr[spec.view], X_te[spec.view]
    else:
        X_tr, X_te = _rows(task.raw, train), _rows(task.raw, test)
    y_tr, y_te = task.y[train], task.y[test]
    out = {}
    if task.kind == "retrieval":
        a, b = task.retrieval_views
        if spec.input == "features":
            (Xa_tr, Xb_tr), (Xa_te, Xb_te) = X_tr, X_te
        else:
            Xa_tr, Xb_tr, Xa_te, Xb_te = X_tr[a], X_tr[b], X_te[a], X_te[b]
        _, fit_s, peak = timed(model.fit, Xa_tr, Xb_tr, y_tr)
        scores, pred_s, _ = timed(retrieval_scores, model, Xa_te, Xb_te, y_te,
                                  info.get("metric", "cosine"))
        out.update(scores)
        size = model_size(model, Xa_tr)
        if size[0] == "features":  # both views' input widths
            size = ("features", size[1] + model_size(model, Xb_tr)[1])
    else:
        _, fit_s, peak = timed(model.fit, X_tr, y_tr)
        pred, pred_s, _ = timed(model.predict, X_te)
        out.update(_classification_metrics(y_te, pred, labels))
        if spec.missing and len(task.modalities) > 1:
            for m in task.modalities:
                out[f"missing {m}"] = float(np.mean(
                    model.predict(_drop_modality(spec, X_te, m, info)) == y_te))
        size = model_size(model, X_tr)
    out.update({"fit_s": fit_s, "predict_ms_per_sample": 1e3 * pred_s / len(test),
                "peak_mb": peak, "size_kind": size[0], "size": size[1]})
    for attr in ("n_epochs_", "best_epoch_"):
        if hasattr(model, attr):
            out[attr.rstrip("_")] = int(getattr(model, attr))
    return out


# ---------------------------------------------------------------------------------------
# Summaries and reports
# ---------------------------------------------------------------------------------------

METRICS = {"classification": ["accuracy", "macro_f1"], "sequence": ["accuracy", "macro_f1"],
           "retrieval": ["map_i2t", "map_t2i"]}
COSTS = ["fit_s", "predict_ms_per_sample", "peak_mb"]


def summarize(records: list[dict]) -> pd.DataFrame:
    """Mean and standard deviation over seeds per (task, model).

    Returns
    -------
    DataFrame
        One row per (task, model) in run order with ``<metric>_mean`` and
        ``<metric>_std`` columns for every metric and cost present, ``seeds``
        (how many ran without error), ``size_kind``/``size`` and ``error``.
    """
    frame = pd.DataFrame(records)
    if frame.empty:
        return frame
    if "error" not in frame:
        frame["error"] = np.nan
    numeric = [c for c in frame.columns
               if c not in {"seed", "n_train", "n_test", "size"}
               and pd.api.types.is_numeric_dtype(frame[c])]
    rows = []
    for (task, model), group in frame.groupby(["task", "model"], sort=False):
        ok = group[group["error"].isna()]
        row = {"task": task, "model": model, "family": group["family"].iloc[0],
               "kind": group["kind"].iloc[0], "seeds": len(ok),
               "n_train": int(group["n_train"].iloc[0]), "n_test": int(group["n_test"].iloc[0]),
               "error": None if ok.shape[0] == group.shape[0]
               else group["error"].dropna().iloc[0]}
        for col in numeric:
            values = ok[col].dropna().to_numpy(dtype=float)
            row[f"{col}_mean"] = float(values.mean()) if values.size else np.nan
            row[f"{col}_std"] = float(values.std(ddof=0)) if values.size else np.nan
        if "size" in ok and ok["size"].notna().any():
            row["size_kind"] = ok["size_kind"].dropna().iloc[0]
            row["size"] = int(ok["size"].dropna().iloc[0])
        if "per_class" in ok and len(ok):
            row["per_class"] = np.mean(np.stack(ok["per_class"].to_list()), axis=0).tolist()
        rows.append(row)
    return pd.DataFrame(rows)


def _pm(row, col, digits=3):
    mean, std = row.get(f"{col}_mean", np.nan), row.get(f"{col}_std", np.nan)
    if mean is None or not np.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _num(value, digits=2):
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def task_table(summary: pd.DataFrame, task: Task | str, kind: str | None = None) -> str:
    """The Markdown table of one task: metrics ± spread over seeds, costs, size."""
    name = task.name if isinstance(task, Task) else task
    rows = summary[summary["task"] == name]
    kind = kind or rows["kind"].iloc[0]
    metrics = METRICS[kind]
    missing = sorted({c[len("missing "):-len("_mean")] for c in rows.columns
                      if c.startswith("missing ") and c.endswith("_mean")
                      and rows[c].notna().any()})
    head = (["model", "family", *[f"{m} (mean ± std)" for m in metrics],
             *[f"acc., {m} absent" for m in missing],
             "features (s)", "fit (s)", "predict (ms/sample)", "peak mem. (MB)", "size",
             "seeds"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in rows.iterrows():
        row = row.to_dict()
        if row.get("error") and not row["seeds"]:
            cells = [row["model"], row["family"], f"failed: {row['error']}"[:120]]
            cells += [""] * (len(head) - len(cells))
        else:
            size = row.get("size")
            unit = "params" if row.get("size_kind") == "parameters" else "dims"
            size_text = ("–" if size is None or (isinstance(size, float) and np.isnan(size))
                         else f"{int(size):,} {unit}")
            cells = [row["model"], row["family"], *[_pm(row, m) for m in metrics],
                     *[_num(row.get(f"missing {m}_mean"), 3) for m in missing],
                     _num(row.get("features_s_mean"), 2), _pm(row, "fit_s", 2),
                     _num(row.get("predict_ms_per_sample_mean"), 3),
                     _num(row.get("peak_mb_mean"), 0), size_text, str(row["seeds"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_markdown(suite: str, tasks: list[Task], summary: pd.DataFrame, machine: dict,
                config: dict, notes: dict | None = None) -> str:
    """The results page of one suite run."""
    gpu = machine.get("gpu") or "none used"
    lines = [f"# Benchmark suite `{suite}`", "",
             f"Run {machine['date']} on {machine['cpu']} ({machine['cores']} cores; GPU: {gpu};"
             f" load average at start {machine['loadavg']}). Seeds: {config['seeds']}. "
             f"Command: `{config.get('command', '')}`.", "",
             "Metrics are the mean ± standard deviation over seeds on the test rows of each "
             "seed's split; every model of a seed sees the same split. *Fit* is wall-clock "
             "seconds for `fit` on the training rows: deep models start from raw media (their "
             "input preparation, e.g. log-mel spectrograms, is inside; MiniLM embeddings are "
             "cached per process, so the first seed's fit pays for them), "
             "classical models from features learned on those rows, whose learning "
             "(codebooks, vocabularies, scalers; shared by every classical model of a seed) "
             "is the *features* column. The one-off, per-sample extraction (SIFT, MFCC) is "
             "under *Setup* per task. *Predict* is per test sample on prepared inputs; *peak "
             "mem.* is the resident-set growth during `fit`; *size* is the fitted parameter "
             "count (deep) or the input feature dimension (classical). *acc., m absent*: "
             "accuracy when modality m is missing from every test row (models that accept "
             "missing modalities).", ""]
    if config.get("deep"):
        lines += [f"Deep baselines' training budget: Adam (lr 1e-3, weight decay 1e-4, batch "
                  f"64), at most {config.get('epochs')} epochs, early stopping after "
                  f"{config.get('patience')} epochs without a lower validation loss (retrieval:"
                  " a higher validation MAP) on a stratified 15 % of the training rows, "
                  "weights of the best epoch kept; `epochs` in the JSON records says how many "
                  "ran. The validation rows come out of the same training rows the classical "
                  "models use. The text GRU reads the first 200 tokens of a text.", ""]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    for task in tasks:
        lines += [f"## {task.name} ({task.kind})", "", task.description, "",
                  f"Split: {task.split_note}", ""]
        if task.run and task.run.get("machine"):
            run_machine, run_config = task.run["machine"], task.run.get("config") or {}
            lines += [f"Measured {run_machine['date']} (load average at start "
                      f"{run_machine['loadavg']}; seeds {run_config.get('seeds')}; "
                      f"`{run_config.get('command', '')}`).", ""]
        if task.setup_seconds:
            lines += ["Setup: " + ", ".join(f"{k} {v:.1f} s"
                                             for k, v in task.setup_seconds.items()), ""]
        lines += [task_table(summary, task), ""]
        if notes and task.name in notes:
            lines += [notes[task.name], ""]
    lines += [f"Library versions: {versions}.", ""]
    return "\n".join(lines)


def save_results(out: Path, stem: str, payload: dict, markdown: str) -> list[Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.json", out / f"{stem}.md"]
    paths[0].write_text(json.dumps(payload, indent=1, default=_json_default) + "\n")
    paths[1].write_text(markdown)
    return paths


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return str(value)


def save_plots(out: Path, stem: str, task: Task, summary: pd.DataFrame) -> list[Path]:
    """Metric vs fit time (log) per model, and per-class bars of the best models.

    Needs matplotlib (the ``plot`` extra); returns [] without it.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    rows = summary[(summary["task"] == task.name) & (summary["seeds"] > 0)]
    if rows.empty:
        return []
    metric = METRICS[task.kind][0]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    families = list(dict.fromkeys(rows["family"]))
    markers = dict(zip(families, "osD^vP*X", strict=False))
    for family in families:
        part = rows[rows["family"] == family]
        ax.errorbar(part["fit_s_mean"], part[f"{metric}_mean"], yerr=part[f"{metric}_std"],
                    fmt=markers.get(family, "o"), label=family, capsize=3)
        for _, row in part.iterrows():
            ax.annotate(row["model"], (row["fit_s_mean"], row[f"{metric}_mean"]),
                        fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("fit time (s, log scale)")
    ax.set_ylabel(metric)
    ax.set_title(f"{task.name}: {metric} vs fit time (mean ± std over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / f"{stem}_{task.name}_tradeoff.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    if "per_class" in rows and task.kind != "retrieval":
        best = _best_per_group(rows, metric)
        if not best.empty:
            fig, ax = plt.subplots(figsize=(8, 4))
            n_classes = len(best["per_class"].iloc[0])
            width = 0.8 / len(best)
            for i, (_, row) in enumerate(best.iterrows()):
                ax.bar(np.arange(n_classes) + i * width, row["per_class"], width,
                       label=f"{row['model']} ({row['family']})")
            names = task.target_names or [str(c) for c in range(n_classes)]
            ax.set_xticks(np.arange(n_classes) + 0.4 - width / 2,
                          [str(n) for n in names], rotation=30, fontsize=7)
            ax.set_ylabel("recall (per class)")
            ax.set_ylim(0, 1.05)
            ax.set_title(f"{task.name}: per-class recall of the best model per family")
            ax.legend(fontsize=7)
            fig.tight_layout()
            paths.append(out / f"{stem}_{task.name}_per_class.png")
            fig.savefig(paths[-1], dpi=110)
            plt.close(fig)
    return paths


def _best_per_group(rows, metric):
    rows = rows.dropna(subset=[f"{metric}_mean"])
    rows = rows[rows["per_class"].apply(lambda v: isinstance(v, list))]
    if rows.empty:
        return rows
    idx = rows.groupby("family", sort=False)[f"{metric}_mean"].idxmax()
    return rows.loc[idx]
