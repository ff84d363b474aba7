"""Scaling benchmark: SIFT + bag-of-words encoding on 1 and 2 local workers and on a
2-worker Dask LocalCluster, against a plain single-threaded OpenCV SIFT loop.

Images: ``--n-images`` JPEG files of natural scenes, made by cropping, scaling
and flipping the two photographs scikit-learn ships
(:func:`sklearn.datasets.load_sample_images`), so that the workload has the
hundreds of keypoints per image real photos have. They are written to a
temporary folder; nothing is downloaded.

Methods, all over the same files, sparse SIFT with OpenCV's default settings:

- ``opencv_loop``: ``cv2.imread`` + ``cv2.cvtColor`` to gray +
  ``SIFT.detectAndCompute`` in a plain Python loop (the same pixels
  :func:`mmfuse.io.read_image` gives, so the same descriptors);
- ``opencv_loop_imread_gray``: the same with ``cv2.IMREAD_GRAYSCALE`` (what a
  hurried user writes; libpng/libjpeg convert, pixels differ slightly);
- ``mmfuse_sift_1``: ``SIFTExtractor(mode="sparse", n_jobs=1).transform``;
  the pipeline overhead is its time over ``opencv_loop`` minus one;
- ``sift_bow_1`` / ``sift_bow_2``: ``Pipeline(SIFTExtractor, BagOfWords)``
  with ``n_jobs`` 1 and 2 (joblib's local process pool);
- ``sift_bow_dask``: the same pipeline inside
  ``joblib.parallel_config(backend="dask")`` on a 2-worker process
  LocalCluster (loopback);
- ``shards_2`` / ``shards_dask``: ``mmfuse.parallel.extract_to_shards`` of
  that pipeline into shards on disk, local pool of 2 and the cluster.

Every process runs OpenCV single-threaded (``OPENCV_FOR_THREADS_NUM=1``,
``cv2.setNumThreads(1)``), so workers are the only parallelism. Methods are
interleaved repeat by repeat (a burst of load hits all of them) after one
warm-up each; medians are reported, with the load average before and after.

Run: ``python benchmarks/scaling.py`` (needs the ``dask`` extra). Results go
to ``benchmarks/results/scaling.{json,md}``.
"""

from __future__ import annotations

import os

# Before cv2 is imported anywhere, also in the worker processes started below.
os.environ["OPENCV_FOR_THREADS_NUM"] = "1"

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import joblib
import numpy as np
from kernels import machine_info  # CPU, cores, versions, BLAS, load average

RESULTS = Path(__file__).resolve().parent / "results"


