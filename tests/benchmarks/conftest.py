"""The benchmark scripts are not a package: they import each other from their folder."""

import sys
from pathlib import Path

BENCH_DIR = str(Path(__file__).resolve().parents[2] / "benchmarks")
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)
