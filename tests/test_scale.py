"""A job's cost does not grow with the store: a sweep's job makes the same store queries
whether its experiment holds 20 runs or 200, and every one of them finds its rows through an
index on the run or the configuration's hash, never by reading the runs of the experiment
(benchmarks/bench_scale.py measures the time at 100 to 10,000 runs). Nor does the launcher
grow with its sweep: what a job sends back leaves the job's composed config behind."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import cloudpickle
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.utils import JobReturn, JobStatus
from mlflow.tracking import MlflowClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from stores import empty_store

from hydra_plugins.rnngrad_launcher.rnngrad_launcher import sent_back
from rnngrad.pipeline import record as rec
from rnngrad.pipeline.config import config_hash, register
from rnngrad.pipeline.job import run as run_job
from rnngrad.pipeline.store import open_client
from rnngrad.pipeline.sweeper import told

ROOT = Path(__file__).resolve().parents[1]
# MLflow's tables that hold a row (or more) per run, and the index constraints that find one
# run's rows (or one configuration's) without reading the others
PER_RUN = ("runs", "tags", "params", "metrics", "latest_metrics", "inputs")
ONE_RUN = ("run_uuid=?", "destination_id=?", "source_id=?", "value=?")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def store_of(folder: Path, runs: int) -> tuple[str, str]:
    """A store whose experiment holds `runs` finished runs of other configurations, created
    as a sweep's launcher does (open_client), and the experiment's id."""
    folder.mkdir()
    uri = empty_store(folder / "mlflow.db")
    client = open_client(uri)
    experiment_id = client.create_experiment("scale", artifact_location=str(folder / "art"))
    for i in range(runs):
        tags = {rec.CONFIG_HASH: f"{i:016x}", rec.VERSION_TAG: str(rec.VERSION)}
        run = client.create_run(experiment_id, tags=tags, run_name=f"other {i}")
        client.set_terminated(run.info.run_id)
    return uri, experiment_id


def job_statements(uri: str, experiment_id: str) -> tuple[list[tuple[str, tuple]], str]:
    """Every SQL statement one job of a sweep sends to the store, with its parameters, and
    the job's config hash."""
    register()
    parent = MlflowClient(uri).create_run(experiment_id, run_name="sweep").info.run_id
    overrides = [
        "debug=default",
        f"tracking.uri={uri}",
        "tracking.experiment=scale",
        "train.steps=5",
        "model.hidden_size=4",
        "task.T=10",
        *told(experiment_id, parent, 1, "0"),
    ]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    with statements_sent() as sent:
        assert run_job(cfg, overrides)["outcome"] in ("finished", "solved")
    return sent, config_hash(cfg)


@contextlib.contextmanager
def statements_sent():
    """Every SQL statement sent to any store inside the block, with its parameters."""
    sent = []

    def note(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, tuple(parameters or ())))

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def query_plan(db: Path, statement: str, parameters: tuple) -> list[str]:
    """The steps of SQLite's plan for `statement` on the database `db`."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        return [row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]


def reads_other_runs(db: Path, statement: str, parameters: tuple) -> list[str]:
    """The steps of SQLite's plan for `statement` that read a per-run table other than by
    one run's (or one configuration's) key."""
    if statement.split()[0].upper() not in ("SELECT", "UPDATE", "DELETE"):
        return []
    return [
        step
        for step in query_plan(db, statement, parameters)
        if any(f" {table} " in f" {step} " for table in PER_RUN)
        and not (step.startswith("SEARCH") and any(key in step for key in ONE_RUN))
    ]


@pytest.mark.slow
def test_a_jobs_store_queries_do_not_grow_with_the_runs_of_its_experiment(tmp_path):
    sent = {}
    for runs in (20, 200):
        uri, experiment_id = store_of(tmp_path / str(runs), runs)
        sent[runs], digest = job_statements(uri, experiment_id)
        db = tmp_path / str(runs) / "mlflow.db"
        for statement, parameters in sent[runs]:
            assert not reads_other_runs(db, statement, parameters), statement
        # the claim looks the configuration up by its hash, through the index
        (lookup,) = [(s, p) for s, p in sent[runs] if digest in p and s.startswith("SELECT")]
        plan = query_plan(db, *lookup)
        assert any("rnngrad_config_hash" in step for step in plan), plan
    assert len(sent[20]) > 20  # it did talk to the store: creating, logging, closing its run
    assert clockless(sent[20]) == clockless(sent[200])  # the same, as many


def clockless(sent: list[tuple[str, tuple]]) -> list[str]:
    """The statements, less the heartbeat tag's update: the last flush rewrites the heartbeat
    set when the run was created, and SQLAlchemy sends the UPDATE only if a second has turned
    in between, which the clock decides, not the store."""
    return [s for s, p in sent if not (s.startswith("UPDATE tags") and rec.HEARTBEAT in p)]


def test_the_check_sees_a_lookup_that_reads_every_runs_hash(tmp_path):
    """What the index prevents: without it, finding a configuration by its hash reads every
    run's hash tag (SQLite's plan: the tags' key alone)."""
    store_of(tmp_path / "s", 3)
    db = tmp_path / "s" / "mlflow.db"
    lookup = "SELECT run_uuid FROM tags WHERE key = ? AND value = ?"
    parameters = (rec.CONFIG_HASH, "0" * 16)
    assert not reads_other_runs(db, lookup, parameters)
    with sqlite3.connect(db) as con:
        con.execute("DROP INDEX rnngrad_config_hash")
    assert reads_other_runs(db, lookup, parameters) == [
        "SEARCH tags USING INDEX sqlite_autoindex_tags_1 (key=?)"
    ]
    assert reads_other_runs(db, "SELECT run_uuid FROM runs WHERE status = 'RUNNING'", ()) == [
        "SCAN runs"
    ]


