"""Issue 17's photo workload: is encoding the slow part of a SIFT pipeline?

The issue measured, on about 2,200 real photographs (4.1 M dense RootSIFT
descriptors), ``DescriptorPCA(64) -> SpatialPyramid(FisherVector(64),
levels=(1, 2))`` taking 159 s to fit and transform against 34 s for the SIFT
extraction. This script reproduces the workload with generated photo-like
JPEGs of the same count and descriptor count: 2,200 images of 416 x 304
pixels (1,887 dense descriptors each at the default step 8 and 16-pixel
patches: 4.15 M in all) with sky-like gradients, shapes with edges, texture,
noise and, on a fifth of them, letterbox bars (flat descriptors). Then, in
one process:

- extraction: ``SIFTExtractor(rootsift=True, n_jobs=-1)`` over the files
  (reading and decoding included, both cores);
- fit: ``DescriptorPCA(64)`` and the pyramid's ``FisherVector(64)`` codebook;
- transform: PCA projection and the pyramid's Fisher vectors of every image;

and reports fit + transform as a multiple of the extraction (target: at most
1.5x).

    python benchmarks/photo_workload.py [--n-images 2200]

Writes ``results/photo_workload.{json,md}`` with machine info and the load
average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
WIDTH, HEIGHT = 416, 304


def photo_like_image(rng) -> np.ndarray:
    """A 416 x 304 BGR image: gradient sky, a few shapes, texture, noise, maybe bars."""
    import cv2

    y = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    top, bottom = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = (top * (1 - y) + bottom * y) * np.ones((1, WIDTH, 1), np.float32)
    for _ in range(rng.integers(3, 9)):
        color = tuple(float(c) for c in rng.uniform(0, 255, 3))
        center = (int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT)))
        if rng.random() < 0.5:
            axes = (int(rng.integers(10, 120)), int(rng.integers(10, 90)))
            cv2.ellipse(image, center, axes, float(rng.uniform(0, 180)), 0, 360, color, -1)
        else:
            corner = (center[0] + int(rng.integers(20, 160)),
                      center[1] + int(rng.integers(20, 120)))
            cv2.rectangle(image, center, corner, color, -1)
    # texture where the scene is "busy": band-limited noise over part of the frame
    texture = cv2.GaussianBlur(rng.normal(0, 40, (HEIGHT, WIDTH)).astype(np.float32), (0, 0),
                               float(rng.uniform(0.8, 3.0)))
    region = np.zeros((HEIGHT, WIDTH), np.float32)
    region[int(HEIGHT * rng.uniform(0.3, 0.7)):] = 1.0
    image += (texture * region)[:, :, None]
    image += rng.normal(0, 3, image.shape).astype(np.float32)
    if rng.random() < 0.2:  # letterbox bars: flat, all-zero descriptors
        bar = int(rng.integers(24, 60))
        image[:bar] = 0
        image[-bar:] = 0
    return np.clip(image, 0, 255).astype(np.uint8)


def write_images(folder: Path, n_images: int, seed: int = 0) -> list[str]:
    import cv2

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n_images):
        path = folder / f"{i:05d}.jpg"
        cv2.imwrite(str(path), photo_like_image(rng), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(str(path))
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=2200)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from kernels import machine_info, machine_line

    from mmfuse.encoding import DescriptorPCA, FisherVector, SpatialPyramid
    from mmfuse.image import SIFTExtractor

    machine = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        paths = write_images(Path(tmp), args.n_images)
        generate_s = time.perf_counter() - start
        start = time.perf_counter()
        descriptors = SIFTExtractor(rootsift=True, n_jobs=-1).fit_transform(paths)
        extract_s = time.perf_counter() - start
    n_descriptors = int(descriptors.offsets[-1])
    print(f"extraction: {n_descriptors:,} descriptors in {extract_s:.1f} s", flush=True)

    pca = DescriptorPCA(64, random_state=0)
    pyramid = SpatialPyramid(FisherVector(64, random_state=0), levels=(1, 2))
    start = time.perf_counter()
    pca.fit(descriptors)
    pca_fit_s = time.perf_counter() - start
    start = time.perf_counter()
    reduced = pca.transform(descriptors)
    pca_transform_s = time.perf_counter() - start
    start = time.perf_counter()
    pyramid.fit(reduced)
    pyramid_fit_s = time.perf_counter() - start
    start = time.perf_counter()
    codes = pyramid.transform(reduced)
    pyramid_transform_s = time.perf_counter() - start
    fit_s, transform_s = pca_fit_s + pyramid_fit_s, pca_transform_s + pyramid_transform_s
    ratio = (fit_s + transform_s) / extract_s
    result = {
        "machine": machine, "loadavg_after": list(os.getloadavg()),
        "n_images": args.n_images, "image_size": [WIDTH, HEIGHT],
        "n_descriptors": n_descriptors, "code_shape": list(codes.shape),
        "n_flat_descriptors": int(pyramid.encoder_.n_flat_descriptors_),
        "generate_s": generate_s, "extract_s": extract_s,
        "pca_fit_s": pca_fit_s, "pca_transform_s": pca_transform_s,
        "pyramid_fit_s": pyramid_fit_s, "pyramid_transform_s": pyramid_transform_s,
        "fit_plus_transform_over_extraction": ratio,
        "issue_reference": {"extract_s": 34, "fit_plus_transform_s": 159},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "photo_workload.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Issue 17's photo workload: SIFT extraction against encoding", "",
        f"{args.n_images:,} generated photo-like JPEGs of {WIDTH} x {HEIGHT} (gradients, "
        "shapes, texture, noise, letterbox bars on a fifth): "
        f"{n_descriptors:,} dense RootSIFT descriptors "
        f"({result['n_flat_descriptors']:,} of them flat: left out of the codebook and the codes). "
        "Pipeline: `SIFTExtractor(rootsift=True, n_jobs=-1)` -> `DescriptorPCA(64)` -> "
        "`SpatialPyramid(FisherVector(64), levels=(1, 2))` "
        f"({codes.shape[1]:,} values per image). One run.", "",
        "| step | seconds |", "|---|---:|",
        f"| SIFT extraction (read + decode + dense RootSIFT, 2 cores) | {extract_s:.1f} |",
        f"| fit: DescriptorPCA(64) | {pca_fit_s:.1f} |",
        f"| fit: FisherVector(64) codebook (GMM on a bounded sample) | {pyramid_fit_s:.1f} |",
        f"| transform: PCA projection | {pca_transform_s:.1f} |",
        f"| transform: SpatialPyramid(FisherVector(64), levels=(1, 2)) | "
        f"{pyramid_transform_s:.1f} |",
        f"| **fit + transform** | **{fit_s + transform_s:.1f}** |", "",
        f"Fit + transform = **{ratio:.2f}x** the extraction (target: at most 1.5x). The "
        "issue's measurement on about 2,200 real photos (4.1 M descriptors) was 159 s of "
        "fit + transform against 34 s of extraction (4.7x).", "",
        f"Load average after: {', '.join(f'{x:.2f}' for x in result['loadavg_after'])}.", "",
        machine_line(machine)]
    (args.out / "photo_workload.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
