"""Benchmark of mmfuse's CPU kernels against sklearn and faiss-cpu, in one run.

1. Nearest-codeword assignment of 200,000 x 128 float32 descriptors to 1,024
   codewords: ``mmfuse.backend.assign_nearest`` vs ``sklearn KMeans.predict``
   vs ``faiss.IndexFlatL2.search(k=1)``.
2. Cosine top-10 of 1,000 queries over 100,000 x 256 float32 rows:
   ``mmfuse.backend.cosine_topk`` vs ``sklearn NearestNeighbors(metric="cosine",
   algorithm="brute")`` vs ``faiss.IndexFlatIP`` on L2-normalised rows.
3. The NumPy GEMM rate on the same shapes, as the ceiling all of them share.

Every method runs on the same data; the methods are interleaved repeat by
repeat (so a burst of load on a shared machine hits all of them) and the
median time is reported, with throughput, the fraction of the GEMM rate and
the ratio to faiss. Results go to ``benchmarks/results/kernels.{json,md}`` in a source checkout
(``mmfuse_bench_results/`` in the current folder otherwise)
with machine information (CPU, cores, library versions, load average).

Run: ``python benchmarks/kernels.py``, ``python -m mmfuse.bench.kernels`` or
``mmfuse bench --suite kernels`` (needs the ``bench`` extra: faiss-cpu).

GPU rows: ``python benchmarks/kernels.py --device gpu`` (needs the ``gpu``
extra and an NVIDIA GPU; prints a skip line and exits otherwise). On data
already on the device, at sizes that fill a GPU: assignment (and soft
assignment) of 10,000,000 x 128 float32 descriptors to 4,096 words, segment
histograms, VLAD residuals and Fisher-vector statistics over 10,000 descriptor
sets, cosine top-10 of 10,000 queries over 1,000,000 x 256 rows, and Lloyd
k-means iterations. The ceiling is cuBLAS's float32 GEMM measured on the same
device on the same shapes and chunks (and on a square 8192^3 product); the
peers are faiss-cpu on the device machine's CPU cores (on a subset of the
rows, compared by throughput) and mmfuse's own CPU kernels. Results go to
``benchmarks/results/kernels_gpu.{json,md}`` with the device name.
``--cpu-dry-run`` runs the same code on NumPy at toy sizes, to check the
script where there is no GPU (its figures are not GPU figures; nothing is
written).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from mmfuse.bench._paths import default_results_dir

RESULTS = default_results_dir()


def machine_info(extra=()) -> dict:
    """CPU model, cores, library versions (plus those of the modules named in
    ``extra``, where installed), BLAS and the current load average."""
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}
    try:
        import faiss

        versions["faiss-cpu"] = faiss.__version__
    except ImportError:
        pass
    import mmfuse

    versions["mmfuse"] = getattr(mmfuse, "__version__", "unknown")
    for module in ("cv2", "librosa", "pandas", *extra):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            pass
    blas = [{k: lib.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
        "blas": blas,
        "loadavg": list(os.getloadavg()),
    }


def machine_line(machine: dict) -> str:
    """One Markdown line for a results page: CPU, cores, load average and date."""
    return (f"Machine: {machine['cpu']}, {machine['cores']} cores, load "
            f"{', '.join(f'{v:.1f}' for v in machine['loadavg'])}; {machine['date']}.")


def _median_times(methods: dict, repeats: int) -> dict:
    """Run every method ``repeats`` times, interleaved; return all times."""
    times = {name: [] for name in methods}
    for fn in methods.values():  # warm-up: page in data, build thread pools
        fn()
    for _ in range(repeats):
        for name, fn in methods.items():
            # let the previous method's OpenMP/BLAS threads stop spinning first
            time.sleep(0.2)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def chunked_gemm(A, B_t, rows=256, cols=None):
    """``A @ B_t`` in cache-sized ``rows x cols`` blocks, one block per core at a time,
    each with single-threaded BLAS into a per-core scratch block that is overwritten:
    the GEMM part of mmfuse's kernels on its own (a second measure of the GEMM
    ceiling, not slowed by writing the whole product to memory nor by BLAS thread
    synchronisation)."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    cols = B_t.shape[1] if cols is None else cols
    tasks = iter([(r, c) for r in range(0, A.shape[0], rows)
                  for c in range(0, B_t.shape[1], cols)])

    def worker():
        out = np.empty((rows, cols), dtype=A.dtype)
        for r, c in tasks:
            block, other = A[r:r + rows], B_t[:, c:c + cols]
            np.matmul(block, other, out=out[:block.shape[0], :other.shape[1]])

    n_workers = os.cpu_count() or 1
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(n_workers) as pool:
        for future in [pool.submit(worker) for _ in range(n_workers)]:
            future.result()


