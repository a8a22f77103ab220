"""Wall time of the main sweep (`make sweep`): 2 workers with tracking on and off, and 1 worker.

Each variant runs `experiments/train.py -m` (the `vanishing` sweep, 48 runs) into a fresh
MLflow store in a temporary folder; pairs with tracking on and off are interleaved and
repeated. Prints each wall time, the tracking overhead per pair and the 2-over-1 speed-up.
Takes about 10 minutes on 2 cores: a benchmark, not a test.

Run: make bench-sweep   (or .venv/bin/python benchmarks/bench_sweep.py [--pairs N] [overrides])
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAIN = Path(__file__).resolve().parents[1] / "experiments" / "train.py"


def sweep_seconds(*overrides: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            str(TRAIN),
            "-m",
            f"tracking.uri=sqlite:///{tmp}/mlflow.db",
            f"tracking.artifact_root={tmp}/art",
            f"hydra.sweep.dir={tmp}/multirun",
            *overrides,
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2, help="tracking on/off pairs")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    on, off = [], []
    for i in range(args.pairs):
        on.append(sweep_seconds(*args.overrides))
        off.append(sweep_seconds("tracking.enabled=false", *args.overrides))
        print(
            f"pair {i + 1}: tracking on {on[-1]:.1f} s, off {off[-1]:.1f} s, "
            f"overhead {on[-1] / off[-1] - 1:+.1%}",
            flush=True,
        )
    one = sweep_seconds("hydra.launcher.n_jobs=1", *args.overrides)
    print(
        f"1 worker, tracking on: {one:.1f} s; "
        f"2 workers are {one / statistics.median(on):.2f}x faster (median of {len(on)})"
    )


if __name__ == "__main__":
    main()
