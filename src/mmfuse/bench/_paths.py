"""Where the benchmark suites write their results by default."""

from __future__ import annotations

from pathlib import Path


def default_results_dir() -> Path:
    """``benchmarks/results`` of the source checkout mmfuse is imported from, if any;
    otherwise ``mmfuse_bench_results`` in the current folder (an installed mmfuse)."""
    checkout = Path(__file__).resolve().parents[3] / "benchmarks" / "results"
    if checkout.is_dir() and (checkout.parent.parent / "pyproject.toml").is_file():
        return checkout
    return Path.cwd() / "mmfuse_bench_results"
