"""The same estimators on a 2-worker Dask LocalCluster (processes, loopback): results
identical to the local run, work batched, a killed worker or a failing file loses nothing."""

from __future__ import annotations

import math

import cloudpickle
import joblib
import numpy as np
import parallel_helpers
import pytest
from parallel_helpers import (
    Recorder,
    assert_descriptor_sets_equal,
    calls,
    working_memory_column,
)
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import mmfuse
from mmfuse.audio import MFCCExtractor
from mmfuse.encoding import BagOfWords
from mmfuse.image import SIFTExtractor
from mmfuse.parallel import Manifest, extract_to_shards, load_shards, read_shard
from mmfuse.utils.estimator_checks import assert_same_output

distributed = pytest.importorskip("distributed")

# Workers get the helper classes by value: they need not import the test folder.
cloudpickle.register_pickle_by_value(parallel_helpers)

SIFT = SIFTExtractor(mode="sparse", n_features=60, batch_size=5)


def _tasks_by_worker(stream) -> dict:
    counts = {}
    for task in stream.data:
        counts[task["worker"]] = counts.get(task["worker"], 0) + 1
    return counts


def test_sift_on_the_cluster_equals_local(dask_client, image_files, time_limit):
    sift = clone(SIFT).fit([])
    local = sift.transform(image_files)
    with distributed.get_task_stream(dask_client) as stream, \
            joblib.parallel_config(backend="dask"):
        remote = sift.transform(image_files)
    assert_descriptor_sets_equal(remote, local)
    by_worker = _tasks_by_worker(stream)
    # the work ran on the cluster's workers, in chunks of files (24 files, 5 per batch)
    assert set(by_worker) <= set(dask_client.scheduler_info()["workers"])
    assert 1 <= sum(by_worker.values()) <= math.ceil(len(image_files) / SIFT.batch_size)


def test_mfcc_on_the_cluster_equals_local(dask_client, time_limit):
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000
    clips = [np.sin(2 * np.pi * f * t) + 0.01 * rng.normal(size=t.size)
             for f in rng.uniform(200, 1500, size=12)] + [None]
    mfcc = MFCCExtractor(sr=8000, batch_size=4).fit(clips)
    local = mfcc.transform(clips)
    with distributed.get_task_stream(dask_client) as stream, \
            joblib.parallel_config(backend="dask"):
        remote = mfcc.transform(clips)
    assert_same_output(remote, local, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(remote.offsets, local.offsets)
    assert 1 <= len(stream.data) <= math.ceil(len(clips) / 4)


def test_encoding_shards_on_the_cluster_equal_local(dask_client, image_files, tmp_path,
                                                    time_limit):
    pipeline = make_pipeline(clone(SIFT), BagOfWords(n_words=6, random_state=0))
    pipeline.fit(image_files)
    with distributed.get_task_stream(dask_client) as stream, \
            joblib.parallel_config(backend="dask"):
        manifest = extract_to_shards(image_files, pipeline, tmp_path, shard_size=5)
    assert manifest.complete
    assert len(stream.data) == manifest.n_shards  # one task per shard of 5 files
    assert set(_tasks_by_worker(stream)) <= set(dask_client.scheduler_info()["workers"])
    assert_same_output(load_shards(tmp_path), pipeline.transform(image_files),
                       rtol=1e-6, atol=1e-7)


def test_mmfuse_config_reaches_the_cluster(dask_client, tmp_path, time_limit):
    reader = FunctionTransformer(working_memory_column).fit([[0]])
    with mmfuse.config_context(working_memory=77), joblib.parallel_config(backend="dask"):
        extract_to_shards(list(range(6)), reader, tmp_path, shard_size=2)
    assert load_shards(tmp_path).ravel().tolist() == [77.0] * 6


def test_killed_worker_loses_no_finished_shard(dask_client, image_files, tmp_path,
                                               time_limit):
    out, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    dying = Recorder(clone(SIFT), log_dir=str(logs), fail_on=image_files[13],
                     fail_with="exit").fit([])
    with joblib.parallel_config(backend="dask"):
        manifest = extract_to_shards(image_files, dying, out, shard_size=4)
    # the worker running shard 3 exited once; Dask ran the shard again elsewhere
    assert (logs / "died_once").exists()
    attempts = [image_files.index(f) // 4 for f in calls(logs)]
    assert attempts.count(3) == 2
    assert manifest.complete and Manifest.read(out).complete
    assert_descriptor_sets_equal(load_shards(out), clone(SIFT).fit([]).transform(image_files))
    dask_client.wait_for_workers(2, timeout=90)


def test_failing_shard_on_the_cluster_keeps_the_finished_ones(dask_client, image_files,
                                                              tmp_path, time_limit):
    out, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    (logs / "fault").touch()
    failing = Recorder(clone(SIFT), log_dir=str(logs), fail_on=image_files[21]).fit([])
    with joblib.parallel_config(backend="dask"), \
            pytest.raises(RuntimeError, match="injected failure"):
        extract_to_shards(image_files, failing, out, shard_size=3)
    kept = Manifest.read(out)
    assert 7 not in kept.shards
    reference = clone(SIFT).fit([]).transform(image_files)
    for index in kept.shards:
        start, stop = kept.bounds(index)
        assert_descriptor_sets_equal(read_shard(kept.path(index), kept.kind),
                                     reference.take(np.arange(start, stop)))
    finished = set(kept.shards)
    (logs / "fault").unlink()
    before = len(calls(logs))
    with joblib.parallel_config(backend="dask"):
        manifest = extract_to_shards(image_files, failing, out, shard_size=3)
    rerun = {image_files.index(f) // 3 for f in calls(logs)[before:]}
    assert rerun == set(range(8)) - finished
    assert_descriptor_sets_equal(load_shards(out), reference)
    assert manifest.complete
