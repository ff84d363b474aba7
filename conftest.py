"""Collection rules for the doctest run over ``src/mmfuse``: the deep baselines
(:mod:`mmfuse.bench.baselines`) import PyTorch at module level, so their modules
are only collected where the ``deep`` extra is installed."""

import importlib.util

collect_ignore_glob = ([] if importlib.util.find_spec("torch") is not None
                       else ["src/mmfuse/bench/baselines/*"])
