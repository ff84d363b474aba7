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
the ratio to faiss. Results go to ``benchmarks/results/kernels.{json,md}``
with machine information (CPU, cores, library versions, load average).

Run: ``python benchmarks/kernels.py`` (needs the ``bench`` extra: faiss-cpu).
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

RESULTS = Path(__file__).resolve().parent / "results"


def machine_info() -> dict:
    """CPU model, cores, library versions, BLAS and the current load average."""
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per method")
    parser.add_argument("--quick", action="store_true",
                        help="10x smaller problems (a smoke test; results not written)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--data-dir", default=os.environ.get("MMFUSE_DATA"),
                        help="unused: the kernels run on generated data")
    args = parser.parse_args(argv)
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
