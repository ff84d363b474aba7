# %% [markdown]
# # Scaling up: local processes, a Dask cluster, out-of-core shards, GPU workers
#
# The estimators you prototype with on a laptop are the ones you run over
# millions of files. Nothing in a pipeline changes; only *where* the work
# runs does:
#
# 1. **Local processes.** Every media transformer (`SIFTExtractor`,
#    `MFCCExtractor`) cuts its column into batches of files and hands them
#    to `joblib.Parallel`: set `n_jobs`, or wrap the code in
#    `joblib.parallel_config(n_jobs=...)`.
# 2. **A Dask cluster.** The same `joblib.Parallel` calls go to a
#    `dask.distributed` cluster inside `joblib.parallel_config(backend="dask")`
#    once a `Client` is connected. No mmfuse scheduler: Dask schedules, retries
#    the tasks of a dead worker, and shows progress on its dashboard.
# 3. **Out of core.** `mmfuse.parallel.extract_to_shards` writes the output
#    of a fitted extractor or extract-and-encode pipeline to on-disk shards
#    with a manifest; it resumes after a failure, reports unreadable files by
#    path, and its shards come back whole, streamed (`iter_shards`, e.g. for
#    `partial_fit`), or as lazy Dask collections.
#
# We work on a folder of image files made from the built-in `make_shapes`
# scenes; in practice it is a list of paths to your own collection.

# %%
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import joblib
import numpy as np
from sklearn.pipeline import Pipeline

import mmfuse
from mmfuse.datasets import make_shapes
from mmfuse.encoding import BagOfWords
from mmfuse.image import SIFTExtractor
from mmfuse.parallel import (
    Manifest,
    extract_to_shards,
    iter_shards,
    load_shards,
    to_dask_array,
)

work = Path(tempfile.mkdtemp(prefix="mmfuse-scaling-"))
(work / "images").mkdir()
scenes = make_shapes(n_samples=96, image_size=96, random_state=0).frame["image"]
files = []
for i, image in enumerate(scenes):
    path = work / "images" / f"scene_{i:03d}.png"
    cv2.imwrite(str(path), np.ascontiguousarray(image[:, :, ::-1]))
    files.append(str(path))  # absolute paths: workers may run in another directory
print(len(files), "files, e.g.", Path(files[0]).name)

# %% [markdown]
# ## 1. Local processes with joblib
#
# `n_jobs` is the number of worker processes; `batch_size` the number of
# files each task describes (so a task is worth shipping to a process). The
# output does not depend on either. Starting a pool takes a second or more,
# so processes pay off on collections, not on a handful of small images
# (see `benchmarks/results/scaling.md` for measured rates).

# %%
sift = SIFTExtractor(mode="dense", step=8, patch_size=16, batch_size=16).fit([])
serial = sift.transform(files)
with joblib.parallel_config(n_jobs=2):
    pooled = sift.transform(files)
print(serial)
print("2 processes give the same descriptors:", pooled == serial)

# %% [markdown]
# ## 2. The same code on a Dask cluster
#
# Connect a `Client` to your cluster (`Client("tcp://scheduler:8786")`) and
# run the unchanged code inside `joblib.parallel_config(backend="dask")`.
# Here a small in-process cluster stands in for a real one. (A
# `LocalCluster(processes=True)` started from a script needs the usual
# `if __name__ == "__main__":` guard, because its workers re-import the main
# module.)

# %%
from distributed import Client, LocalCluster

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                       dashboard_address=None)
client = Client(cluster)
with joblib.parallel_config(backend="dask"):
    on_cluster = sift.transform(files)
print("cluster workers:", len(client.scheduler_info()["workers"]),
      "| identical to the local run:", on_cluster == serial)

# %% [markdown]
# ## 3. Out of core: codebook with `partial_fit`, encoding into shards
#
# For a collection whose descriptors do not fit in memory, work in two passes.
#
# **Learn the codebook** from the descriptors of a sample of files, written
# to shards and streamed back one shard at a time into `partial_fit`
# (mini-batch k-means for `BagOfWords` and `VLAD`, incremental EM for
# `FisherVector`).

# %%
rng = np.random.default_rng(0)
sample_files = sorted(rng.choice(files, size=48, replace=False).tolist())
manifest = extract_to_shards(sample_files, sift, work / "descriptors", shard_size=16)
print(f"{manifest.n_shards} descriptor shards:",
      [p.name for p in sorted((work / "descriptors").iterdir())])

bow = BagOfWords(n_words=32, random_state=0)
for _first, _stop, descriptors in iter_shards(work / "descriptors"):
    bow.partial_fit(descriptors)
print("codebook:", bow.cluster_centers_.shape)

# %% [markdown]
# **Encode every file** with the extract-then-encode pipeline. Each shard of
# `shard_size` files is one task: extracted, encoded and written (atomically)
# by the worker; the manifest records it once it is complete. Only the codes
# travel to disk, never the bulky descriptors.

# %%
pipeline = Pipeline([("sift", sift), ("bow", bow)])
with joblib.parallel_config(backend="dask"):
    manifest = extract_to_shards(files, pipeline, work / "codes", shard_size=16)