def bench_assignment(n, d, k, repeats, rng):
    import faiss
    from sklearn.cluster import KMeans

    from mmfuse.backend import assign_nearest

    X = rng.standard_normal((n, d), dtype=np.float32)
    C = rng.standard_normal((k, d), dtype=np.float32)
    # A fitted KMeans whose centers are exactly C (fit only sets up its state).
    km = KMeans(n_clusters=k, init=C, n_init=1, max_iter=1).fit(C)
    km.cluster_centers_ = C.copy()
    index = faiss.IndexFlatL2(d)
    index.add(C)
    C_t = np.ascontiguousarray(C.T)
    methods = {
        "numpy GEMM (X @ C.T only)": lambda: X @ C_t,
        "numpy GEMM (X @ C.T only, chunked per core)": lambda: chunked_gemm(X, C_t),
        "mmfuse assign_nearest": lambda: assign_nearest(X, C, return_distances=False),
        "sklearn KMeans.predict": lambda: km.predict(X),
        "faiss IndexFlatL2 (k=1)": lambda: index.search(X, 1),
    }
    times = _median_times(methods, repeats)
    ours = assign_nearest(X, C, return_distances=False)
    agreement = {
        "mmfuse vs faiss": float(np.mean(ours == index.search(X, 1)[1][:, 0])),
        "mmfuse vs sklearn": float(np.mean(ours == km.predict(X))),
    }
    flops = 2.0 * n * k * d
    return _table("assignment", f"{n:,} x {d} descriptors -> {k:,} codewords", times, flops,
                  n, "descriptors/s", agreement)


def bench_topk(n_queries, n_db, d, k, repeats, rng):
    import faiss
    from sklearn.neighbors import NearestNeighbors

    from mmfuse.backend import cosine_topk

    D = rng.standard_normal((n_db, d), dtype=np.float32)
    Q = rng.standard_normal((n_queries, d), dtype=np.float32)
    D_unit = D / np.linalg.norm(D, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(d)
    index.add(D_unit)  # faiss needs normalised rows for cosine; built once, not timed
    nn = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(D)
    D_t = np.ascontiguousarray(D_unit.T)

    def faiss_search():
        q = Q.copy()
        faiss.normalize_L2(q)
        return index.search(q, k)

    methods = {
        "numpy GEMM (Q @ D.T only)": lambda: Q @ D_t,
        "numpy GEMM (Q @ D.T only, chunked per core)": lambda: chunked_gemm(Q, D_t, rows=256,
                                                                         cols=1024),
        "mmfuse cosine_topk": lambda: cosine_topk(Q, D, k),
        "mmfuse cosine_topk (pre-normalised, normalize=False)":
            lambda: cosine_topk(Q / np.linalg.norm(Q, axis=1, keepdims=True), D_unit, k,
                                normalize=False),
        "sklearn NearestNeighbors (cosine, brute)": lambda: nn.kneighbors(Q),
        "faiss IndexFlatIP (normalised)": faiss_search,
    }
    times = _median_times(methods, repeats)
    ours, _ = cosine_topk(Q, D, k)
    theirs = faiss_search()[1]
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(ours, theirs, strict=True)])
    agreement = {"mmfuse top-k vs faiss (recall@k)": float(recall)}
    flops = 2.0 * n_queries * n_db * d
    return _table("topk", f"cosine top-{k} of {n_queries:,} queries over {n_db:,} x {d}",
                  times, flops, n_queries, "queries/s", agreement)


def _table(key, title, times, flops, n_items, unit, agreement):
    medians = {name: statistics.median(t) for name, t in times.items()}
    # the ceiling: the faster of the two ways of running the bare GEMM
    gemm_time = min(t for name, t in medians.items() if name.startswith("numpy GEMM"))
    faiss_name = next(name for name in medians if name.startswith("faiss"))
    gemm_rate = flops / gemm_time
    rows = []
    for name, t in medians.items():
        rows.append({
            "method": name,
            "median_s": t,
            "min_s": min(times[name]),
            "times_s": times[name],
            "throughput": n_items / t,
            "throughput_unit": unit,
            "gflops": flops / t / 1e9,
            "fraction_of_gemm_rate": (flops / t) / gemm_rate,
            "speed_vs_faiss": medians[faiss_name] / t,
        })
    return {"key": key, "title": title, "flops": flops, "gemm_gflops": gemm_rate / 1e9,
            "rows": rows, "agreement": agreement}


