# %% [markdown]
# # Running the kernels on a GPU
#
# The expensive part of bag-of-words, VLAD and Fisher-vector encoding, of
# codebook learning and of cross-modal retrieval is a handful of array
# kernels in `mmfuse.backend`: nearest-codeword assignment, soft
# assignment, per-sample histograms, residual sums, Gaussian posteriors,
# cosine top-k and Lloyd's k-means. With [CuPy](https://cupy.dev) and an
# NVIDIA GPU they run on the device; the pipeline code does not change:
#
# ```python
# pip install "mmfuse[gpu]"          # cupy-cuda12x
#
# with mmfuse.config_context(device="gpu"):      # or "auto"
#     codes = pipeline.fit_transform(images)
# ```
#
# This page runs anywhere: where there is no GPU, `device="auto"` falls
# back to the CPU (saying so once) and gives the same results; where there
# is one, the last cell compares both.

# %%
import logging
import time

import numpy as np

import mmfuse
from mmfuse.backend import DeviceUnavailableError, cupy_available, get_namespace
from mmfuse.crossmodal import CrossModalIndex
from mmfuse.encoding import VLAD, BagOfWords

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
print("CuPy and a GPU available:", cupy_available())

# %% [markdown]
# ## Choosing the device
#
# `device` is `"cpu"` (the default), `"gpu"` or `"auto"`:
#
# - `"auto"` uses the GPU when CuPy imports and sees a device, and the CPU
#   otherwise, with a single info message on the `mmfuse` logger;
# - `"gpu"` insists: without a usable GPU it raises
#   `DeviceUnavailableError` saying why, instead of silently running
#   somewhere else.

# %%
for device in ("cpu", "auto"):
    xp, where = get_namespace(device)
    print(f"device={device!r}: kernels run on the {where} ({xp.__name__})")
try:
    get_namespace("gpu")
    print("device='gpu': a GPU is in use")
except DeviceUnavailableError as error:
    print("device='gpu' raised:", error)

# %% [markdown]
# ## Same pipeline, same results
#
# Descriptor sets (here random, 40 samples of 16-D descriptors) are encoded
# under `device="auto"`. The encoders move all descriptors of a batch to the
# device as **one** matrix (one transfer, one GEMM per chunk), and hand back
# NumPy arrays, as scikit-learn's array-API mode does, so the next step of
# a pipeline does not need to know where the work ran.

# %%
rng = np.random.default_rng(0)
sets = [rng.normal(size=(int(n), 16)).astype(np.float32) for n in rng.integers(20, 200, 40)]
encoders = {"bag of words": BagOfWords(n_words=32, random_state=0),
            "soft bag of words": BagOfWords(n_words=32, assignment="soft", random_state=0),
            "VLAD": VLAD(n_words=8, random_state=0)}
for name, encoder in encoders.items():
    encoder.fit(sets)
    cpu = encoder.transform(sets)
    with mmfuse.config_context(device="auto"):
        auto = encoder.transform(sets)
    print(f"{name:18s} {type(auto).__name__} {auto.shape}, largest difference from the CPU "
          f"run: {np.abs(auto - cpu).max():.1e}")

# %% [markdown]
# To keep results on the GPU (say, to feed a CuPy-based model next), ask
# for device arrays: `array_output="device"` returns CuPy arrays when the
# work ran on a GPU (and NumPy arrays when it ran on the CPU).

# %%
with mmfuse.config_context(device="auto", array_output="device"):
    codes = encoders["VLAD"].transform(sets)
print("array_output='device' returned a", type(codes).__module__.split(".")[0], "array")

# %% [markdown]
# ## What runs on the device
#
# - `assign_nearest`: a cuBLAS GEMM `X (-2 C^T)` per chunk of rows, then one
#   warp per row adds `|c|^2` and reduces the argmin with warp shuffles.
# - `soft_assign`, `cosine_topk`: the GEMM, then a selection kernel in which
#   each thread keeps a sorted list of the best `k` of its columns and the
#   lists are merged in shared memory; no row is sorted (`k <= 64`; a wider
#   `k` falls back to a sort).
# - `segment_histogram`, `segment_residuals`: one pass of `atomicAdd` into
#   the per-sample outputs, each row finding its sample by a binary search
#   in the CSR offsets (histograms, VLAD residuals, Fisher statistics,
#   k-means sums).
# - `gmm_posteriors`: a GEMM of `[x^2, x]` against the mixture's parameters
#   and a log-sum-exp, in CuPy.
# - codebook learning: `kmeans_codebook` draws scikit-learn's k-means++
#   start on the host, then runs Lloyd iterations on the device from the
#   kernels above, with `KMeans`'s stopping rule (the same codebook up to
#   rounding).
#
# The CUDA sources live in `mmfuse/backend/_cupy_kernels.py` and are
# compiled by CuPy the first time they run (cached afterwards). Temporary
# memory per chunk is bounded by `working_memory` (MiB), as on the CPU;
# raise it on a large GPU for larger GEMMs:
# `mmfuse.config_context(device="gpu", working_memory=2048)`.
#
# Float32 GEMMs run in full float32: CuPy does not use TF32 unless
# `CUPY_TF32=1` is set, which trades the last digits for speed.
#
# Cross-modal search follows the same switch: `CrossModalIndex.search`
# runs its blocked top-k on the device.

# %%
index = CrossModalIndex()
index.add(rng.normal(size=(2000, 32)))
queries = rng.normal(size=(5, 32))
scores_cpu, ids_cpu = index.search(queries, k=5)
with mmfuse.config_context(device="auto"):
    scores_auto, ids_auto = index.search(queries, k=5)
print("same neighbours:", bool(np.array_equal(ids_cpu, ids_auto)))

# %% [markdown]
# ## On a machine with a GPU
#
# The cell below times one large assignment on both devices (it only runs
# where CuPy sees a GPU). `benchmarks/kernels.py --device gpu` measures
# every kernel against the device's own cuBLAS GEMM rate and against
# faiss-cpu.

# %%
if cupy_available():
    import cupy

    X = rng.normal(size=(400_000, 128)).astype(np.float32)
    C = rng.normal(size=(1024, 128)).astype(np.float32)
    from mmfuse.backend import assign_nearest

    start = time.perf_counter()
    labels_cpu = assign_nearest(X, C, return_distances=False)
    cpu_s = time.perf_counter() - start
    X_gpu, C_gpu = cupy.asarray(X), cupy.asarray(C)
    assign_nearest(X_gpu, C_gpu, return_distances=False)  # compiles the kernel once
    cupy.cuda.Device().synchronize()
    start = time.perf_counter()
    labels_gpu = assign_nearest(X_gpu, C_gpu, return_distances=False)
    cupy.cuda.Device().synchronize()
    gpu_s = time.perf_counter() - start
    print(f"CPU {cpu_s:.3f} s, GPU {gpu_s:.4f} s; labels agree on "
          f"{np.mean(cupy.asnumpy(labels_gpu) == labels_cpu):.4%} of rows")
else:
    print("no GPU here: the comparison is skipped")
