"""The kernels benchmark (``mmfuse.bench.kernels``), runnable as a script from the
checkout: ``python benchmarks/kernels.py [--processes 3] [--device gpu]``.

The single-topic scripts of this folder import ``machine_info`` and
``machine_line`` from here.
"""

import sys

from mmfuse.bench.kernels import *  # noqa: F403
from mmfuse.bench.kernels import machine_info, machine_line, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
