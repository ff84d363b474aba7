"""Benchmark suites: mmfuse's classical and probabilistic models side by side with
deep baselines, on the same splits and seeds, from an installed package.

``mmfuse bench --suite classification --data-dir DIR`` (or ``python -m
mmfuse.bench``) runs a suite on every dataset found under ``DIR``
(``mmfuse datasets`` lists what each suite needs) and writes its tables,
records and plots. Suites: ``classification``, ``retrieval``, ``sequence``
(the deep baselines need the ``deep`` extra, PyTorch) and ``kernels`` (speed
against faiss-cpu, the ``bench`` extra). ``--tiny`` runs every suite on a few
dozen generated samples in seconds.

Modules: :mod:`mmfuse.bench.suites` (tasks and models per suite),
:mod:`mmfuse.bench.harness` (timing, memory, scoring, tables, plots),
:mod:`mmfuse.bench.datasets` (the fusion datasets with per-fold features),
:mod:`mmfuse.bench.kernels` (the speed suite) and
:mod:`mmfuse.bench.baselines` (PyTorch baselines, imported only when used).

Examples
--------
>>> from mmfuse.bench import SUITE_NAMES, main
>>> SUITE_NAMES
('classification', 'retrieval', 'sequence', 'kernels')
"""

from mmfuse.bench._paths import default_results_dir
from mmfuse.bench._runner import SUITE_NAMES, build_parser, main, run_suite

__all__ = ["SUITE_NAMES", "build_parser", "default_results_dir", "main", "run_suite"]
