"""The benchmark harness: every suite runs end to end on tiny generated data.

These tests keep ``python -m benchmarks`` / ``mmfuse bench`` from rotting:
each suite runs on a few dozen generated samples (seconds), writes its JSON,
Markdown and plots, and its numbers are checked against independent
computations (NumPy, sklearn). Deep rows appear exactly when torch is
installed; the deep baselines themselves are tested in test_baselines.py.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from mmfuse.bench import harness, run_suite
from mmfuse.bench import main as bench_main
from mmfuse.bench.suites import SUITES, SuiteConfig, build_task, deep_available, task_names

HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Every suite once, tiny, two seeds: {suite: (result, out_dir)}."""
    out = tmp_path_factory.mktemp("bench")
    config = SuiteConfig(tiny=True)
    runs = {}
    for suite in ("classification", "retrieval", "sequence"):
        runs[suite] = run_suite(suite, config, seeds=[0, 1], out=out, verbose=False)
    return runs, out


def test_classification_suite_has_every_family(tiny_runs):
    runs, out = tiny_runs
    summary = runs["classification"]["summary"]
    assert set(summary["task"]) == {"shapes"}
    names = set(summary["model"])
    assert {"only image", "only text", "only audio", "early", "late mean",
            "kernel (alignment)", "Bayes net, naive"} <= names
    families = set(summary["family"])
    assert {"single modality", "fusion", "probabilistic"} <= families
    assert ("deep" in families) == (HAS_TORCH and deep_available() is None)
    assert summary["error"].isna().all(), summary.loc[summary["error"].notna(), "error"]
    assert (summary["seeds"] == 2).all()
    # Six balanced classes: every model's accuracy and macro-F1 are probabilities.
    for col in ("accuracy_mean", "macro_f1_mean"):
        assert summary[col].between(0, 1).all()
    # Fusion models were also scored with each modality absent.
    early = summary.set_index("model").loc["early"]
    for m in ("image", "text", "audio"):
        assert 0 <= early[f"missing {m}_mean"] <= 1


def test_records_match_independent_summary(tiny_runs):
    runs, _ = tiny_runs
    records = pd.DataFrame(runs["classification"]["records"])
    summary = runs["classification"]["summary"].set_index("model")
    for model, group in records.groupby("model"):
        acc = group["accuracy"].to_numpy()
        assert summary.loc[model, "accuracy_mean"] == pytest.approx(acc.mean())
        assert summary.loc[model, "accuracy_std"] == pytest.approx(acc.std())
        assert summary.loc[model, "fit_s_mean"] == pytest.approx(group["fit_s"].mean())
        assert (group["fit_s"] > 0).all() and (group["predict_ms_per_sample"] > 0).all()
    # Every model of a seed sees the same split.
    assert records.groupby("seed")[["n_train", "n_test"]].nunique().eq(1).all().all()


def test_results_files_written(tiny_runs):
    runs, out = tiny_runs
    for suite in ("classification", "retrieval", "sequence"):
        payload = json.loads((out / f"bench_{suite}_tiny.json").read_text())
        assert payload["suite"] == suite
        assert payload["machine"]["cores"] >= 1 and payload["machine"]["versions"]["numpy"]
        assert len(payload["records"]) == 2 * len(payload["summary"])
        text = (out / f"bench_{suite}_tiny.md").read_text()
        for row in payload["summary"]:
            assert f"| {row['model']} |" in text
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "bench_classification_tiny_shapes_tradeoff.png" in pngs
    assert "bench_classification_tiny_shapes_per_class.png" in pngs


def test_retrieval_map_matches_sklearn(tiny_runs):
    """The suite's MAP equals sklearn's average precision computed query by query."""
    from mmfuse.crossmodal import CCA

    config = SuiteConfig(tiny=True)
    task = build_task("retrieval", "shapes", config)
    train, test = task.split(0)
    features = task.featurize(train, test)
    (X_tr, Y_tr), (X_te, Y_te) = features.train, features.test
    model = CCA(n_components=3, reg_x=0.1, reg_y=0.1).fit(X_tr, Y_tr)
    scores = harness.retrieval_scores(model, X_te, Y_te, task.y[test])
    E, F = model.transform_x(X_te), model.transform_y(Y_te)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    y = task.y[test]
    i2t = np.mean([average_precision_score(y == y[q], E[q] @ F.T) for q in range(len(y))])
    t2i = np.mean([average_precision_score(y == y[q], F[q] @ E.T) for q in range(len(y))])
    assert scores["map_i2t"] == pytest.approx(i2t, abs=1e-9)
    assert scores["map_t2i"] == pytest.approx(t2i, abs=1e-9)

    summary = tiny_runs[0]["retrieval"]["summary"]
    assert {"CCA", "kernel CCA", "semantic matching (SM)"} <= set(summary["model"])
    assert summary["map_i2t_mean"].between(0, 1).all()