def make_images(folder: Path, n: int, side: int, seed: int) -> list[str]:
    """``n`` distinct JPEG crops of scikit-learn's sample photographs."""
    from sklearn.datasets import load_sample_images

    photos = [np.ascontiguousarray(im[:, :, ::-1]) for im in load_sample_images().images]
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        photo = photos[i % len(photos)]
        scale = rng.uniform(side / min(photo.shape[:2]), 1.0)
        resized = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = resized.shape[:2]
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = resized[y:y + side, x:x + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        path = folder / f"image_{i:05d}.jpg"
        cv2.imwrite(str(path), np.ascontiguousarray(crop), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(str(path))
    return paths


def opencv_loop(files, gray_flag=False):
    sift = cv2.SIFT_create()
    out = []
    for path in files:
        if gray_flag:
            gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        else:
            gray = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)
        keypoints, descriptors = sift.detectAndCompute(gray, None)
        out.append(descriptors)
    return out


def paired_overhead(files, sift, chunk: int, repeats: int) -> dict:
    """Overhead measured in pairs: the OpenCV loop and SIFTExtractor on the same
    chunk of files, back to back, many times; the median of the per-pair ratios.

    A change of load between two adjacent runs of a few seconds is rarer than
    over the minutes between whole-run repeats, so pairs cancel most of it.
    """
    wall, cpu = [], []
    chunks = [files[i:i + chunk] for i in range(0, len(files), chunk)]
    pair = 0
    for _ in range(repeats):
        for part in chunks:
            spent = {}
            # alternate which runs first, so neither always finds warmer caches
            order = ("opencv", "mmfuse") if pair % 2 == 0 else ("mmfuse", "opencv")
            for name in order:
                fn = opencv_loop if name == "opencv" else sift.transform
                start, cpu_start = time.perf_counter(), time.process_time()
                fn(part)
                spent[name] = (time.perf_counter() - start, time.process_time() - cpu_start)
            wall.append(spent["mmfuse"][0] / spent["opencv"][0] - 1)
            cpu.append(spent["mmfuse"][1] / spent["opencv"][1] - 1)
            pair += 1
    quartiles = lambda x: [round(q, 4) for q in statistics.quantiles(x, n=4)]  # noqa: E731
    return {"chunk": chunk, "n_pairs": len(wall), "wall": wall, "cpu": cpu,
            "median_wall": statistics.median(wall), "median_cpu": statistics.median(cpu),
            "quartiles_wall": quartiles(wall), "quartiles_cpu": quartiles(cpu)}


def run(args) -> dict:
    from distributed import Client, LocalCluster
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    from mmfuse.encoding import BagOfWords
    from mmfuse.image import SIFTExtractor
    from mmfuse.parallel import extract_to_shards

    cv2.setNumThreads(1)
    workdir = Path(tempfile.mkdtemp(prefix="mmfuse-scaling-"))
    try:
        (workdir / "images").mkdir()
        files = make_images(workdir / "images", args.n_images, args.image_size, args.seed)
        sift = SIFTExtractor(mode="sparse", batch_size=args.batch_size)
        reference = clone(sift).fit([]).transform(files)
        # same pixels, same descriptors: the comparison is like for like
        direct = opencv_loop(files)
        for i, d in enumerate(direct):
            np.testing.assert_array_equal(reference[i], np.zeros((0, 128)) if d is None else d)
        bow = BagOfWords(n_words=args.n_words, random_state=0).fit(reference)
        p1 = Pipeline([("sift", clone(sift).set_params(n_jobs=1).fit([])), ("bow", bow)])
        p2 = Pipeline([("sift", clone(sift).set_params(n_jobs=2).fit([])), ("bow", bow)])
        codes = p1.transform(files)

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None, silence_logs=40)
        client = Client(cluster)
        shard_runs = iter(range(10**6))

        def on_dask(fn):
            def wrapped():
                with joblib.parallel_config(backend="dask"):
                    return fn()
            return wrapped

        def shards(n_jobs):
            def go():
                out = workdir / f"shards-{next(shard_runs)}"
                extract_to_shards(files, p1, out, shard_size=args.shard_size, n_jobs=n_jobs)
                shutil.rmtree(out)
            return go

        sift1 = clone(sift).set_params(n_jobs=1).fit([])
        methods = {
            "opencv_loop": lambda: opencv_loop(files),
            "opencv_loop_imread_gray": lambda: opencv_loop(files, gray_flag=True),
            "mmfuse_sift_1": lambda: sift1.transform(files),
            "sift_bow_1": lambda: p1.transform(files),
            "sift_bow_2": lambda: p2.transform(files),
            "sift_bow_dask": on_dask(lambda: p1.transform(files)),
            "shards_2": shards(2),
            "shards_dask": on_dask(shards(None)),
        }
        # the parallel runs give the same codes as the serial one
        np.testing.assert_allclose(p2.transform(files), codes, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(on_dask(lambda: p1.transform(files))(), codes,
                                   rtol=1e-6, atol=1e-7)
        load_before = [round(x, 2) for x in os.getloadavg()]
        times = {name: [] for name in methods}
        # CPU seconds of this process: for the single-process methods, a measure the
        # other tenants of a loaded machine disturb much less than wall-clock time
        cpu_times = {name: [] for name in ("opencv_loop", "mmfuse_sift_1")}
        for fn in methods.values():  # warm-up: pools, worker imports, file cache
            fn()
        for repeat in range(args.repeats):
            for name, fn in methods.items():
                time.sleep(0.2)
                start, cpu_start = time.perf_counter(), time.process_time()
                fn()
                times[name].append(time.perf_counter() - start)
                if name in cpu_times:
                    cpu_times[name].append(time.process_time() - cpu_start)
            print(f"repeat {repeat + 1}/{args.repeats} done; load {os.getloadavg()[0]:.2f}",
                  file=sys.stderr)
        client.close()
        cluster.close()
        paired = paired_overhead(files, sift1, args.pair_chunk, args.repeats)
        n_keypoints = int(reference.values.shape[0])
        mean_file_kb = statistics.mean(os.path.getsize(f) for f in files) / 1024
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {
        "n_images": args.n_images, "image_size": args.image_size,
        "keypoints_per_image": n_keypoints / args.n_images, "n_words": args.n_words,
        "batch_size": args.batch_size, "shard_size": args.shard_size,
        "repeats": args.repeats, "times_s": times, "median_s": medians,
        "images_per_s": {name: args.n_images / m for name, m in medians.items()},
        "overhead_vs_opencv_whole_runs": medians["mmfuse_sift_1"] / medians["opencv_loop"] - 1,
        "overhead_per_repeat": [a / b - 1 for a, b in zip(times["mmfuse_sift_1"],
                                                          times["opencv_loop"], strict=True)],
        "cpu_times_s": cpu_times,
        "paired": paired,
        # the headline figure: paired wall-clock ratios are the least disturbed by load
        "overhead_vs_opencv": paired["median_wall"],
        "overhead_target": 0.10,
        "overhead_target_met": paired["median_wall"] <= 0.10,
        "mean_file_kb": mean_file_kb,
        "codes_kb_per_image": args.n_words * 4 / 1024,
        "overhead_vs_opencv_cpu": (statistics.median(cpu_times["mmfuse_sift_1"])
                                   / statistics.median(cpu_times["opencv_loop"]) - 1),
        "loadavg_before": load_before, "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


LABELS = {
    "opencv_loop": ("plain OpenCV loop (imread + cvtColor + detectAndCompute)", 1),
    "opencv_loop_imread_gray": ("plain OpenCV loop, IMREAD_GRAYSCALE", 1),
    "mmfuse_sift_1": ("SIFTExtractor, n_jobs=1", 1),
    "sift_bow_1": ("SIFTExtractor + BagOfWords, n_jobs=1", 1),
    "sift_bow_2": ("SIFTExtractor + BagOfWords, n_jobs=2 (loky)", 2),
    "sift_bow_dask": ("SIFTExtractor + BagOfWords, 2-worker LocalCluster", 2),
    "shards_2": ("extract_to_shards(SIFT + BoW), n_jobs=2 (loky)", 2),
    "shards_dask": ("extract_to_shards(SIFT + BoW), 2-worker LocalCluster", 2),
}


def to_markdown(result: dict, machine: dict) -> str:
    base = result["median_s"]["sift_bow_1"]
    lines = ["# Scaling: SIFT + bag-of-words over joblib and Dask", ""]
    lines.append(f"- date: {machine['date']}")
    lines.append(f"- CPU: {machine['cpu']}, {machine['cores']} cores; {machine['platform']}")
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    lines.append(f"- load average (1, 5, 15 min) before: {result['loadavg_before']}, after: "
                 f"{result['loadavg_after']} (the machine is shared)")
    lines.append(f"- data: {result['n_images']} JPEG crops {result['image_size']} px of "
                 f"scikit-learn's sample photos, {result['keypoints_per_image']:.0f} SIFT "
                 f"keypoints per image; BagOfWords n_words={result['n_words']}; "
                 f"batch_size={result['batch_size']}, shard_size={result['shard_size']}")
    lines.append(f"- median of {result['repeats']} interleaved repeats after a warm-up; "
                 "OpenCV single-threaded in every process")
    lines.append("")
    lines.append("| method | workers | median s | images/s | speed-up vs SIFT+BoW n_jobs=1 |")
    lines.append("|---|---:|---:|---:|---:|")
    for name, (label, workers) in LABELS.items():
        m = result["median_s"][name]
        lines.append(f"| {label} | {workers} | {m:.3f} | {result['images_per_s'][name]:.1f} "
                     f"| {base / m:.2f} |")
    lines.append("")
    per_repeat = ", ".join(f"{x:+.1%}" for x in result["overhead_per_repeat"])
    paired = result["paired"]
    pct = lambda xs: ", ".join(f"{x:+.1%}" for x in xs)  # noqa: E731
    lines.append("## Pipeline overhead over plain OpenCV (target <= 10%)")
    lines.append("")
    lines.append("`SIFTExtractor(mode=\"sparse\", n_jobs=1)` against the plain OpenCV loop, "
                 "same files, same pixels, same descriptors (checked):")
    lines.append("")
    lines.append("| measure | overhead |")
    lines.append("|---|---:|")
    lines.append(f"| paired runs, {paired['n_pairs']} pairs of {paired['chunk']} files, "
                 f"median of per-pair ratios, wall clock (quartiles "
                 f"{pct(paired['quartiles_wall'])}) | **{paired['median_wall']:+.1%}** |")
    lines.append(f"| paired runs, CPU time of the process (quartiles "
                 f"{pct(paired['quartiles_cpu'])}) | **{paired['median_cpu']:+.1%}** |")
    lines.append(f"| whole runs above, ratio of medians, wall clock (per repeat: {per_repeat}) "
                 f"| {result['overhead_vs_opencv_whole_runs']:+.1%} |")
    lines.append(f"| whole runs above, ratio of median CPU times "
                 f"| {result['overhead_vs_opencv_cpu']:+.1%} |")
    lines.append("")
    lines.append(scaling_note(result))
    return "\n".join(lines) + "\n"


def scaling_note(result: dict) -> str:
    """How the measured per-image costs extrapolate to a real cluster."""
    cpu_per_image = statistics.median(result["cpu_times_s"]["mmfuse_sift_1"]) / result["n_images"]
    per_core = 1 / cpu_per_image
    read_mb_s = 100 * per_core * result["mean_file_kb"] / 1024
    return "\n".join([
        "## How it would scale on a real cluster",
        "",
        f"One image costs {cpu_per_image * 1000:.0f} ms of CPU here (SIFTExtractor, "
        f"{result['keypoints_per_image']:.0f} keypoints), so one core describes about "
        f"{per_core:.0f} images/s and encoding adds little "
        "(see the SIFT + BoW rows). Files are independent: a shard task receives a list of "
        f"{result['shard_size']} paths and returns a record of a few hundred bytes, and its "
        f"worker writes the codes itself ({result['codes_kb_per_image']:.0f} KiB per image for "
        f"{result['n_words']} words). So throughput grows about linearly with worker cores "
        "until shared resources saturate: at 100 cores the workers read about "
        f"{read_mb_s:.0f} MB/s of images ({result['mean_file_kb']:.0f} KiB per JPEG here) "
        "from the shared file system, and the scheduler sees about "
        f"{100 * per_core / result['shard_size']:.0f} tasks/s (Dask schedules thousands per "
        "second). Larger shards cut scheduling further at the price of more work redone "
        "after a failure.",
        "",
        "On this machine (2 cores, shared with other engineers; load average "
        f"{result['loadavg_before'][0]} before and {result['loadavg_after'][0]} after the run) "
        "2 workers cannot reach 2x: the other tenants take part of the second core, the "
        "parent process assembles the results, and 96 images leave little to amortise the "
        "dispatch over. The per-image CPU cost above is the robust figure to extrapolate "
        "from; a loaded machine (load average far above 2) makes the 2-worker rows "
        "meaningless, so check the load before comparing runs.",
        "",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("MMFUSE_DATA", "../shared/datasets"),
                        help="unused: the images are generated from scikit-learn's samples")
    parser.add_argument("--n-images", type=int, default=96)
    parser.add_argument("--image-size", type=int, default=320)
    parser.add_argument("--n-words", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    # 96 / 16 = 6 shards: whole rounds on 2 workers (3 shards would leave one idle)
    parser.add_argument("--shard-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pair-chunk", type=int, default=32,
                        help="files per paired OpenCV / SIFTExtractor overhead measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    machine = machine_info(extra=("joblib", "dask", "distributed"))
    result = run(args)
    text = to_markdown(result, machine)
    print(text)
    if not args.no_save:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "scaling.json").write_text(json.dumps(
            {"machine": machine, "args": {k: str(v) for k, v in vars(args).items()},
             "result": result}, indent=1))
        (args.out / "scaling.md").write_text(text)


if __name__ == "__main__":
    main()
