"""Peak memory of every encoder's ``fit`` + ``transform``, with and without the pyramid.

Issue 27: a laptop must be able to encode a few thousand photos. Each case
runs in a fresh child process; the child builds the descriptor sets that
dense SIFT gives on photo-like 320 x 240 images (step 8, 16-px patches:
39 x 29 = 1,131 descriptors of 128 values per image, 3% of them flat, grid
positions and image extents; an encoder's memory depends only on these
counts and sizes, not on pixel content), records its resident set size
(RSS), then fits and transforms with default parameters and reports the
peak RSS (``resource.getrusage``) against the size of the output.

    python benchmarks/memory.py                    # 1,000 and 4,000 images, all cases
    python benchmarks/memory.py --images 10000 --cases fisher+spm bow+spm

Writes ``results/memory.json`` and ``results/memory.md`` (merging cases
already there), with machine info.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
WIDTH, HEIGHT, STEP, PATCH = 320, 240, 8, 16
CASES = ("bow", "bow-soft", "vlad", "fisher", "bow+spm", "bow-soft+spm", "vlad+spm",
         "fisher+spm")


def _rss_mib() -> float:
    """Peak resident set size so far (since the last :func:`_reset_peak`), MiB."""
    from harness import proc_status_bytes

    peak = proc_status_bytes("VmHWM")
    return peak / 2**20 if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> float:
    """Reset the kernel's peak-RSS mark (Linux: ``/proc/self/clear_refs``); return RSS now.

    Without the reset, a transient peak while the input is built would hide
    the encoder's own working set."""
    from harness import proc_status_bytes, reset_high_water_mark

    reset_high_water_mark()
    now = proc_status_bytes("VmRSS")
    return now / 2**20 if now else _rss_mib()


