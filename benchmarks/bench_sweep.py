"""Wall time of the main sweep (`make sweep`): 2 workers with tracking on and off, 1 worker,
and, in the same run, what this machine allows 2 workers to gain.

Each variant runs `experiments/train.py -m` (the `vanishing` sweep, 48 runs) into a fresh
MLflow store in a temporary folder; pairs with tracking on and off are interleaved and
repeated. Prints each wall time, the tracking overhead per pair and the 2-over-1 speed-up,
with the sweep's accounting: the jobs' own training time (each job's line says it), so that
what the launcher and the store add shows. The machine's ceiling: the configuration of the
sweep's longest jobs (T = 100, H = 128, tanh; 300 steps, tracking off) alone and as two copies at once, in
new processes, timing their training; 2 × alone / together is the most 2 workers can gain on
this machine for this work (2.0 where the cores are real and share nothing the job needs).
About 12 minutes on 2 cores with 2 pairs: a benchmark, not a test.

Run: make bench-sweep   (or .venv/bin/python benchmarks/bench_sweep.py [--pairs N] [overrides])
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAIN = Path(__file__).resolve().parents[1] / "experiments" / "train.py"
JOB_TIME = re.compile(r" after \d+ steps in ([0-9.]+) s")
LONGEST = ["task.T=100", "model.hidden_size=128", "model.activation=tanh", "train.steps=300",
           "train.early_stop=false", "tracking.enabled=false"]  # fmt: skip


def sweep(*overrides: str) -> tuple[float, list[float]]:
    """(wall seconds, each job's training seconds) of one sweep into a fresh store."""
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
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        return time.perf_counter() - start, trained(done.stdout)


def ceiling() -> tuple[float, float]:
    """(training seconds of the longest job alone, of two copies started together: the slower
    one's), as each job's line says them: process start-up is not part of it."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(TRAIN), *LONGEST]
        alone = trained(
            subprocess.run([*cmd, f"hydra.run.dir={tmp}/0"], check=True, capture_output=True,
                           text=True).stdout
        )[0]  # fmt: skip
        pair = [
            subprocess.Popen([*cmd, f"hydra.run.dir={tmp}/{i}"], stdout=subprocess.PIPE, text=True)
            for i in (1, 2)
        ]
        outs = [p.communicate()[0] for p in pair]
        if any(p.returncode for p in pair):
            sys.exit("the longest job failed")
        return alone, max(t for out in outs for t in trained(out))


def trained(stdout: str) -> list[float]:
    """The training time each job's line says."""
    found = [float(s) for s in JOB_TIME.findall(stdout)]
    if not found:
        sys.exit(f"no job said its training time:\n{stdout[-2000:]}")
    return found


def accounting(wall: float, jobs: list[float], workers: int) -> str:
    share = sum(jobs) / workers
    return (
        f"{wall:.1f} s; the jobs' training: {sum(jobs):.1f} s in all ({len(jobs)} jobs, longest "
        f"{max(jobs):.1f} s), {share:.1f} s per worker: {wall - share:.1f} s beyond it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2, help="tracking on/off pairs")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    on, off, ratios = [], [], []
    for i in range(args.pairs):
        on.append(sweep(*args.overrides))
        print(f"pair {i + 1}, tracking on:  {accounting(*on[-1], 2)}", flush=True)
        off.append(sweep("tracking.enabled=false", *args.overrides))
        print(f"pair {i + 1}, tracking off: {accounting(*off[-1], 2)}", flush=True)
        alone, together = ceiling()
        ratios.append(2 * alone / together)
        print(
            f"pair {i + 1}: tracking adds {on[-1][0] / off[-1][0] - 1:+.1%}; the machine: the "
            f"longest job alone {alone:.1f} s, two at once {together:.1f} s: "
            f"{ratios[-1]:.2f}x",
            flush=True,
        )
    one = sweep("hydra.launcher.n_jobs=1", *args.overrides)
    print(f"1 worker, tracking on: {accounting(*one, 1)}")
    two = statistics.median(wall for wall, _ in on)
    total, longest = sum(one[1]), max(one[1])  # training alone, uncontended: 1 worker
    bound = total / max(total / 2, longest)  # 2 workers cannot end before the longest job
    print(
        f"2 workers are {one[0] / two:.2f}x faster than 1 (median of {len(on)}); the machine "
        f"allows {statistics.median(ratios):.2f}x for two copies of one job; the jobs' own "
        f"training times allow {bound:.2f}x"
        + (" (the longest job bounds the end)" if longest > total / 2 else "")
    )


if __name__ == "__main__":
    main()