codes = load_shards(work / "codes")
print(codes.shape, "| identical to pipeline.transform:",
      np.allclose(codes, pipeline.transform(files), atol=1e-7))
print(open(work / "codes" / "manifest.json").read()[:400], "...")

# %% [markdown]
# ### Resuming and failures
#
# Say the run stopped: a worker died, the job hit its time limit. Run the same
# call again: finished shards (those in the manifest) are skipped. Here we
# delete one shard to play the lost work.

# %%
(work / "codes" / manifest.shards[2]["file"]).unlink()
start = time.perf_counter()
with joblib.parallel_config(backend="dask"):
    manifest = extract_to_shards(files, pipeline, work / "codes", shard_size=16)
print(f"resumed in {time.perf_counter() - start:.2f} s; complete: {manifest.complete}")

# %% [markdown]
# A corrupt or missing file either stops the run with a `MediaError` that
# names its index and path (`on_error="raise"`; everything finished so far is
# kept), or is described as a missing cell, listed in the manifest and
# counted in a warning (`on_error="skip"`).

# %%
(work / "images" / "broken.png").write_bytes(b"not really a png")
damaged = files[:20] + [str(work / "images" / "broken.png")] + files[20:40]
try:
    extract_to_shards(damaged, pipeline, work / "damaged", shard_size=8)
except mmfuse.MediaError as error:
    print("raise:", error)
    print("finished shards kept:", sorted(Manifest.read(work / "damaged").shards))
manifest = extract_to_shards(damaged, pipeline, work / "damaged-skip", shard_size=8,
                             on_error="skip")
print("skip:", manifest.errors)

# %% [markdown]
# ### Lazy Dask views
#
# `to_dask_array` (one chunk per shard) and `to_dask_bag` (one item per file)
# read nothing until computed, so downstream statistics can run on the
# cluster over more data than memory holds.

# %%
lazy = to_dask_array(work / "codes")
print(lazy)
word_frequency = lazy.mean(axis=0).compute()
print("most frequent visual words:", np.argsort(word_frequency)[::-1][:5].tolist())
client.close()
cluster.close()
shutil.rmtree(work)

# %% [markdown]
# ## 4. GPU workers
#
# The encoders' hot kernels (nearest-codeword assignment, histograms, VLAD
# residuals, Fisher posteriors) run on CuPy under
# `mmfuse.config_context(device="gpu")`. `extract_to_shards` sends the
# caller's mmfuse configuration along with every shard, so
#
# ```python
# with mmfuse.config_context(device="gpu"), joblib.parallel_config(backend="dask"):
#     extract_to_shards(files, pipeline, out_dir, shard_size=512)
# ```
#
# encodes each shard on the GPU of the worker running it (one worker per
# GPU, e.g. `dask worker --nworkers 1` per device with `CUDA_VISIBLE_DEVICES`,
# or dask-cuda's `LocalCUDACluster`; install `mmfuse[gpu]` on the workers).
# SIFT itself stays on the CPU (OpenCV), so give GPU workers a few CPU cores,
# larger shards amortise the transfer to the device, and
# `device="auto"` lets workers without a GPU fall back to the CPU.
#
# ## How it scales
#
# Files are independent: a shard task receives a list of paths and returns a
# small record, and its worker writes the codes itself, so the only shared
# resources are the file system (reading the media, writing shards; it must
# be visible to every worker) and the scheduler (one task per shard). With
# shards of a few hundred files, throughput grows with the number of worker
# cores until the file system's bandwidth is reached; see
# `benchmarks/results/scaling.md` for measured rates and the pipeline's
# overhead over plain OpenCV.

# %% [markdown]
# ## 5. Extract once, fuse many times
#
# Cross-validation, grid search and stacking refit a whole pipeline on every
# fold, so a pipeline with SIFT inside describes each image once per fold:
# a stacked late fusion with 5 folds extracts everything about six times.
# `CachedTransformer` keys each sample's output by the sample (a path with
# its size and modification time, or a hash of the array) and by the
# extractor's parameters, and computes it once; every clone (each fold,
# each candidate) reads it back. Use it for extractors whose output does not
# depend on the training data (SIFT, MFCC), not for learned steps (a
# codebook, a vocabulary). `location=` keeps the outputs on disk instead,
# shared by parallel workers and later runs.

# %%
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from mmfuse.parallel import CachedTransformer

small = make_shapes(n_samples=120, random_state=1)
images = list(small.frame["image"])


class CountingSIFT(SIFTExtractor):
    described = 0

    def transform(self, X):
        CountingSIFT.described += len(X)
        return super().transform(X)


for name, sift in [("plain", CountingSIFT(mode="sparse")),
                   ("cached", CachedTransformer(CountingSIFT(mode="sparse")))]:
    CountingSIFT.described = 0
    model = Pipeline([("sift", sift), ("bow", BagOfWords(n_words=16, random_state=0)),
                      ("clf", LogisticRegression(max_iter=1000))])
    scores = cross_val_score(model, images, small.target, cv=5)
    print(f"{name:>6}: accuracy {scores.mean():.3f}, images described "
          f"{CountingSIFT.described} for {len(images)} images")
CachedTransformer.clear()
