"""``python -m benchmarks`` in a source checkout: the suites of :mod:`mmfuse.bench`
(the same as ``mmfuse bench``), results in ``benchmarks/results`` by default."""

import sys

from mmfuse.bench import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m benchmarks"))