def journal_mode(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return con.execute("PRAGMA journal_mode").fetchone()[0]


def test_a_sqlite_store_keeps_a_write_ahead_log_unless_another_process_is_reading(tmp_path):
    """open_client puts a new SQLite store in write-ahead-log mode (store.write_ahead); a store
    in the default mode that another process is reading at that moment opens all the same,
    within seconds, and stays as it was until a later open finds a moment to switch."""
    fresh = tmp_path / "fresh" / "mlflow.db"
    fresh.parent.mkdir()
    open_client(f"sqlite:///{fresh}")
    assert journal_mode(fresh) == "wal"

    old = tmp_path / "old" / "mlflow.db"
    uri = empty_store(old)
    with contextlib.closing(sqlite3.connect(old)) as con:
        con.execute("PRAGMA journal_mode=DELETE")  # a store made before the log, say
    with contextlib.closing(sqlite3.connect(old, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM runs").fetchone()  # a read transaction, open
        start = time.monotonic()
        open_client(uri)
        assert time.monotonic() - start < 30
        assert journal_mode(old) == "delete"
    open_client(uri)  # nobody reads now
    assert journal_mode(old) == "wal"


def runs_table_plan(uri: str, experiment_id: str) -> list[str]:
    """SQLite's plan for the query the MLflow UI's runs table sends for its first page, sorted
    by a metric (MLflow's search_runs)."""
    with statements_sent() as sent:
        found = MlflowClient(uri).search_runs(
            [experiment_id], order_by=["metrics.`log10_ratio` ASC"], max_results=100
        )
    assert len(found) == 100
    (query,) = [(s, p) for s, p in sent if s.startswith("SELECT DISTINCT runs.run_uuid")]
    return query_plan(Path(uri.removeprefix("sqlite:///")), *query)


@pytest.mark.slow
def test_the_ui_runs_table_sorted_by_a_metric_finds_each_runs_value_through_an_index(tmp_path):
    """MLflow sorts by a metric by joining the runs to that metric's values; without the
    planner's statistics (store.plan_statistics, refreshed as a launch opens the store and as
    a sweep ends) SQLite reads every value for every run (5.7 s at 10,000 runs)."""
    uri, experiment_id = store_of(tmp_path / "s", 150)
    client = MlflowClient(uri)
    for i, run in enumerate(client.search_runs([experiment_id], max_results=1000)):
        client.log_metric(run.info.run_id, "log10_ratio", -i / 10)
    open_client(uri)  # as a launch opens it
    joined = [step for step in runs_table_plan(uri, experiment_id) if "LEFT-JOIN" in step]
    assert joined and all(step.startswith("SEARCH") for step in joined), joined
    with contextlib.closing(sqlite3.connect(tmp_path / "s" / "mlflow.db")) as con:
        con.execute("DROP TABLE sqlite_stat1")  # what the check would see without them
    joined = [step for step in runs_table_plan(uri, experiment_id) if "LEFT-JOIN" in step]
    assert [step.split(" LEFT-JOIN")[0] for step in joined] == ["SCAN anon_1"], joined


def test_what_a_worker_sends_back_of_a_job_leaves_its_composed_config_behind():
    """The launcher holds every job's JobReturn until its sweep ends. With the job's composed
    configs in it, that grew the launcher with every job of the sweep (~0.15 MB each, once
    unpickled); without them a job's return is its status, overrides and result."""
    register()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["task.T=10"], return_hydra_config=True)
    value = {"outcome": "finished", "line": "task.T=10: finished after 20 steps in 0.02 s"}
    done = JobReturn(["task.T=10"], cfg, cfg.hydra, status=JobStatus.COMPLETED)
    done.return_value = value
    assert len(cloudpickle.dumps(done)) > 20_000  # what each job used to send
    sent = cloudpickle.dumps(sent_back(done))
    assert len(sent) < 1_000
    got = cloudpickle.loads(sent)
    assert got.cfg is None and got.hydra_cfg is None
    assert (got.status, got.overrides, got.return_value) == (
        JobStatus.COMPLETED,
        ["task.T=10"],
        value,
    )
