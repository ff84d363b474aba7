"""``mmfuse bench`` from a built wheel installed outside the repository (issue 18).

Builds mmfuse's wheel, installs it (``--no-deps``) into a fresh virtual
environment in a temporary folder, gives that environment this environment's
third-party packages (a ``.pth`` line, so no download is needed), and runs the
console script ``mmfuse bench --suite classification --tiny`` from a folder
that is not a checkout. It must print the suite's table, import mmfuse from
the fresh environment (not from ``src/``), and write nothing unless asked.
"""

from __future__ import annotations

import os
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


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp / "dist",
          REPO])
    wheel = next((tmp / "dist").glob("mmfuse-*.whl"))
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
    return {"wheel": wheel, "venv": venv, "python": python, "workdir": workdir, "env": env}


def test_wheel_ships_the_bench_package(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
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