def to_markdown(result: dict, machine: dict, args) -> str:
    lines = ["# mmfuse kernel benchmark", ""]
    lines.append(f"- date: {machine['date']}")
    lines.append(f"- CPU: {machine['cpu']}, {machine['cores']} cores; {machine['platform']}")
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    lines.append("- BLAS: " + "; ".join(
        f"{b['internal_api']} {b['version']} ({b['num_threads']} threads, {b['architecture']})"
        for b in machine["blas"]))
    lines.append(f"- load average before: {machine['loadavg']}, after: "
                 f"{result['loadavg_after']}")
    lines.append(f"- median of {args.repeats} interleaved repeats (after one warm-up each); "
                 "speed vs faiss = faiss median time / method median time")
    lines.append("")
    for section in result["sections"]:
        lines.append(f"## {section['title']}")
        lines.append("")
        lines.append(f"GEMM-equivalent work {section['flops'] / 1e9:.1f} GFLOP; measured NumPy "
                     f"GEMM rate (the faster of the two bare-GEMM rows) "
                     f"{section['gemm_gflops']:.1f} GFLOP/s.")
        lines.append("")
        lines.append("| method | median s | min s | throughput | GFLOP/s | of GEMM rate "
                     "| speed vs faiss |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for row in section["rows"]:
            lines.append(
                f"| {row['method']} | {row['median_s']:.3f} | {row['min_s']:.3f} | "
                f"{row['throughput']:,.0f} {row['throughput_unit']} | {row['gflops']:.1f} | "
                f"{row['fraction_of_gemm_rate']:.0%} | {row['speed_vs_faiss']:.2f}x |")
        lines.append("")
        lines.append("Agreement: " + ", ".join(f"{k} {v:.6f}"
                                               for k, v in section["agreement"].items()))
        lines.append("")
    return "\n".join(lines)


# -- GPU rows (--device gpu) ----------------------------------------------------------

GPU_SIZES = {
    "assign": (10_000_000, 128, 4096),  # descriptors, dim, words
    "n_samples": 10_000,  # descriptor sets the descriptors are split into
    "vlad_words": 64,
    "fisher": (2_000_000, 64),  # descriptors, Gaussian components
    "topk": (10_000, 1_000_000, 256, 10),  # queries, database rows, dim, k
    "kmeans": (1_000_000, 1024, 5),  # descriptors, clusters, Lloyd iterations
    # peers on the host CPU run on a subset and are compared by throughput
    "cpu_assign_rows": 500_000,
    "cpu_topk_queries": 1_000,
    "cpu_encode_rows": 1_000_000,
    "cpu_kmeans_rows": 200_000,
}
DRY_RUN_SIZES = {
    "assign": (20_000, 32, 64), "n_samples": 100, "vlad_words": 8, "fisher": (5_000, 8),
    "topk": (300, 5_000, 32, 10), "kmeans": (5_000, 32, 3), "cpu_assign_rows": 5_000,
    "cpu_topk_queries": 100, "cpu_encode_rows": 5_000, "cpu_kmeans_rows": 5_000,
}


def gpu_info(cp) -> dict:
    """Name, memory, compute capability and software versions of the current GPU."""
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"]
    return {
        "gpu": name.decode() if isinstance(name, bytes) else str(name),
        "gpu_memory_gib": round(props["totalGlobalMem"] / 2**30, 1),
        "compute_capability": f"{props['major']}.{props['minor']}",
        "multiprocessors": props["multiProcessorCount"],
        "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
        "cuda_driver": cp.cuda.runtime.driverGetVersion(),
        "cupy": cp.__version__,
        "CUPY_TF32": os.environ.get("CUPY_TF32", "0"),
    }


def _normal(xp, shape, seed):
    if xp is np:
        return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    return xp.random.RandomState(seed).standard_normal(shape, dtype=xp.float32)


def _timed(spec: dict, repeats: int, sync) -> dict:
    """Median-of-``repeats`` timing of every row of ``spec`` (interleaved, one
    warm-up each; the device is synchronised around every call)."""
    times = {name: [] for name in spec}
    for row in spec.values():
        row["fn"]()
        sync()
    for _ in range(repeats):
        for name, row in spec.items():
            sync()
            start = time.perf_counter()
            row["fn"]()
            sync()
            times[name].append(time.perf_counter() - start)
    return times


def _gpu_section(key, title, spec, repeats, sync, unit, *, gemm=None, peer=None,
                 agreement=None, notes=()):
    """Rows: ``{name: {"fn", "items", "flops"}}``; ratios by throughput."""
    times = _timed(spec, repeats, sync)
    medians = {name: statistics.median(t) for name, t in times.items()}
    gemm_rate = spec[gemm]["flops"] / medians[gemm] if gemm else None
    peer_rate = spec[peer]["items"] / medians[peer] if peer else None
    rows = []
    for name, row in spec.items():
        t = medians[name]
        rate = row["items"] / t
        flops = row.get("flops")
        rows.append({
            "method": name, "median_s": t, "min_s": min(times[name]), "times_s": times[name],
            "items": row["items"], "throughput": rate, "throughput_unit": unit,
            "gflops": flops / t / 1e9 if flops else None,
            "fraction_of_gemm_rate": (flops / t) / gemm_rate if flops and gemm_rate else None,
            "speed_vs_peer": rate / peer_rate if peer_rate else None,
        })
    return {"key": key, "title": title, "gemm_row": gemm, "peer_row": peer,
            "gemm_gflops": gemm_rate / 1e9 if gemm_rate else None, "rows": rows,
            "agreement": agreement or {}, "notes": list(notes)}


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def bench_gpu_peak(xp, sync, repeats, dry_run):
    n = 512 if dry_run else 8192
    A, B = _normal(xp, (n, n), 1), _normal(xp, (n, n), 2)
    out = xp.empty((n, n), dtype=xp.float32)
    spec = {f"cuBLAS float32 GEMM {n}x{n}x{n}": {
        "fn": lambda: xp.matmul(A, B, out=out), "items": 1, "flops": 2.0 * n ** 3}}
    return _gpu_section("gemm_peak", "Square float32 GEMM (the device's peak)", spec, repeats,
                        sync, "GEMMs/s", gemm=next(iter(spec)))


def bench_gpu_assignment(xp, sync, repeats, sizes):
    from mmfuse.backend import assign_nearest, chunk_rows, soft_assign, to_numpy

    n, d, k = sizes["assign"]
    X, C = _normal(xp, (n, d), 10), _normal(xp, (k, d), 11)
    chunk = chunk_rows(n, k * 4)  # the chunk assign_nearest uses on the GPU
    minus_two_ct = xp.ascontiguousarray((C * -2).T)
    buf = xp.empty((chunk, k), dtype=xp.float32)

    def gemm():
        for s in range(0, n, chunk):
            xp.matmul(X[s:s + chunk], minus_two_ct, out=buf[:min(chunk, n - s)])

    flops = 2.0 * n * k * d
    spec = {
        "cuBLAS GEMM (X @ -2C^T only, same chunks)": {"fn": gemm, "items": n, "flops": flops},
        "mmfuse assign_nearest (GPU)": {
            "fn": lambda: assign_nearest(X, C, return_distances=False), "items": n,
            "flops": flops},
        "mmfuse assign_nearest with distances (GPU)": {
            "fn": lambda: assign_nearest(X, C), "items": n, "flops": flops},
        "mmfuse soft_assign n_nearest=5 (GPU)": {
            "fn": lambda: soft_assign(X, C, n_nearest=5, bandwidth=1.0), "items": n,
            "flops": flops},
    }
    n_cpu = min(sizes["cpu_assign_rows"], n)
    X_host, C_host = to_numpy(X[:n_cpu]), to_numpy(C)
    spec["host -> device copy of the descriptors (one matrix)"] = {
        "fn": lambda: xp.asarray(X_host), "items": n_cpu}
    faiss, peer, agreement = _faiss(), None, {}
    ours = to_numpy(assign_nearest(X[:n_cpu], C, return_distances=False))
    if faiss is not None:
        index = faiss.IndexFlatL2(d)
        index.add(C_host)
        peer = f"faiss IndexFlatL2 k=1 (CPU, {os.cpu_count()} cores, {n_cpu:,} rows)"
        spec[peer] = {"fn": lambda: index.search(X_host, 1), "items": n_cpu,
                      "flops": 2.0 * n_cpu * k * d}
        agreement["GPU labels vs faiss"] = float(np.mean(ours == index.search(X_host, 1)[1][:, 0]))
    spec[f"mmfuse assign_nearest (CPU, {n_cpu:,} rows)"] = {
        "fn": lambda: assign_nearest(X_host, C_host, return_distances=False), "items": n_cpu,
        "flops": 2.0 * n_cpu * k * d}
    agreement["GPU labels vs mmfuse CPU"] = float(np.mean(
        ours == assign_nearest(X_host, C_host, return_distances=False)))
    return _gpu_section(
        "assignment", f"Assignment of {n:,} x {d} descriptors to {k:,} codewords (on device)",
        spec, repeats, sync, "descriptors/s", gemm=next(iter(spec)), peer=peer,
        agreement=agreement, notes=[f"GEMM chunk: {chunk:,} rows (working_memory)"])


def bench_gpu_encoding(xp, sync, repeats, sizes):
    from mmfuse.backend import (
        assign_nearest,
        gmm_posteriors,
        segment_histogram,
        segment_residuals,
        soft_assign,
        to_numpy,
    )

    n, d, k = sizes["assign"]
    n_samples = sizes["n_samples"]
    X, C = _normal(xp, (n, d), 10), _normal(xp, (k, d), 11)
    offsets = xp.asarray(np.linspace(0, n, n_samples + 1).astype(np.int64))
    labels = assign_nearest(X, C, return_distances=False)
    soft_labels, soft_weights = soft_assign(X, C, n_nearest=5, bandwidth=1.0)
    words = sizes["vlad_words"]
    C_vlad = _normal(xp, (words, d), 12)
    vlad_labels = assign_nearest(X, C_vlad, return_distances=False)
    n_f, comps = sizes["fisher"]
    X_f = X[:n_f]
    off_f = xp.asarray(np.linspace(0, n_f, max(2, n_samples * n_f // n) + 1).astype(np.int64))
    means = _normal(xp, (comps, d), 13) * 0.5
    var = xp.full((comps, d), 1.25, dtype=xp.float32)
    mix = xp.full(comps, 1.0 / comps, dtype=xp.float32)
    post = gmm_posteriors(X_f, means, var, mix, threshold=1e-6)
    all_comps = xp.broadcast_to(xp.arange(comps), post.shape)
    spec = {
        f"segment_histogram hard, {k:,} bins (GPU)": {
            "fn": lambda: segment_histogram(labels, offsets, k), "items": n},
        f"segment_histogram soft m=5, {k:,} bins (GPU)": {
            "fn": lambda: segment_histogram(soft_labels, offsets, k, weights=soft_weights),
            "items": n},
        f"VLAD residuals, {words} words (GPU)": {
            "fn": lambda: segment_residuals(X, offsets, vlad_labels, C_vlad), "items": n},
        f"VLAD assign + residuals, {words} words (GPU)": {
            "fn": lambda: segment_residuals(
                X, offsets, assign_nearest(X, C_vlad, return_distances=False), C_vlad),
            "items": n},
        f"gmm_posteriors, {comps} components (GPU, {n_f:,} rows)": {
            "fn": lambda: gmm_posteriors(X_f, means, var, mix, threshold=1e-6), "items": n_f,
            "flops": 2.0 * n_f * 2 * d * comps},
        f"Fisher statistics, {comps} components (GPU, {n_f:,} rows)": {
            "fn": lambda: segment_residuals(X_f, off_f, all_comps, means, weights=post,
                                            return_squares=True), "items": n_f},
    }
    n_cpu = min(sizes["cpu_encode_rows"], n_f)
    host = {name: to_numpy(a) for name, a in dict(
        X=X[:n_cpu], labels=labels[:n_cpu], vlad=vlad_labels[:n_cpu], C_vlad=C_vlad,
        post=post[:n_cpu], means=means).items()}
    off_cpu = np.linspace(0, n_cpu, max(2, n_samples * n_cpu // n) + 1).astype(np.int64)
    host_comps = np.broadcast_to(np.arange(comps), host["post"].shape)
    spec |= {
        f"segment_histogram hard (CPU, {n_cpu:,} rows)": {
            "fn": lambda: segment_histogram(host["labels"], off_cpu, k), "items": n_cpu},
        f"VLAD residuals (CPU, {n_cpu:,} rows)": {
            "fn": lambda: segment_residuals(host["X"], off_cpu, host["vlad"], host["C_vlad"]),
            "items": n_cpu},
        f"Fisher statistics (CPU, {n_cpu:,} rows)": {
            "fn": lambda: segment_residuals(host["X"], off_cpu, host_comps, host["means"],
                                            weights=host["post"], return_squares=True),
            "items": n_cpu},
    }
    off_gpu_cpu = xp.asarray(off_cpu)
    gpu_vlad = to_numpy(segment_residuals(X[:n_cpu], off_gpu_cpu, vlad_labels[:n_cpu], C_vlad))
    cpu_vlad = segment_residuals(host["X"], off_cpu, host["vlad"], host["C_vlad"])
    agreement = {"VLAD residuals GPU vs CPU (max abs difference)":
                 float(np.max(np.abs(gpu_vlad - cpu_vlad)))}
    nonzero = float(to_numpy((post > 0).mean()))
    return _gpu_section(
        "encoding", f"Encoding kernels over {n_samples:,} descriptor sets (on device)", spec,
        repeats, sync, "descriptors/s", agreement=agreement,
        notes=[f"Fisher posteriors above the 1e-6 threshold: {nonzero:.1%}"])


def bench_gpu_topk(xp, sync, repeats, sizes):
    from mmfuse.backend import chunk_rows, cosine_topk, to_numpy

    n_q, n_db, d, k = sizes["topk"]
    D, Q = _normal(xp, (n_db, d), 20), _normal(xp, (n_q, d), 21)
    D_unit = D / xp.linalg.norm(D, axis=1, keepdims=True)
    Q_unit = Q / xp.linalg.norm(Q, axis=1, keepdims=True)
    chunk = min(4096, n_q)  # the blocks cosine_topk uses on the GPU
    block = chunk_rows(n_db, chunk * 4)
    buf = xp.empty(chunk * block, dtype=xp.float32)

    def gemm():
        for q0 in range(0, n_q, chunk):
            qc = Q_unit[q0:q0 + chunk]
            for b0 in range(0, n_db, block):
                width = min(block, n_db - b0)
                xp.matmul(qc, D_unit[b0:b0 + width].T,
                          out=buf[:qc.shape[0] * width].reshape(qc.shape[0], width))

    flops = 2.0 * n_q * n_db * d
    spec = {
        "cuBLAS GEMM (Q @ D.T only, same blocks)": {"fn": gemm, "items": n_q, "flops": flops},
        "mmfuse cosine_topk (GPU)": {"fn": lambda: cosine_topk(Q, D, k), "items": n_q,
                                     "flops": flops},
        "mmfuse cosine_topk normalize=False (GPU)": {
            "fn": lambda: cosine_topk(Q_unit, D_unit, k, normalize=False), "items": n_q,
            "flops": flops},
    }
    n_cpu = min(sizes["cpu_topk_queries"], n_q)
    Q_host, D_host = to_numpy(Q_unit[:n_cpu]), to_numpy(D_unit)
    ours = to_numpy(cosine_topk(Q[:n_cpu], D, k)[0])
    faiss, peer, agreement = _faiss(), None, {}
    if faiss is not None:
        index = faiss.IndexFlatIP(d)
        index.add(D_host)
        peer = f"faiss IndexFlatIP (CPU, {os.cpu_count()} cores, {n_cpu:,} queries)"
        spec[peer] = {"fn": lambda: index.search(Q_host, k), "items": n_cpu,
                      "flops": 2.0 * n_cpu * n_db * d}
        theirs = index.search(Q_host, k)[1]
        agreement["GPU top-k vs faiss (recall@k)"] = float(np.mean(
            [len(set(a) & set(b)) / k for a, b in zip(ours, theirs, strict=True)]))
    spec[f"mmfuse cosine_topk (CPU, {n_cpu:,} queries)"] = {
        "fn": lambda: cosine_topk(Q_host, D_host, k, normalize=False), "items": n_cpu,
        "flops": 2.0 * n_cpu * n_db * d}
    return _gpu_section(
        "topk", f"Cosine top-{k} of {n_q:,} queries over {n_db:,} x {d} (on device)", spec,
        repeats, sync, "queries/s", gemm=next(iter(spec)), peer=peer, agreement=agreement,
        notes=[f"GEMM blocks: {chunk:,} queries x {block:,} rows (working_memory)"])


def bench_gpu_kmeans(xp, sync, repeats, sizes):
    from mmfuse.backend import lloyd_kmeans, to_numpy

    n, k, iters = sizes["kmeans"]
    d = sizes["assign"][1]
    X = _normal(xp, (n, d), 30)
    init = X[:k].copy()
    # tol < 0: run exactly ``iters`` iterations (plus the final assignment)
    spec = {f"mmfuse lloyd_kmeans, {iters} iterations (GPU)": {
        "fn": lambda: lloyd_kmeans(X, init, max_iter=iters, tol=-1.0), "items": n * iters,
        "flops": 2.0 * n * k * d * (iters + 1)}}
    n_cpu = min(sizes["cpu_kmeans_rows"], n)
    X_host = to_numpy(X[:n_cpu])
    faiss, peer = _faiss(), None
    if faiss is not None:
        peer = f"faiss Kmeans, {iters} iterations (CPU, {os.cpu_count()} cores, {n_cpu:,} rows)"

        def faiss_kmeans():
            km = faiss.Kmeans(d, k, niter=iters, seed=0, max_points_per_centroid=n_cpu)
            km.train(X_host)

        spec[peer] = {"fn": faiss_kmeans, "items": n_cpu * iters}
    spec[f"mmfuse lloyd_kmeans, {iters} iterations (CPU, {n_cpu:,} rows)"] = {
        "fn": lambda: lloyd_kmeans(X_host, to_numpy(init), max_iter=iters, tol=-1.0),
        "items": n_cpu * iters}
    return _gpu_section("kmeans", f"Lloyd k-means: {n:,} x {d} descriptors, {k:,} clusters",
                        spec, repeats, sync, "descriptor-iterations/s", peer=peer)


def to_markdown_gpu(result: dict) -> str:
    machine, gpu = result["machine"], result["gpu"]
    lines = ["# mmfuse kernel benchmark: GPU rows", ""]
    if result.get("dry_run"):
        lines += ["**DRY RUN ON THE CPU (NumPy, toy sizes): these are not GPU figures.**", ""]
    lines.append(f"- date: {machine['date']}")
    lines.append(f"- GPU: {gpu.get('gpu')} ({gpu.get('gpu_memory_gib')} GiB, compute capability "
                 f"{gpu.get('compute_capability')}, {gpu.get('multiprocessors')} SMs); CUDA "
                 f"runtime {gpu.get('cuda_runtime')}, driver {gpu.get('cuda_driver')}, CuPy "
                 f"{gpu.get('cupy')}, CUPY_TF32={gpu.get('CUPY_TF32')}")
    lines.append(f"- host CPU: {machine['cpu']}, {machine['cores']} cores; {machine['platform']}")
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    lines.append(f"- working_memory {result['working_memory']} MiB; load average before "
                 f"{machine['loadavg']}, after {result['loadavg_after']}")
    lines.append(f"- median of {result['repeats']} interleaved repeats after one warm-up, the "
                 "device synchronised around each call; data already on the device unless a "
                 "row says CPU. Peers on the CPU run on a subset (named in the row) and are "
                 "compared by throughput.")
    lines.append("")
    for section in result["sections"]:
        lines += [f"## {section['title']}", ""]
        if section["gemm_gflops"]:
            lines += [f"Measured cuBLAS float32 GEMM rate ({section['gemm_row']}): "
                      f"{section['gemm_gflops']:,.0f} GFLOP/s.", ""]
        lines.append("| method | median s | throughput | GFLOP/s | of GEMM rate | vs peer |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for row in section["rows"]:
            def fmt(value, spec):
                return "-" if value is None else format(value, spec)

            lines.append(
                f"| {row['method']} | {row['median_s']:.4f} | {row['throughput']:,.0f} "
                f"{row['throughput_unit']} | {fmt(row['gflops'], ',.0f')} | "
                f"{fmt(row['fraction_of_gemm_rate'], '.0%')} | "
                f"{fmt(row['speed_vs_peer'], '.1f')}{'x' if row['speed_vs_peer'] else ''} |")
        lines.append("")
        if section["peer_row"]:
            lines += [f"Peer: {section['peer_row']}.", ""]
        for note in section["notes"]:
            lines += [note, ""]
        if section["agreement"]:
            lines += ["Agreement: " + ", ".join(f"{k} {v:.6g}"
                                                for k, v in section["agreement"].items()), ""]
    lines += ["## Targets", ""]
    for target in result["targets"]:
        lines.append(f"- {target}")
    return "\n".join(lines)


def _targets(sections) -> list[str]:
    rows = {(s["key"], r["method"]): r for s in sections for r in s["rows"]}
    out = []
    assign = rows.get(("assignment", "mmfuse assign_nearest (GPU)"))
    if assign:
        frac = assign["fraction_of_gemm_rate"]
        out.append(f"assignment at >= 50% of the measured GEMM rate: {frac:.0%} "
                   f"({'met' if frac >= 0.5 else 'NOT met'})")
        if assign["speed_vs_peer"]:
            ratio = assign["speed_vs_peer"]
            out.append(f"assignment >= 20x faiss-cpu: {ratio:.1f}x "
                       f"({'met' if ratio >= 20 else 'NOT met'})")
    topk = rows.get(("topk", "mmfuse cosine_topk (GPU)"))
    if topk and topk["speed_vs_peer"]:
        ratio = topk["speed_vs_peer"]
        out.append(f"top-k >= 20x faiss-cpu: {ratio:.1f}x ({'met' if ratio >= 20 else 'NOT met'})")
    return out


def main_gpu(args) -> int:
    from mmfuse import get_config
    from mmfuse.backend import cupy_available
    from mmfuse.backend._namespace import _probe_cupy

    if args.cpu_dry_run:
        xp, sync, sizes = np, (lambda: None), DRY_RUN_SIZES
        gpu = {"gpu": "none (dry run on the CPU)"}
    else:
        if not cupy_available():
            print(f"GPU rows skipped: {_probe_cupy()[1]}. Run on a machine with an NVIDIA GPU "
                  "and the gpu extra (pip install 'mmfuse[gpu]').")
            return 0
        import cupy as xp

        sync, sizes = xp.cuda.Device().synchronize, dict(GPU_SIZES)
        if args.quick:
            sizes |= {key: tuple(max(1, v // 10) if i == 0 else v for i, v in enumerate(val))
                      for key, val in sizes.items() if isinstance(val, tuple)}
        gpu = gpu_info(xp)
    if _faiss() is None:
        print("note: faiss-cpu is absent, the faiss rows are left out "
              "(pip install 'mmfuse[bench]')", file=sys.stderr)
    machine = machine_info()
    sections = [bench_gpu_peak(xp, sync, args.repeats, args.cpu_dry_run),
                bench_gpu_assignment(xp, sync, args.repeats, sizes)]
    sections.append(bench_gpu_encoding(xp, sync, args.repeats, sizes))
    sections.append(bench_gpu_topk(xp, sync, args.repeats, sizes))
    sections.append(bench_gpu_kmeans(xp, sync, args.repeats, sizes))
    result = {"machine": machine, "gpu": gpu, "sizes": {k: list(v) if isinstance(v, tuple)
                                                         else v for k, v in sizes.items()},
              "sections": sections, "targets": _targets(sections),
              "loadavg_after": list(os.getloadavg()), "repeats": args.repeats,
              "working_memory": get_config()["working_memory"], "quick": args.quick,
              "dry_run": args.cpu_dry_run}
    text = to_markdown_gpu(result)
    print(text)
    if not (args.quick or args.cpu_dry_run):
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "kernels_gpu.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "kernels_gpu.md").write_text(text + "\n")
        print(f"wrote {args.out / 'kernels_gpu.json'} and {args.out / 'kernels_gpu.md'}")
    return 0


def main_processes(args) -> int:
    """Run the CPU benchmark in ``args.processes`` fresh processes, one after the
    other; write each run's speed vs faiss and share of the GEMM rate, and their
    spread (median, min, max over the runs)."""
    import subprocess
    import tempfile

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.processes):
            out = Path(tmp) / str(run)
            subprocess.run([sys.executable, "-m", "mmfuse.bench.kernels",
                            "--repeats", str(args.repeats), "--out", str(out)],
                           check=True, stdout=subprocess.DEVNULL)
            runs.append(json.loads((out / "kernels.json").read_text()))
    machine = runs[-1]["machine"]
    methods = [(s["key"], s["title"], r["method"]) for s in runs[0]["sections"]
               for r in s["rows"]]

    def values(key, method, field):
        return [next(r[field] for s in run["sections"] if s["key"] == key
                     for r in s["rows"] if r["method"] == method) for run in runs]

    lines = [f"# mmfuse kernel benchmark: {len(runs)} runs in fresh processes", "",
             f"- CPU: {machine['cpu']}, {machine['cores']} cores; {machine['platform']}",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()),
             "- load average before each run: " + "; ".join(
                 ", ".join(f"{x:.2f}" for x in run["machine"]["loadavg"]) for run in runs),
             f"- each run: median of {args.repeats} interleaved repeats (see kernels.md for "
             "one run's full table); speed vs faiss = faiss time / method time", ""]
    for key, title in dict.fromkeys((k, t) for k, t, _ in methods):
        lines += [f"## {title}", "",
                  "| method | speed vs faiss per run | median (min-max) | of GEMM rate per run "
                  "| median (min-max) |", "|---|---|---|---|---|"]
        for _, _, method in (m for m in methods if m[0] == key):
            speed = values(key, method, "speed_vs_faiss")
            share = values(key, method, "fraction_of_gemm_rate")
            lines.append(
                f"| {method} | {', '.join(f'{v:.2f}x' for v in speed)} | "
                f"{statistics.median(speed):.2f}x ({min(speed):.2f}-{max(speed):.2f}) | "
                f"{', '.join(f'{v:.0%}' for v in share)} | {statistics.median(share):.0%} "
                f"({min(share):.0%}-{max(share):.0%}) |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kernels_runs.json").write_text(json.dumps(runs, indent=1) + "\n")
    (args.out / "kernels_runs.md").write_text(text)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per method")
    parser.add_argument("--quick", action="store_true",
                        help="10x smaller problems (a smoke test; results not written)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--data-dir", default=os.environ.get("MMFUSE_DATA"),
                        help="unused: the kernels run on generated data")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="cpu: the CPU comparison; gpu: the GPU rows (skipped without a GPU)")
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="with --device gpu: run the GPU rows' code on NumPy at toy sizes "
                             "to check the script without a GPU (not GPU figures; not written)")
    parser.add_argument("--processes", type=int, default=1,
                        help="run the CPU benchmark this many times, each in a fresh process, "
                             "and write the spread across runs to kernels_runs.{json,md}")
    args = parser.parse_args(argv)
    if args.device == "gpu":
        return main_gpu(args)
    if args.processes > 1:
        return main_processes(args)
    try:
        import faiss  # noqa: F401
    except ImportError:
        print("faiss-cpu is needed: pip install 'mmfuse[bench]'", file=sys.stderr)
        return 2
    scale = 10 if args.quick else 1
    machine = machine_info()
    rng = np.random.default_rng(0)
    sections = [
        bench_assignment(200_000 // scale, 128, 1024, args.repeats, rng),
        bench_topk(1000 // scale, 100_000 // scale, 256, 10, args.repeats, rng),
    ]
    result = {"machine": machine, "sections": sections, "loadavg_after": list(os.getloadavg()),
              "repeats": args.repeats, "quick": args.quick}
    text = to_markdown(result, machine, args)
    print(text)
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "kernels.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "kernels.md").write_text(text + "\n")
        print(f"wrote {args.out / 'kernels.json'} and {args.out / 'kernels.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