def test_sequence_suite_models(tiny_runs):
    summary = tiny_runs[0]["sequence"]["summary"]
    assert set(summary["task"]) == {"shapes_audio"}
    assert {"HMM (Gaussian, left-right)", "Fisher vector + logistic",
            "MFCC summary + SVM"} <= set(summary["model"])
    assert summary["error"].isna().all()


def test_split_is_stratified_and_subsampled():
    from mmfuse.bench.suites import official_split, shuffle_split

    y = np.repeat(np.arange(4), 25)
    train, test = shuffle_split(y, fraction=0.5)(3)
    assert np.intersect1d(train, test).size == 0 and test.size == 25
    assert np.ptp(np.bincount(y[test])) <= 1  # stratified: 6 or 7 per class
    assert train.size == 37 and np.ptp(np.bincount(y[train])) <= 1
    again, _ = shuffle_split(y, fraction=0.5)(3)
    other, _ = shuffle_split(y, fraction=0.5)(4)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    is_test = np.arange(100) % 5 == 0
    tr0, te0 = official_split(is_test, y)(0)
    tr1, te1 = official_split(is_test, y)(1)
    assert np.array_equal(te0, np.flatnonzero(is_test)) and np.array_equal(tr0, tr1)


def test_absent_data_is_skipped_with_a_line(tmp_path, capsys):
    config = SuiteConfig(data_dir=str(tmp_path), tasks=["av_digits"])
    result = run_suite("classification", config, seeds=[0], out=tmp_path, verbose=False)
    assert result["records"] == [] and len(result["skipped"]) == 1
    out = capsys.readouterr().out
    assert "av_digits: skipped, its data is absent" in out
    assert not list(tmp_path.glob("bench_*"))  # nothing ran, nothing written


def test_command_line(tmp_path, capsys):
    assert bench_main(["--suite", "classification", "--tasks", "nope"]) == 2
    assert bench_main(["--suite", "classification", "--train-fraction", "0"]) == 2
    status = bench_main(["--suite", "kernels", "--tiny", "--quiet"])
    out = capsys.readouterr().out
    if importlib.util.find_spec("faiss") is None:
        assert status == 0 and "[kernels] skipped" in out
    else:
        assert status == 0 and "assign_nearest" in out and "faiss" in out
    # mmfuse bench is the same runner.
    from mmfuse.cli import main as mmfuse_main

    code = mmfuse_main(["bench", "--suite", "sequence", "--tiny", "--no-deep", "--seeds", "0",
                        "--no-plots", "--quiet", "--out", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "bench_sequence_tiny.json").is_file()


def test_task_registry():
    config = SuiteConfig(tiny=True)
    for suite, spec in SUITES.items():
        assert set(task_names(suite, config)) <= set(spec["tasks"])
    with pytest.raises(ValueError, match="has no task"):
        task_names("classification", SuiteConfig(tasks=["nope"]))


def test_failing_model_is_recorded_not_fatal():
    config = SuiteConfig(tiny=True)
    task = build_task("classification", "shapes", config)

    class Broken:
        def fit(self, X, y):
            raise RuntimeError("boom")

    models = {"broken": harness.ModelSpec("broken", "test", lambda info, seed: Broken()),
              "only text": SUITES["classification"]["models"](task, SuiteConfig(
                  tiny=True, deep=False))["only text"]}
    with pytest.warns(RuntimeWarning, match="broken"):
        records = harness.run_task(task, models, [0], verbose=False)
    assert records[0]["error"] == "RuntimeError: boom"
    assert 0 <= records[1]["accuracy"] <= 1
    summary = harness.summarize(records)
    assert "failed: RuntimeError: boom" in harness.task_table(summary, task)


def test_peak_memory_sees_an_allocation():
    pytest.importorskip("psutil")

    def allocate():
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        return float(block.sum())

    _, seconds, peak = harness.timed(allocate)
    assert seconds > 0 and 40 <= peak <= 200


def test_rerunning_one_task_keeps_the_others(tmp_path):
    """``--tasks`` re-runs replace that task's rows in the suite's file and keep the rest."""
    args = ["--suite", "retrieval", "--tiny", "--no-deep", "--no-plots", "--quiet",
            "--out", str(tmp_path), "--seeds", "0"]
    assert bench_main(args) == 0
    path = tmp_path / "bench_retrieval_tiny.json"
    first = json.loads(path.read_text())
    fake = {**first, "tasks": [{**first["tasks"][0], "name": "other"}],
            "records": [{**r, "task": "other"} for r in first["records"]]}
    path.write_text(json.dumps(fake))
    assert bench_main([*args[:2], "--tasks", "shapes", *args[2:-1], "1"]) == 0
    merged = json.loads(path.read_text())
    assert [t["name"] for t in merged["tasks"]] == ["other", "shapes"]
    seeds = {(r["task"], r["seed"]) for r in merged["records"]}
    assert seeds == {("other", 0), ("shapes", 1)}
    text = (tmp_path / "bench_retrieval_tiny.md").read_text()
    assert "## other (retrieval)" in text and "## shapes (retrieval)" in text
