"""What MLflow tracking costs a run: the same job with tracking on and off, and beside them
what MLflow itself takes to store that job's record.

Runs one configuration of the default `vanishing` sweep in this process, as a sweep's job
(under a parent run, into a fresh SQLite store in a temporary folder), alternating
tracking.enabled=true and false, and prints the median time of the untracked job and the
median overhead (on − off, round by round), in wall time and in this process's CPU time
(what a sweep's busy workers pay; steadier on a noisy machine).
In the same rounds it stores the last tracked run's whole record again with nothing but
MLflow's client (create the run with its tags, its params in one batch, its metrics in
another, its files, close it): the least that any tracking through MLflow pays for that
record on this store. The default configuration is one of the sweep's short jobs (T = 30,
H = 32), where the fixed cost of a run weighs most; pass overrides to measure another.

Run: make bench-tracking   (or .venv/bin/python benchmarks/bench_tracking.py [overrides...])
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from mlflow.entities import Metric, Param

from rnngrad.pipeline import tracking
from rnngrad.pipeline.config import register
from rnngrad.pipeline.job import run
from rnngrad.pipeline.store import open_client
from rnngrad.pipeline.sweeper import told

CONF = Path(__file__).resolve().parents[1] / "conf"
CLOCKS = {"wall time": time.perf_counter, "CPU time": time.process_time}  # this process's
DEFAULT = ["task.T=30", "model.hidden_size=32", "model.activation=tanh", "train.early_stop=false"]


def record_of(client, run_id: str, folder: Path) -> dict:
    """Everything run `run_id` holds: tags, params, every metric point, its files."""
    got = client.get_run(run_id)
    metrics = [
        point for key in got.data.metrics for point in client.get_metric_history(run_id, key)
    ]
    files = client.download_artifacts(run_id, "", str(folder))
    tags = {k: v for k, v in got.data.tags.items() if not k.startswith("mlflow.")}
    return {"tags": tags, "params": got.data.params, "metrics": metrics, "files": files}


def store_alone(client, experiment: str, record: dict) -> None:
    """The record stored through MLflow's client alone, as few calls as it allows."""
    run_id = client.create_run(experiment, tags=record["tags"]).info.run_id
    params = [Param(k, v) for k, v in record["params"].items()]
    for i in range(0, len(params), 100):  # log_batch takes at most 100 params per call
        client.log_batch(run_id, params=params[i : i + 100])
    points = [Metric(m.key, m.value, m.timestamp, m.step) for m in record["metrics"]]
    for i in range(0, len(points), tracking.BATCH_LIMIT):  # and at most 1000 metrics
        client.log_batch(run_id, metrics=points[i : i + tracking.BATCH_LIMIT])
    client.log_artifacts(run_id, record["files"])
    client.set_terminated(run_id, "FINISHED")


def main(overrides: list[str], repeats: int = 15) -> None:
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
        record = record_of(client, run(cfgs["true"], [])["run_id"], Path(tmp, "record"))
        run(cfgs["false"], [])  # warmed up: imports, store creation
        store_alone(client, experiment, record)
        times = {(kind, clock): [] for kind in ("true", "false", "mlflow") for clock in CLOCKS}

        outside = {"true": [], "false": []}  # the job's wall time less its training

        def timed(kind: str, work) -> None:
            start = {clock: CLOCKS[clock]() for clock in CLOCKS}
            result = work()
            for clock, read in CLOCKS.items():
                times[kind, clock].append(read() - start[clock])
            if kind in outside:
                outside[kind].append(times[kind, "wall time"][-1] - result["seconds"])

        for _ in range(repeats):
            for on, cfg in cfgs.items():
                timed(on, lambda cfg=cfg: run(cfg, []))
            timed("mlflow", lambda: store_alone(client, experiment, record))
    print(f"\nconfig: {' '.join(overrides)}  ({repeats} runs each, interleaved, medians)")
    print(
        f"MLflow alone stores the same record: {len(record['params'])} params, "
        f"{len(record['tags'])} tags, {len(record['metrics'])} metric points, its files"
    )
    for clock in CLOCKS:
        on, off = (times[kind, clock] for kind in ("true", "false"))
        cost = statistics.median(a - b for a, b in zip(on, off, strict=True))
        job, alone = statistics.median(off), statistics.median(times["mlflow", clock])
        print(
            f"{clock}: job {job:.3f} s untracked; tracking adds {cost * 1000:.0f} ms "
            f"({cost / job:.1%}); MLflow alone {alone * 1000:.0f} ms ({alone / job:.1%}); "
            f"tracking is 5 % of a job of {cost / 0.05:.1f} s"
        )
    on, off = (statistics.median(outside[kind]) for kind in ("true", "false"))
    cost = statistics.median(a - b for a, b in zip(outside["true"], outside["false"], strict=True))
    job = statistics.median(times["false", "wall time"])
    print(
        f"outside training (the job's wall time less the training time it prints): "
        f"{on * 1000:.0f} ms tracked, {off * 1000:.0f} ms untracked: tracking adds "
        f"{cost * 1000:.0f} ms ({cost / job:.1%}), without training's noise"
    )


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
