"""``mmfuse bench`` from a built wheel installed outside the repository, and the
extras each resolving on their own (issue 18, parts 1 and 4).

Builds mmfuse's wheel once, then:

- installs it (``--no-deps``) into a fresh virtual environment in a temporary
  folder, gives that environment this environment's third-party packages (a
  ``.pth`` line: no download needed), and runs the console script
  ``mmfuse bench --suite classification --tiny`` from a folder that is not a
  checkout: it must print the suite's table, import mmfuse from the fresh
  environment (not from ``src/``), and write nothing unless asked;
- where a package index is reachable: ``pip install <wheel>[bench]`` into
  another fresh environment, with every dependency from the index, and the
  same command there; and a dry-run resolution of the core and of each extra
  on its own (the core must not pull PyTorch, faiss, CuPy, Dask or
  matplotlib). Without an index these skip, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(cmd, **kw):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                            timeout=600, **kw)
    assert result.returncode == 0, (f"{cmd} failed ({result.returncode}):\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


EXTRAS = ("gpu", "dask", "deep", "bench", "audio", "zh")
NOT_IN_CORE = {"torch", "faiss-cpu", "cupy-cuda12x", "dask", "distributed", "matplotlib",
               "jieba", "noisereduce"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp, REPO])
    return next(tmp.glob("mmfuse-*.whl"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheel):
    tmp = tmp_path_factory.mktemp("wheel")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
          wheel])
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                .stdout.strip())
    # this environment's third-party packages, after the fresh site-packages (the
    # editable install's own .pth hooks there are not processed: not a site dir)
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    workdir = tmp / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MMFUSE_DATA")}
    return {"venv": venv, "python": python, "workdir": workdir, "env": env}


def test_wheel_ships_the_bench_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("mmfuse/bench/__init__.py", "mmfuse/bench/suites.py",
                   "mmfuse/bench/harness.py", "mmfuse/bench/kernels.py",
                   "mmfuse/bench/datasets.py", "mmfuse/bench/baselines/__init__.py"):
        assert module in names
    assert not any(n.startswith(("benchmarks/", "tests/")) for n in names)


def test_installed_mmfuse_bench_prints_a_table(installed):
    where = _run([installed["python"], "-c", "import mmfuse; print(mmfuse.__file__)"],
                 cwd=installed["workdir"], env=installed["env"]).stdout.strip()
    assert Path(where).resolve().is_relative_to(installed["venv"].resolve())
    result = _run([installed["venv"] / "bin" / "mmfuse", "bench", "--suite", "classification",
                   "--tiny", "--seeds", "0", "--no-plots"],
                  cwd=installed["workdir"], env=installed["env"])
    out = result.stdout
    assert "## classification: shapes" in out
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) >= 5, out[-2000:]
    assert any("early" in line.lower() for line in table)
    assert list(installed["workdir"].iterdir()) == []  # tiny runs write nothing


def _resolve(venv_python: Path, requirement: str) -> subprocess.CompletedProcess:
    """``pip install --dry-run`` of ``requirement`` into the environment of ``venv_python``."""
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(venv_python), "install",
                           "--dry-run", "--quiet", "--report", "-", requirement],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def empty_venv(tmp_path_factory):
    """A fresh environment without packages; skips when no package index answers."""
    venv = tmp_path_factory.mktemp("empty") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    probe = _resolve(python, "numpy")
    if probe.returncode != 0:
        pytest.skip(f"no package index reachable for a fresh install: "
                    f"{probe.stderr.strip().splitlines()[-1:]}")
    return python


def _names(report: str) -> set[str]:
    return {item["metadata"]["name"].lower() for item in json.loads(report)["install"]}


def test_core_and_each_extra_resolve_on_their_own(empty_venv, wheel):
    core = _resolve(empty_venv, str(wheel))
    assert core.returncode == 0, core.stderr[-3000:]
    core_names = _names(core.stdout)
    assert {"numpy", "scikit-learn", "opencv-contrib-python-headless", "pgmpy",
            "hmmlearn", "nltk"} <= core_names
    assert not core_names & NOT_IN_CORE, sorted(core_names & NOT_IN_CORE)
    expected = {"gpu": "cupy-cuda12x", "dask": "dask", "deep": "torch", "bench": "faiss-cpu",
                "audio": "noisereduce", "zh": "jieba"}
    for extra in EXTRAS:
        result = _resolve(empty_venv, f"{wheel}[{extra}]")
        assert result.returncode == 0, f"[{extra}]: {result.stderr[-3000:]}"
        assert expected[extra] in _names(result.stdout) - core_names, extra


def test_fresh_install_with_bench_extra_runs_the_suite(empty_venv, wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    try:
        _run([python, "-m", "pip", "install", "--quiet", f"{wheel}[bench]"])
        workdir = tmp_path / "elsewhere"
        workdir.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MMFUSE_DATA")}
        _run([python, "-c", "import faiss, matplotlib, mmfuse.bench"], cwd=workdir, env=env)
        out = _run([venv / "bin" / "mmfuse", "bench", "--suite", "classification", "--tiny",
                    "--seeds", "0", "--no-plots"], cwd=workdir, env=env).stdout
        assert "## classification: shapes" in out
        assert sum(line.startswith("|") for line in out.splitlines()) >= 5
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # about 1 GB