def photo_like_descriptors(n_images: int, seed: int = 0):
    """Dense-SIFT-shaped descriptor sets of ``n_images`` 320 x 240 photos."""
    from mmfuse.descriptors import DescriptorSet

    xs = np.arange(PATCH // 2, WIDTH - PATCH // 2 + 1, STEP, dtype=np.float32)
    ys = np.arange(PATCH // 2, HEIGHT - PATCH // 2 + 1, STEP, dtype=np.float32)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    per = grid.shape[0]
    rng = np.random.default_rng(seed)
    values = np.empty((n_images * per, 128), np.float32)
    prototypes = rng.gamma(0.6, size=(512, 128)).astype(np.float32)
    for start in range(0, values.shape[0], 1 << 18):
        block = values[start:start + (1 << 18)]
        picks = rng.integers(0, 512, size=block.shape[0])
        block[...] = prototypes[picks] + rng.gamma(0.6, size=block.shape).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        block[rng.random(block.shape[0]) < 0.03] = 0  # flat patches
    offsets = np.arange(n_images + 1, dtype=np.int64) * per
    positions = np.tile(grid, (n_images, 1))
    return DescriptorSet(values, offsets, positions=positions,
                         extents=np.tile([[WIDTH, HEIGHT]], (n_images, 1)))


def make_encoder(case: str):
    from mmfuse.encoding import VLAD, BagOfWords, FisherVector, SpatialPyramid

    name, _, pyramid = case.partition("+")
    encoder = {"bow": lambda: BagOfWords(random_state=0),
               "bow-soft": lambda: BagOfWords(assignment="soft", random_state=0),
               "vlad": lambda: VLAD(random_state=0),
               "fisher": lambda: FisherVector(random_state=0)}[name]()
    return SpatialPyramid(encoder) if pyramid == "spm" else encoder


def child(case: str, n_images: int) -> dict:
    ds = photo_like_descriptors(n_images)
    after_input = _reset_peak()
    model = make_encoder(case)
    start = time.perf_counter()
    model.fit(ds)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    codes = model.transform(ds)
    transform_s = time.perf_counter() - start
    peak = _rss_mib()
    return {"case": case, "images": n_images, "descriptors": int(ds.values.shape[0]),
            "input_mib": ds.values.nbytes / 2**20, "output_mib": codes.nbytes / 2**20,
            "output_dims": int(codes.shape[1]), "rss_after_input_mib": after_input,
            "peak_rss_mib": peak, "extra_over_output": (peak - after_input) / max(
                codes.nbytes / 2**20, 1e-9),
            "fit_s": fit_s, "transform_s": transform_s, "model": repr(model)}


def child_mvsa(data_dir: str) -> dict:
    """Issue 27's real workload: defaults on MVSA Twitter's 3,200 + 800 photos."""
    import pandas as pd

    from mmfuse.encoding import SpatialPyramid
    from mmfuse.image import SIFTExtractor

    root = Path(data_dir) / "mvsa_twitter"
    table = pd.read_csv(root / "labels.csv")
    paths = {s: [str(root / "images" / f"{g}.jpg") for g in table.loc[table.split == s, "guid"]]
             for s in ("train", "test")}
    start = time.perf_counter()
    sift = SIFTExtractor(n_jobs=2)
    D_train, D_test = sift.fit_transform(paths["train"]), sift.transform(paths["test"])
    sift_s = time.perf_counter() - start
    peak_sift = _rss_mib()
    after_input = _reset_peak()
    from mmfuse.encoding import FisherVector

    pyramid = SpatialPyramid(FisherVector())
    start = time.perf_counter()
    Z_train = pyramid.fit_transform(D_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    Z_test = pyramid.transform(D_test)
    transform_s = time.perf_counter() - start
    return {"case": "mvsa: SpatialPyramid(FisherVector()) defaults", "images": len(table),
            "descriptors": int(D_train.values.shape[0] + D_test.values.shape[0]),
            "input_mib": (D_train.values.nbytes + D_test.values.nbytes) / 2**20,
            "output_mib": (Z_train.nbytes + Z_test.nbytes) / 2**20,
            "output_dims": int(Z_train.shape[1]), "rss_after_input_mib": after_input,
            "peak_rss_sift_mib": peak_sift, "peak_rss_mib": max(peak_sift, _rss_mib()),
            "peak_rss_encoding_mib": _rss_mib(), "sift_s": sift_s, "fit_s": fit_s,
            "transform_s": transform_s, "model": repr(pyramid),
            "levels": list(pyramid.levels_)}


def run_case(case: str, n_images: int, timeout: int) -> dict:
    cmd = [sys.executable, __file__, "--child", case, str(n_images)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"case": case, "images": n_images, "error": f"timeout after {timeout} s"}
    if done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return {"case": case, "images": n_images,
                "error": f"exit {done.returncode}: {tail[0][:300]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def to_markdown(rows: list[dict], machine: dict) -> str:
    lines = [
        "# Peak memory of the encoders (issue 27)",
        "",
        "Each row is a fresh process: photo-like dense-SIFT descriptor sets "
        f"({WIDTH} x {HEIGHT} images, 1,131 x 128 float32 descriptors each, 3% flat), "
        "then `fit` and `transform` with default parameters. *Peak RSS* is the "
        "process's maximum resident set size; *extra / output* is (peak RSS - RSS "
        "once the input exists) / output size: 1.0 would mean the encoder needs "
        "nothing beyond its output. The peak is reset (Linux `/proc/self/clear_refs`) once "
        "the input exists, so it is the encoder's own (fit + transform).",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, load average "
        f"{', '.join(f'{v:.1f}' for v in machine['loadavg'])}; "
        f"{machine['date']}; mmfuse {machine['versions'].get('mmfuse')}, "
        f"NumPy {machine['versions']['numpy']}.",
        "",
        "*Working set* is that extra minus the output: what fit + transform need besides "
        "the codes they return (the codebook's training sample, one chunk of work).",
        "",
        "| case | images | output dims | input MiB | output MiB | peak RSS MiB | "
        "extra / output | working set MiB | fit s | transform s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["images"], CASES.index(r["case"]))):
        if "error" in r:
            lines.append(f"| {r['case']} | {r['images']:,} | | | | | {r['error']} | | | |")
            continue
        lines.append(
            f"| {r['case']} | {r['images']:,} | {r['output_dims']:,} | {r['input_mib']:,.0f} | "
            f"{r['output_mib']:,.0f} | {r['peak_rss_mib']:,.0f} | "
            f"{r['extra_over_output']:.2f} | "
            f"{r['peak_rss_mib'] - r['rss_after_input_mib'] - r['output_mib']:,.0f} | "
            f"{r['fit_s']:.1f} | {r['transform_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("CASE", "IMAGES"), help=argparse.SUPPRESS)
    parser.add_argument("--images", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--out", default="memory")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the Markdown from the recorded JSON")
    parser.add_argument("--mvsa", metavar="DATA_DIR",
                        help="run only the real MVSA Twitter workload from DATA_DIR")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return 0
    if args.mvsa:
        from kernels import machine_info

        row = {**child_mvsa(args.mvsa), "machine": machine_info()}
        print(json.dumps(row))
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "memory_mvsa.json").write_text(json.dumps(row, indent=1))
        return 0
    from kernels import machine_info

    path = RESULTS / f"{args.out}.json"
    if args.render:
        recorded = json.loads(path.read_text())
        (RESULTS / f"{args.out}.md").write_text(to_markdown(recorded["rows"],
                                                            recorded["machine"]))
        return 0
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    rows = {(r["case"], r["images"]): r for r in old}
    for n_images in args.images:
        for case in args.cases:
            row = run_case(case, n_images, args.timeout)
            rows[(case, n_images)] = row
            print(json.dumps(row), flush=True)
    machine = machine_info()
    RESULTS.mkdir(exist_ok=True)
    rows = list(rows.values())
    path.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    (RESULTS / f"{args.out}.md").write_text(to_markdown(rows, machine))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
