"""``python -m mmfuse.bench``: the benchmark suites (same as ``mmfuse bench``)."""

import sys

from mmfuse.bench import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m mmfuse.bench"))
