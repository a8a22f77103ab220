"""What MLflow tracking costs a run: the same job with tracking on and off.

Runs one configuration of the default `vanishing` sweep in this process, as a sweep's job
(under a parent run, into a fresh SQLite store in a temporary folder), alternating
tracking.enabled=true and false, and prints the median wall time of each and the overhead.
The default configuration is one of the sweep's short jobs (T = 30, H = 32), where the fixed
cost of a run weighs most; pass overrides to measure another.

Run: make bench-tracking   (or .venv/bin/python benchmarks/bench_tracking.py [overrides...])
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from rnngrad.pipeline import tracking
from rnngrad.pipeline.config import register
from rnngrad.pipeline.job import run
from rnngrad.pipeline.store import open_client
from rnngrad.pipeline.sweeper import told

CONF = Path(__file__).resolve().parents[1] / "conf"
DEFAULT = ["task.T=30", "model.hidden_size=32", "model.activation=tanh", "train.early_stop=false"]


def main(overrides: list[str], repeats: int = 5) -> None:
    register()
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        client = open_client(uri)  # as a sweep's launcher opens it (its index)
        experiment = tracking.ensure_experiment(client, "bench", Path(tmp, "art").as_uri())
        parent = client.create_run(experiment, tags={"rnngrad.role": "sweep"}).info.run_id
        store = [
            f"tracking.uri={uri}",
            *told(experiment, parent, 1, tracking.git_commit()),
            "tracking.progress_every_s=1e9",
            "tracking.rerun=true",  # each repeat records a new run (not: skipped, finished)
        ]
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfgs = {
                on: compose("config", overrides=[*store, f"tracking.enabled={on}", *overrides])
                for on in ("true", "false")
            }
        times = {"true": [], "false": []}
        run(cfgs["true"], [])  # warm up: imports, store creation, first figure
        run(cfgs["false"], [])
        for _ in range(repeats):
            for on, cfg in cfgs.items():
                start = time.perf_counter()
                run(cfg, [])
                times[on].append(time.perf_counter() - start)
    on, off = statistics.median(times["true"]), statistics.median(times["false"])
    print(f"\nconfig: {' '.join(overrides)}  ({repeats} runs each, interleaved, medians)")
    print(f"tracking off: {off:.2f} s   tracking on: {on:.2f} s   overhead: {on / off - 1:.1%}")


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
