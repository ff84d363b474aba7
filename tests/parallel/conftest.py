"""Fixtures for the scale-out tests: image files on disk, a loopback Dask cluster, a time bound."""

from __future__ import annotations

import signal
import threading

import cv2
import numpy as np
import pytest

from mmfuse.datasets import make_shapes

#: Upper bound in seconds on a test that talks to the cluster (the CI box has
#: 2 shared cores; a healthy run takes a few seconds).
CLUSTER_TEST_SECONDS = 120


@pytest.fixture(scope="session")
def image_files(tmp_path_factory):
    """24 PNG files of generated scenes, as absolute path strings."""
    folder = tmp_path_factory.mktemp("images")
    frame = make_shapes(n_samples=24, image_size=64, random_state=0).frame
    paths = []
    for i, image in enumerate(frame["image"]):
        path = folder / f"scene_{i:02d}.png"
        assert cv2.imwrite(str(path), np.ascontiguousarray(image[:, :, ::-1]))
        paths.append(str(path))
    return paths


@pytest.fixture(scope="session")
def corrupt_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corrupt") / "corrupt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    return str(path)


@pytest.fixture
def time_limit():
    """Fail a test that runs longer than CLUSTER_TEST_SECONDS instead of hanging CI."""
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"test exceeded {CLUSTER_TEST_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(CLUSTER_TEST_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def dask_client():
    """A 2-worker process LocalCluster on 127.0.0.1 (no dashboard), closed after the module."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, worker_dashboard_address=None, timeout=90,
        silence_logs=40)
    client = distributed.Client(cluster, timeout=90)
    try:
        client.wait_for_workers(2, timeout=90)
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)
