"""Past one machine, for real: a SLURM cluster and an MLflow server on PostgreSQL.

Brings up on loopback, under a private folder (tests/cluster/harness.py): munge and a
single-node SLURM cluster, a PostgreSQL cluster on a free port and an MLflow server on it
(the project's own `make server` code). Then:
- a small sweep through hydra-submitit-launcher's SLURM launcher records every configuration
  exactly once, with params, metrics and profile artifact, in the right experiment;
- launched again, it skips them all;
- a job killed hard (SIGKILL) ends the sweep with that job failed and its run KILLED, not a
  hang, and nothing else lost;
- the report builds from the server exactly as from SQLite;
- a SLURM sweep refuses a SQLite store.
Everything is torn down by PID, even when a step fails, and the daemons are checked gone. Installs slurm-wlm, munge and
postgresql with apt-get when they are missing (root). About 2 minutes.

Run: .venv/bin/pytest tests/test_cluster.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

sys.path.insert(0, str(Path(__file__).parent / "cluster"))
from harness import Cluster, ensure_packages

from rnngrad.reports.cli import main as cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.xdist_group("cluster"),  # one worker, in this order: one cluster up at a time
]
TINY = ["debug=default", "task.T=10", "model.hidden_size=8", "train.seed=0"]


@pytest.fixture(scope="module")
def cluster():
    """The cluster the module's tests share. Stopping it is checked as well: its daemons'
    PIDs are gone afterwards, and its private folder (a failure here errors the last test)."""
    why = ensure_packages()
    if why:
        pytest.skip(f"no SLURM test cluster here: {why}")
    c = Cluster()
    try:
        c.start()
        pids = [int((c.dir / f).read_text().split()[0]) for f in ("slurmctld.pid", "slurmd.pid")]
        pids.append(int((c.munge / "munged.pid").read_text().split()[0]))
        pids.append(int((c.server_dir / "mlflow.pid").read_text()))
        yield c
    finally:
        c.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(gone(pid) for pid in pids):
        time.sleep(0.2)
    assert all(gone(pid) for pid in pids), "a daemon of the test cluster outlived its stop"
    assert not c.dir.exists()  # its private folder is gone too


def gone(pid: int) -> bool:
    """No such process, or only its zombie (a container's first process may not reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def children(client: MlflowClient, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return [r for r in runs if r.data.tags.get("rnngrad.role") != "sweep"]


def test_a_slurm_sweep_records_every_configuration_once_on_the_server(cluster, tmp_path):
    proc = cluster.sweep(*TINY, "tracking.experiment=slurm_sweep")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "4 finished" in proc.stdout.replace("solved", "finished") or "0 failed" in proc.stdout
    client = MlflowClient(cluster.uri)
    runs = children(client, "slurm_sweep")
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)
    assert len({r.data.tags["rnngrad.config_hash"] for r in runs}) == 4
    configs = {(r.data.params["model.activation"], r.data.params["model.skip"]) for r in runs}
    assert configs == {
        ("tanh", "False"),
        ("tanh", "True"),
        ("sigmoid", "False"),
        ("sigmoid", "True"),
    }
    for run in runs:
        assert run.data.tags["rnngrad.slurm_job_id"]  # it really ran as a SLURM job
        assert run.data.params["task.T"] == "10" and "valid_loss" in run.data.metrics
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "valid_loss")]
        assert steps == [0, 10, 20]
        path = client.download_artifacts(run.info.run_id, "profiles.npz", str(tmp_path))
        with np.load(path) as saved:
            assert saved["log10_long"].shape == (3, 10)
    again = cluster.sweep(*TINY, "tracking.experiment=slurm_sweep")
    assert again.returncode == 0
    assert "0 to run, 4 already finished" in again.stdout
    assert len(children(client, "slurm_sweep")) == 4


def test_a_job_killed_hard_fails_cleanly_and_nothing_else_is_lost(cluster):
    client = MlflowClient(cluster.uri)
    sweep = cluster.sweep(
        *TINY,
        "model.activation=tanh",
        "model.skip=false",
        "train.seed=0,1",
        "train.steps=4000",
        "train.eval_every=200",
        "train.early_stop=false",
        "tracking.experiment=slurm_kill",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        assert sweep.poll() is None, "the sweep ended before a job could be killed"
        exp = client.get_experiment_by_name("slurm_kill")
        if exp:
            running = [
                r
                for r in children(client, "slurm_kill")
                if r.info.status == "RUNNING" and r.data.params.get("train.seed") == "1"
            ]
            victim = running[0] if running else None
        time.sleep(0.5)
    assert victim is not None, "the seed-1 job never started"
    os.kill(int(victim.data.tags["rnngrad.pid"]), signal.SIGKILL)  # as the OOM killer would
    out, err = sweep.communicate(timeout=240)  # must end, not hang
    assert sweep.returncode == 1, out[-3000:] + err[-3000:]
    assert "1 failed" in out and "KILLED" in out
    runs = {r.data.params["train.seed"]: r for r in children(client, "slurm_kill")}
    assert runs["1"].info.status == "KILLED"
    assert runs["1"].data.tags["rnngrad.outcome"] == "killed"
    assert runs["0"].info.status == "FINISHED"  # the other job is not lost
    assert client.get_metric_history(runs["0"].info.run_id, "valid_loss")


def test_the_report_builds_from_the_server(cluster, tmp_path):
    assert (
        cli(["--experiment", "slurm_sweep", "--tracking-uri", cluster.uri, "--out", str(tmp_path)])
        == 0
    )
    assert (tmp_path / "slurm_sweep.html").exists()
    figures = list((tmp_path / "figures" / "slurm_sweep").glob("*.png"))
    assert len(figures) >= 6 and all(f.stat().st_size > 1000 for f in figures)
    summary = (tmp_path / "tables" / "slurm_sweep" / "summary.csv").read_text()
    assert summary.count("\n") == 5  # a header and the 4 configurations


def test_a_slurm_sweep_refuses_sqlite(cluster, tmp_path):
    proc = cluster.sweep(*TINY, f"tracking.uri=sqlite:///{tmp_path}/mlflow.db")
    assert proc.returncode == 2
    assert "a SLURM sweep needs an MLflow server" in proc.stderr
    assert not (tmp_path / "mlflow.db").exists()
