"""extract_to_shards on local processes: shards read back equal transform(files), resume,
failures (corrupt files, raising and dying workers) lose nothing finished."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from joblib.externals.loky.process_executor import TerminatedWorkerError
from parallel_helpers import (
    Recorder,
    assert_descriptor_sets_equal,
    calls,
    working_memory_column,
)
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import mmfuse
from mmfuse.datasets import make_shapes
from mmfuse.encoding import BagOfWords
from mmfuse.exceptions import MediaError
from mmfuse.image import SIFTExtractor
from mmfuse.parallel import (
    Manifest,
    concatenate_descriptor_sets,
    extract_to_shards,
    iter_shards,
    load_shards,
    to_dask_array,
    to_dask_bag,
)
from mmfuse.text import TextVectorizer
from mmfuse.utils.estimator_checks import assert_same_output

SIFT = SIFTExtractor(mode="dense", step=12, patch_size=16)


# -- round trips ---------------------------------------------------------------------------
def test_descriptor_shards_equal_transform(image_files, tmp_path):
    sift = clone(SIFT).fit([])
    manifest = extract_to_shards(image_files, sift, tmp_path, shard_size=5)
    reference = sift.transform(image_files)
    assert manifest.complete and manifest.n_shards == 5 and manifest.kind == "descriptors"
    assert [manifest.bounds(i) for i in range(5)] == [(0, 5), (5, 10), (10, 15), (15, 20),
                                                      (20, 24)]
    assert_descriptor_sets_equal(load_shards(tmp_path), reference)
    # streamed, and as Dask collections
    streamed = list(iter_shards(tmp_path))
    assert [(a, b) for a, b, _ in streamed] == [manifest.bounds(i) for i in range(5)]
    assert_descriptor_sets_equal(concatenate_descriptor_sets([d for _, _, d in streamed]),
                                 reference)
    np.testing.assert_array_equal(to_dask_array(tmp_path).compute(), reference.values)
    items = to_dask_bag(tmp_path).compute()
    assert len(items) == len(image_files)
    for i, item in enumerate(items):
        np.testing.assert_array_equal(item, reference[i])
    # no temporary files left behind; the manifest on disk is the one returned
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"] + [
        f"shard-{i:06d}.npz" for i in range(5)]
    assert Manifest.read(tmp_path).to_dict() == manifest.to_dict()


def test_encoded_and_sparse_shards_equal_transform(image_files, tmp_path):
    descriptors = clone(SIFT).fit([]).transform(image_files)
    pipeline = make_pipeline(clone(SIFT), BagOfWords(n_words=8, random_state=0))
    pipeline.fit(image_files)
    extract_to_shards(image_files, pipeline, tmp_path / "codes", shard_size=7)
    codes = load_shards(tmp_path / "codes")
    assert codes.shape == (24, 8)
    np.testing.assert_array_equal(codes, pipeline.transform(image_files))
    np.testing.assert_array_equal(to_dask_array(tmp_path / "codes").compute(), codes)
    np.testing.assert_array_equal(np.stack(to_dask_bag(tmp_path / "codes").compute()), codes)
    assert descriptors.n_samples == 24

    texts = list(make_shapes(n_samples=13, random_state=1).frame["text"]) + [None]
    vectorizer = TextVectorizer().fit(texts)
    extract_to_shards(texts, vectorizer, tmp_path / "text", shard_size=4)
    loaded = load_shards(tmp_path / "text")
    assert sp.issparse(loaded) and Manifest.read(tmp_path / "text").kind == "sparse"
    assert_same_output(loaded, vectorizer.transform(texts), rtol=0, atol=0)


def test_a_dask_bag_of_paths_is_accepted(image_files, tmp_path):
    dask_bag = pytest.importorskip("dask.bag")
    import dask

    sift = clone(SIFT).fit([])
    with dask.config.set(scheduler="sync"):
        manifest = extract_to_shards(dask_bag.from_sequence(image_files[:7], npartitions=3),
                                     sift, tmp_path, shard_size=3)
    assert manifest.n_files == 7
    assert_descriptor_sets_equal(load_shards(tmp_path), sift.transform(image_files[:7]))


def test_n_jobs_does_not_change_shards(image_files, tmp_path):
    sift = clone(SIFT).fit([])
    extract_to_shards(image_files, sift, tmp_path / "serial", shard_size=6)
    extract_to_shards(image_files, sift, tmp_path / "pool", shard_size=6, n_jobs=2)
    assert_descriptor_sets_equal(load_shards(tmp_path / "pool"), load_shards(tmp_path / "serial"))


def test_mmfuse_config_reaches_the_workers(tmp_path):
    reader = FunctionTransformer(working_memory_column).fit([[0]])
    assert mmfuse.get_config()["working_memory"] != 77
    with mmfuse.config_context(working_memory=77):
        extract_to_shards(list(range(6)), reader, tmp_path, shard_size=2, n_jobs=2)
    assert load_shards(tmp_path).ravel().tolist() == [77.0] * 6


# -- resuming ------------------------------------------------------------------------------
def test_resume_skips_finished_shards_and_recomputes_deleted_ones(image_files, tmp_path):
    out, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    recorder = Recorder(clone(SIFT), log_dir=str(logs)).fit([])
    extract_to_shards(image_files, recorder, out, shard_size=8)
    assert sorted(calls(logs)) == sorted(image_files[i] for i in (0, 8, 16))
    # a finished directory: nothing to do, even with other run-only parameters
    recorder.set_params(inner__n_jobs=2, inner__verbose=0, inner__batch_size=3)
    extract_to_shards(image_files, recorder, out, shard_size=8)
    assert len(calls(logs)) == 3
    # a lost shard file is computed again, and only that one
    (out / "shard-000001.npz").unlink()
    manifest = extract_to_shards(image_files, recorder, out, shard_size=8)
    assert calls(logs)[3:] == [image_files[8]]
    assert manifest.complete
    assert_descriptor_sets_equal(load_shards(out), clone(SIFT).fit([]).transform(image_files))


def test_resume_refuses_another_run(image_files, tmp_path):
    sift = clone(SIFT).fit([])
    extract_to_shards(image_files[:6], sift, tmp_path, shard_size=3)
    with pytest.raises(ValueError, match="file list differs"):
        extract_to_shards(image_files[1:7], sift, tmp_path, shard_size=3)
    with pytest.raises(ValueError, match="shard_size differs"):
        extract_to_shards(image_files[:6], sift, tmp_path, shard_size=2)
    other = clone(SIFT).set_params(step=10).fit([])
    with pytest.raises(ValueError, match="transformer differs"):
        extract_to_shards(image_files[:6], other, tmp_path, shard_size=3)
    # resume=False starts over with the new transformer
    extract_to_shards(image_files[:6], other, tmp_path, shard_size=3, resume=False)
    assert_descriptor_sets_equal(load_shards(tmp_path), other.transform(image_files[:6]))


# -- failures ------------------------------------------------------------------------------
def test_corrupt_file_is_reported_and_skipped(image_files, corrupt_file, tmp_path):
    files = image_files[:10]
    files[6] = corrupt_file
    sift = clone(SIFT).set_params(on_error="raise").fit([])
    with pytest.warns(UserWarning, match=r"1 unreadable file.*6 \(.*corrupt\.png\)"):
        manifest = extract_to_shards(files, sift, tmp_path, shard_size=4, on_error="skip")
    assert manifest.complete
    [error] = manifest.errors
    assert error["sample"] == 6 and error["source"] == corrupt_file
    assert error["modality"] == "image" and "decode" in error["reason"]
    # rows stay aligned: the corrupt file is described as a missing cell
    expected = sift.transform([None if i == 6 else f for i, f in enumerate(files)])
    assert_descriptor_sets_equal(load_shards(tmp_path), expected)
    assert Manifest.read(tmp_path).errors == manifest.errors


def test_corrupt_file_raises_with_its_path_and_finished_shards_are_kept(
        image_files, corrupt_file, tmp_path):
    files = list(image_files)
    files[13] = corrupt_file
    sift = clone(SIFT).set_params(on_error="empty").fit([])  # overridden by on_error="raise"
    with pytest.raises(MediaError) as info:
        extract_to_shards(files, sift, tmp_path, shard_size=4)
    assert info.value.sample == 13 and info.value.source == corrupt_file
    assert "image sample 13" in str(info.value) and "corrupt.png" in str(info.value)
    manifest = Manifest.read(tmp_path)
    assert sorted(manifest.shards) == [0, 1, 2]  # shards before the bad one, sequential run
    for index in manifest.shards:
        start, stop = manifest.bounds(index)
        assert_descriptor_sets_equal(load_shards(tmp_path, allow_incomplete=True).take(
            np.arange(start, stop)), sift.transform(files[start:stop]))
    with pytest.raises(ValueError, match="3 of 6 shards are finished"):
        load_shards(tmp_path)


def test_worker_error_keeps_finished_shards_and_resume_finishes(image_files, tmp_path):
    out, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    (logs / "fault").touch()
    failing = Recorder(clone(SIFT), log_dir=str(logs), fail_on=image_files[9]).fit([])
    with pytest.raises(RuntimeError, match="injected failure"):
        extract_to_shards(image_files, failing, out, shard_size=4)
    finished = set(Manifest.read(out).shards)
    assert finished == {0, 1}  # sequential: the shards before the failing one
    # the fault is gone: only the unfinished shards run again
    (logs / "fault").unlink()
    before = len(calls(logs))
    manifest = extract_to_shards(image_files, failing, out, shard_size=4)
    rerun = calls(logs)[before:]
    assert sorted(rerun) == sorted(image_files[4 * i] for i in range(6) if i not in finished)
    assert manifest.complete
    assert_descriptor_sets_equal(load_shards(out), clone(SIFT).fit([]).transform(image_files))


def test_dying_local_worker_loses_no_finished_shard(image_files, tmp_path, time_limit):
    out, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    dying = Recorder(clone(SIFT), log_dir=str(logs), fail_on=image_files[20],
                     fail_with="exit").fit([])
    try:
        extract_to_shards(image_files, dying, out, shard_size=4, n_jobs=2)
    except TerminatedWorkerError:
        pass  # the pool lost its worker; the run stopped
    else:  # pragma: no cover - loky cannot finish a shard whose process exited
        pytest.fail("a worker exited mid-shard but the run reported success")
    kept = Manifest.read(out)
    assert 5 not in kept.shards
    for index in kept.shards:
        np.testing.assert_array_equal(
            np.load(kept.path(index))["offsets"].size, kept.shards[index]["n_rows"] + 1)
    recorded_before = set(kept.shards)
    before = len(calls(logs))
    manifest = extract_to_shards(image_files, dying, out, shard_size=4, n_jobs=2)  # dies once
    assert manifest.complete
    rerun = {image_files.index(f) // 4 for f in calls(logs)[before:]}
    assert rerun.isdisjoint(recorded_before) and 5 in rerun
    assert_descriptor_sets_equal(load_shards(out), clone(SIFT).fit([]).transform(image_files))


# -- argument checks -----------------------------------------------------------------------
def test_bad_arguments(image_files, tmp_path):
    with pytest.raises(NotFittedError, match="fit SIFTExtractor first"):
        extract_to_shards(image_files, clone(SIFT), tmp_path)
    sift = clone(SIFT).fit([])
    with pytest.raises(ValueError, match="shard_size"):
        extract_to_shards(image_files, sift, tmp_path, shard_size=0)
    with pytest.raises(ValueError, match="on_error"):
        extract_to_shards(image_files, sift, tmp_path, on_error="empty")
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        load_shards(tmp_path / "nowhere")
    with pytest.raises(TypeError, match="sequence"):
        extract_to_shards("one.png", sift, tmp_path)


def test_manifest_records_shard_metadata(image_files, tmp_path):
    sift = clone(SIFT).fit([])
    extract_to_shards(image_files[:5], sift, tmp_path, shard_size=2)
    data = json.loads((tmp_path / "manifest.json").read_text())
    reference = sift.transform(image_files[:5])
    assert data["n_files"] == 5 and data["n_shards"] == 3 and data["n_features"] == 128
    assert [s["n_values"] for s in data["shards"]] == [
        int(reference.lengths[a:b].sum()) for a, b in ((0, 2), (2, 4), (4, 5))]
    assert "SIFTExtractor" in data["transformer"]
