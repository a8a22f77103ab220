"""Nothing lost, nothing doubled: sweeps under kills, concurrent launches, dead workers,
interrupts and broken stores, each with real processes, real signals and real stores
(SQLite, and the PostgreSQL-backed MLflow server where it differs), each bounded in time, each asserting the
store's final state configuration by configuration.

Each fault is made to land where it matters (a job finished and another is RUNNING when
the signal is sent; the store fills up after some runs finished; the two launches are seen
to contend), and a fault that missed fails the test instead of passing it. Sections follow
the ten faults of docs/pipeline.md's "Resuming" and "Outcomes"; reports of broken experiments are
tested in test_reports.py, configuration edge cases in test_pipeline.py.

- killing only the launcher (SIGKILL, SIGTERM): its workers stop within seconds, their runs
  end KILLED with the cause, a relaunch finishes each configuration exactly once;
- two launches of one sweep at once, on a fresh and on an existing store, and on a server:
  each configuration FINISHED exactly once;
- one worker killed: only its job is lost (KILLED, with the signal), the sweep goes on,
  prints its summary and exits 1;
- Ctrl-C (to the whole process group, once and twice), SIGTERM (to the launcher, and to
  the whole group), and a closed terminal
  (SIGHUP to the group): one line, exit 130/143/129, no traceback, no run left RUNNING, the
  cause on every stopped run and on the sweep's own; a single run likewise;
- a read-only folder, a damaged database, a server that does not answer: one line within
  30 s, exit 1, the store untouched, no password printed;
- a disk that fills up mid-sweep: each job that cannot record says so in one line, what
  FINISHED is whole, the database is intact, and a relaunch once there is room finishes
  each configuration exactly once;
- artifacts that cannot be written: the run still ends FAILED with its real error;
- credentials and the home folder never recorded; MLflow's telemetry off by default;
- a RUNNING run whose pid now belongs to another process is closed; a live one is not.

Run: .venv/bin/pytest tests/test_faults.py
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from mlflow.tracking import MlflowClient
from stores import empty_store

from rnngrad.pipeline import claims
from rnngrad.pipeline import record as rec
from rnngrad.pipeline import store as store_

sys.path.insert(0, str(Path(__file__).parent / "cluster"))
from harness import Server, ensure_packages, free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
EXP = "faults"
SWEEP = [  # 6 configurations of 3000 steps, 2-8 s each (as busy as the machine is)
    "debug=default",
    "model.activation=tanh",
    "model.skip=false",
    "model.hidden_size=8",
    "task.T=10,20,30",
    "train.seed=0,1",
    "train.steps=3000",
    "train.eval_every=500",
    "train.profile_every=1000",
    "train.early_stop=false",
]
CONFIGURATIONS = 6
WIDE = [o.replace("train.seed=0,1", "train.seed=0,1,2,3") for o in SWEEP]  # 12 configurations


class Store:
    def __init__(
        self, tmp: Path, uri: str | None = None, experiment: str = EXP, new: bool = False
    ) -> None:
        """A SQLite store under `tmp` (empty, or none at all if `new`), or the store at `uri`."""
        self.tmp = tmp
        if uri is None:
            uri = f"sqlite:///{tmp / 'mlflow.db'}" if new else empty_store(tmp / "mlflow.db")
        self.uri = uri
        self.experiment = experiment  # tests sharing one server use one each
        self._client: MlflowClient | None = None

    def command(self, *overrides: str, multirun: bool = True, tag: str = "") -> list[str]:
        return [
            sys.executable,
            str(ROOT / "experiments" / "train.py"),
            *(["-m"] if multirun else []),
            f"tracking.uri={self.uri}",
            f"tracking.artifact_root={self.tmp / 'art'}",
            f"tracking.experiment={self.experiment}",
            f"hydra.sweep.dir={self.tmp / ('multirun' + tag)}",
            f"hydra.run.dir={self.tmp / ('run' + tag)}",
            *overrides,
        ]

    def start(self, *overrides: str, multirun: bool = True, tag: str = "", env=None):
        """A launch in a session of its own (Ctrl-C reaches its whole process group)."""
        restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
        return subprocess.Popen(
            self.command(*overrides, multirun=multirun, tag=tag),
            env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=restore,
        )

    def run(self, *overrides: str, multirun: bool = True, timeout: float = 300, env=None):
        return subprocess.run(
            self.command(*overrides, multirun=multirun),
            env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def client(self) -> MlflowClient:
        """The test's own client. A SQLite store is opened as a launch opens it (created under
        its lock): a client that creates it while a sweep migrates it breaks that sweep."""
        if self._client is None:
            uri = self.uri.replace("alice:secret@", "")
            self._client = store_.open_client(uri) if store_.sqlite_path(uri) else MlflowClient(uri)
        return self._client

    def runs(self, parents: bool = False) -> list:
        client = self.client()
        exp = client.get_experiment_by_name(self.experiment)
        if exp is None:
            return []
        runs = client.search_runs([exp.experiment_id], max_results=1000)
        return [r for r in runs if parents == (r.data.tags.get(rec.ROLE) == "sweep")]

    def by_configuration(self) -> dict[str, list[str]]:
        """config hash -> the statuses of its runs."""
        out = collections.defaultdict(list)
        for r in self.runs():
            out[r.data.tags[rec.CONFIG_HASH]].append(r.info.status)
        return dict(out)

    def assert_each_finished_once(self, configurations: int = CONFIGURATIONS) -> None:
        done = self.by_configuration()
        assert len(done) == configurations, done
        for digest, statuses in done.items():
            assert statuses.count("FINISHED") == 1, (digest, statuses)
            assert "RUNNING" not in statuses, (digest, statuses)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path)


def wait_until(condition, limit: float, proc=None, what: str = "") -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None:
            assert proc.poll() is None, f"the sweep ended before {what}: {proc.communicate()}"
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


FRESH_S = 1.5  # a job this young has seconds of training left (each takes 3-10 s)


def fresh_victims(store: Store) -> list:
    """The RUNNING runs that started under FRESH_S ago (a signal sent now lands inside their
    job), from a listing that also has a FINISHED run; [] until then."""
    runs = store.runs()
    now_ms = time.time() * 1000
    young = [
        r
        for r in runs
        if r.info.status == "RUNNING" and now_ms - r.info.start_time < FRESH_S * 1000
    ]
    return young if any(r.info.status == "FINISHED" for r in runs) else []


def wait_for_victims(store: Store, proc) -> list:
    """Once a job finished and another has just started: the runs just started."""
    victims: list = []

    def found() -> bool:
        victims[:] = fresh_victims(store)
        return bool(victims)

    wait_until(found, 120, proc, "a job finished and another just started")
    return victims


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    return ""


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with contextlib.suppress(OSError):  # a zombie of ours is gone as well
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state == "Z"
    return False


# -- 1. killing the launcher ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sig,cause",
    [
        (signal.SIGKILL, "the launching process died (killed)"),
        (signal.SIGTERM, "terminated (SIGTERM)"),
    ],
)
def test_killing_only_the_launcher_stops_its_workers_and_loses_nothing(store, sig, cause):
    proc = store.start(*SWEEP)
    victims = [r.info.run_id for r in wait_for_victims(store, proc)]
    # the fork server and the workers it forked (each a process that may outlive its launcher)
    workers = [
        p for c in children(proc.pid) for p in (c, *children(c)) if "forkserver" in cmdline(p)
    ]
    assert len(workers) >= 2, "no worker process to orphan"
    os.kill(proc.pid, sig)  # the launcher alone, as a scheduler or `kill` would
    out, err = proc.communicate(timeout=60)  # the workers write to the same pipes
    wait_until(lambda: all(gone(w) for w in workers), 10, what="the orphaned workers to stop")
    assert "Traceback" not in out + err
    by_id = {r.info.run_id: r for r in store.runs()}
    stopped = [by_id[v] for v in victims if by_id[v].info.status == "KILLED"]
    assert stopped, "every job it hit had finished: the kill missed"
    for run in by_id.values():  # every run the workers held is closed, with the cause
        assert run.info.status in ("FINISHED", "KILLED"), (run.info.run_name, run.info.status)
        if run.info.status == "KILLED":
            assert run.data.tags[rec.ERROR] == cause, run.data.tags
    relaunch = store.run(*SWEEP)
    assert relaunch.returncode == 0, relaunch.stderr[-2000:]
    store.assert_each_finished_once()
    assert all(r.info.status != "RUNNING" for r in store.runs(parents=True))


def test_killing_the_whole_process_group_is_closed_by_the_next_launch(store):
    proc = store.start(*SWEEP)
    victims = [r.info.run_id for r in wait_for_victims(store, proc)]
    os.killpg(proc.pid, signal.SIGKILL)  # nobody is left to record anything
    proc.communicate(timeout=60)
    assert all(store.client().get_run(v).info.status == "RUNNING" for v in victims)
    relaunch = store.run(*SWEEP)
    assert relaunch.returncode == 0, relaunch.stderr[-2000:]
    assert "marked" in relaunch.stdout and "of dead processes KILLED" in relaunch.stdout
    for victim in victims:
        run = store.client().get_run(victim)
        assert run.info.status == "KILLED" and run.data.tags[rec.ERROR] == claims.GONE
    store.assert_each_finished_once()
    assert all(r.info.status != "RUNNING" for r in store.runs(parents=True))


# -- 2. two launches at once -----------------------------------------------------------------------


@pytest.mark.parametrize("fresh", [True, False])
def test_two_launches_at_once_finish_each_configuration_once(tmp_path, fresh):
    store = Store(tmp_path, new=fresh)
    if not fresh:
        first = store.run(*SWEEP[:4], "task.T=10", "train.seed=9", "train.steps=20")
        assert first.returncode == 0, first.stderr[-2000:]  # the store exists, migrated
    launches = [store.start(*SWEEP, tag=str(i)) for i in range(2)]
    outputs = [p.communicate(timeout=600) for p in launches]
    for p, (out, err) in zip(launches, outputs, strict=True):
        assert p.returncode == 0, out[-2000:] + err[-2000:]
        assert "sweep summary:" in out
    store.assert_each_finished_once(CONFIGURATIONS + (0 if fresh else 1))
    said = outputs[0][0] + outputs[1][0]
    assert "waiting: another process is running this configuration" in said  # they did contend
    ran = sum(int(out.split("sweep summary: ")[1].split(" finished")[0]) for out, _ in outputs)
    assert ran == CONFIGURATIONS  # nothing trained twice


# -- 3. a dead worker ------------------------------------------------------------------------------


def test_a_dead_worker_costs_one_job_and_the_sweep_goes_on(store):
    proc = store.start(*SWEEP, "hydra.launcher.n_jobs=2")
    victim = wait_for_victims(store, proc)[0]
    os.kill(int(victim.data.tags[rec.PID]), signal.SIGKILL)  # as the out-of-memory killer would
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out[-2000:] + err[-2000:]
    assert "sweep summary:" in out and " 1 failed" in out and "Traceback" not in out + err
    killed = store.client().get_run(victim.info.run_id)
    assert killed.info.status == "KILLED"
    cause = "the worker process running this job died of SIGKILL (killed, e.g. by the out-of-memory killer)"
    assert killed.data.tags[rec.ERROR] == cause
    assert f"KILLED {victim.info.run_name}: {cause}" in out
    done = store.by_configuration()
    assert len(done) == CONFIGURATIONS
    others = [s for h, s in done.items() if h != victim.data.tags[rec.CONFIG_HASH]]
    assert all(s == ["FINISHED"] for s in others)  # every other job ran, once
    pids = {r.data.tags[rec.PID] for r in store.runs()}
    assert len(pids) == 3  # the two workers, and the one that took the dead one's place


# -- 4. interrupts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how,code,said",
    [
        ("ctrl-c", 130, "interrupted (Ctrl-C)"),
        ("ctrl-c twice", 130, "interrupted (Ctrl-C)"),
        ("sigterm", 143, "terminated (SIGTERM)"),
        ("sigterm to the group", 143, "terminated (SIGTERM)"),
        ("terminal closed", 129, "hung up (SIGHUP: its terminal closed)"),
    ],
)
def test_interrupts_are_one_line_and_close_every_run(store, how, code, said):
    proc = store.start(*SWEEP)
    wait_for_victims(store, proc)
    if how == "sigterm":
        os.kill(proc.pid, signal.SIGTERM)
    elif how == "sigterm to the group":  # a service manager's stop; the fork server ignores it
        os.killpg(proc.pid, signal.SIGTERM)
    elif how == "terminal closed":
        os.killpg(proc.pid, signal.SIGHUP)  # the terminal's whole process group
    else:
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        if how == "ctrl-c twice":
            time.sleep(0.3)
            os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out[-2000:] + err[-2000:]
    assert "Traceback" not in out + err
    assert [line for line in err.splitlines() if line.startswith("sweep:")] == [
        f"sweep: {said}. Finished runs are kept; launch the same command again to run what "
        "is missing."
    ]
    runs = store.runs() + store.runs(parents=True)
    assert runs and all(r.info.status in ("FINISHED", "KILLED") for r in runs)
    stopped = [r for r in runs if r.info.status == "KILLED"]
    assert len(stopped) >= 2 and all(r.data.tags[rec.ERROR] == said for r in stopped)
    (parent,) = store.runs(parents=True)  # the sweep's own run says why it stopped
    assert parent.info.status == "KILLED" and parent.data.tags[rec.ERROR] == said
    # Every stop leaves the store as asserted above (FINISHED or KILLED, with the cause) and no
    # process behind (a configuration's lock dies with its process); a relaunch starts from
    # that. It is run after the two stops that end the workers hardest: a second Ctrl-C
    # (SIGTERM at once) and a closed terminal (SIGHUP to the whole group); after a killed
    # launcher, in section 1.
    if how in ("ctrl-c twice", "terminal closed"):
        relaunch = store.run(*SWEEP)
        assert relaunch.returncode == 0
        store.assert_each_finished_once()


@pytest.mark.parametrize(
    "sig,code,said",
    [(signal.SIGINT, 130, "interrupted (Ctrl-C)"), (signal.SIGTERM, 143, "terminated (SIGTERM)")],
)
def test_a_single_run_stopped_closes_its_run(store, sig, code, said):
    proc = store.start(  # a run that cannot end first: no early stop once solved
        "debug=default",
        "train.steps=2000000",
        "train.eval_every=1000",
        "train.early_stop=false",
        multirun=False,
    )
    wait_until(lambda: any(r.info.status == "RUNNING" for r in store.runs()), 60, proc, "the run")
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code and "Traceback" not in out + err
    assert err.strip().splitlines()[-1].startswith(f"run: {said}.")
    (run,) = store.runs()
    assert run.info.status == "KILLED" and run.data.tags[rec.ERROR] == said


STOPPED_MID_READ = """
import logging, sqlite3, sys
from rnngrad.pipeline import interrupts, store
store.open_client(sys.argv[1])
# what SQLAlchemy does when a stop lands inside a SQLite read: it drops the connection, then
# fails to close the cursor, and logs that failure with the stop as its context
closed = sqlite3.connect(":memory:")
cursor = closed.cursor()
closed.close()
def close_cursor(stopped):
    try:
        if stopped:
            raise interrupts.Stopped("terminated (SIGTERM)")
        raise OSError("disk I/O error")
    except BaseException:
        try:
            cursor.close()
        except sqlite3.ProgrammingError:
            logging.getLogger("sqlalchemy.pool.impl.QueuePool").error(
                "Error closing cursor", exc_info=True
            )
close_cursor(stopped=True)
print("--", file=sys.stderr)
close_cursor(stopped=False)
"""


def test_a_stop_inside_a_sqlite_read_prints_no_traceback_and_other_errors_still_show(tmp_path):
    """A stop that lands inside a SQLite read (the race behind a rare traceback in the
    interrupt tests above) is not echoed by SQLAlchemy; an error of the store itself is."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    said = subprocess.run(
        [sys.executable, "-c", STOPPED_MID_READ, uri], capture_output=True, text=True, timeout=60
    )
    assert said.returncode == 0, said.stderr
    stopped, other = said.stderr.split("--\n")
    assert "Error closing cursor" not in stopped and "Traceback" not in stopped
    assert other.startswith("Error closing cursor\nTraceback") and "disk I/O error" in other


# -- 5. broken stores ------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(tmp: Path):
    """A tmpfs of its own (to remount read-only, or small): only root can mount one here."""
    folder = tmp / "ro"
    folder.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


DOCS_SAY = [
    line
    for line in (ROOT / "docs" / "pipeline.md").read_text().splitlines()
    if line.startswith("store failure:")
]


def one_line_failure(proc, started: float, store: str, in_docs: str) -> None:
    """Exit 1 within 30 s with one line on stderr: docs/pipeline.md's, where the store `store`
    is called `in_docs`."""
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert time.monotonic() - started < 30
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "INFO" not in line]
    assert len(lines) == 1, lines
    assert lines[0].replace(store, in_docs) in DOCS_SAY, (lines[0], DOCS_SAY)


@pytest.mark.parametrize("multirun", [True, False])
def test_a_read_only_store_is_one_line_and_untouched(tmp_path, multirun):
    with tmpfs(tmp_path) as folder:
        seeded = Store(tmp_path)
        assert seeded.run(*SWEEP[:4], "task.T=10", "train.seed=0", "train.steps=20").returncode == 0
        shutil.copy(tmp_path / "mlflow.db", folder / "mlflow.db")
        before = (folder / "mlflow.db").read_bytes()
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        store = Store(tmp_path, f"sqlite:///{folder / 'mlflow.db'}")
        started = time.monotonic()
        proc = store.run(*SWEEP[:4], "task.T=20", multirun=multirun)
        one_line_failure(proc, started, str(folder / "mlflow.db"), "~/rnngrad/mlflow.db")
        assert (folder / "mlflow.db").read_bytes() == before


@pytest.mark.parametrize("multirun", [True, False])
def test_a_damaged_database_is_one_line_and_untouched(tmp_path, multirun):
    path = tmp_path / "mlflow.db"
    path.write_bytes(b"this is not a database, it was damaged\n" * 10)
    before = path.read_bytes()
    store = Store(tmp_path)
    started = time.monotonic()
    proc = store.run(*SWEEP[:4], "task.T=10", multirun=multirun)
    one_line_failure(proc, started, str(path), "~/rnngrad/mlflow.db")
    assert path.read_bytes() == before


@pytest.mark.parametrize("multirun", [True, False])
def test_a_server_that_does_not_answer_is_one_line_without_its_password(tmp_path, multirun):
    port = free_port()
    store = Store(tmp_path, f"http://alice:secret@127.0.0.1:{port}")
    started = time.monotonic()
    proc = store.run(*SWEEP[:4], "task.T=10", multirun=multirun)
    one_line_failure(proc, started, f"127.0.0.1:{port}", "127.0.0.1:5999")
    assert "secret" not in proc.stdout + proc.stderr


def test_a_disk_that_fills_up_mid_sweep_loses_nothing_and_a_relaunch_finishes(tmp_path):
    with tmpfs(tmp_path) as folder:  # a tmpfs: its size is the disk's
        store = Store(tmp_path, f"sqlite:///{folder / 'mlflow.db'}")
        art = f"tracking.artifact_root={folder / 'art'}"
        seeded = store.run(*SWEEP[:4], "task.T=10", "train.seed=9", "train.steps=20", art)
        assert seeded.returncode == 0, seeded.stderr[-2000:]
        used = shutil.disk_usage(folder).used
        room = 800 * 1024  # a few runs' worth (about 100 kB each): the disk fills up mid-sweep
        subprocess.run(["mount", "-o", f"remount,size={used + room}", str(folder)], check=True)
        full = store.run(*WIDE, art)
        out, err = full.stdout, full.stderr
        assert full.returncode == 1, out[-2000:] + err[-2000:]
        assert "Traceback" not in out + err
        finished = [r for r in store.runs() if r.info.status == "FINISHED"]
        assert len(finished) > 1, "the disk was full before the sweep began"
        # each job that could not record is named in one line: its own, or (when it could not
        # even create its run) the summary's "FAILED <job>: ..."
        full_disk = r"FAILED( [^:\n]+)?: the store's database: database or disk is full"
        assert re.search(full_disk, out), out[-3000:]
        said = [line for line in err.splitlines() if line.strip() and "INFO" not in line]
        assert len(said) <= 1 and all(line.startswith("store failure:") for line in said), said
        db = sqlite3.connect(folder / "mlflow.db")
        assert db.execute("pragma integrity_check").fetchall() == [("ok",)]
        db.close()
        for run in finished:  # what is FINISHED is whole
            assert run.data.tags[rec.OUTCOME] in ("finished", "solved")
            assert (Path(urlparse(run.info.artifact_uri).path) / rec.HISTORY).exists()
        subprocess.run(["mount", "-o", "remount,size=200m", str(folder)], check=True)
        relaunch = store.run(*WIDE, art)
        assert relaunch.returncode == 0, relaunch.stderr[-2000:]
        store.assert_each_finished_once(2 * CONFIGURATIONS + 1)
        assert all(r.info.status != "RUNNING" for r in store.runs(parents=True))


# -- 6. the failure path ---------------------------------------------------------------------------


def test_a_run_whose_artifacts_cannot_be_written_still_ends_failed_with_its_error(tmp_path):
    with tmpfs(tmp_path) as folder:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        store = Store(tmp_path)
        art = f"tracking.artifact_root={folder / 'art'}"
        crashed = store.run(
            *SWEEP[:4], "task.T=10", "internal.crash_at_step=10", art, multirun=False
        )
        assert crashed.returncode == 1 and "Traceback" not in crashed.stdout + crashed.stderr
        finished = store.run(*SWEEP[:4], "task.T=20", art, multirun=False)
        assert finished.returncode == 1
    runs = {r.data.params["task.T"]: r for r in store.runs()}
    assert runs["10"].info.status == "FAILED"
    assert "deliberate failure at step 10" in runs["10"].data.tags[rec.ERROR]
    assert runs["20"].info.status == "FAILED"
    assert "Read-only file system" in runs["20"].data.tags[rec.ERROR]
    later = store.run(*SWEEP[:4], "task.T=30", "train.steps=20", multirun=False)
    assert later.returncode == 0  # a later launch (with its stale-run check) leaves them be
    again = {r.data.params["task.T"]: r for r in store.runs()}
    assert again["10"].data.tags[rec.ERROR] == runs["10"].data.tags[rec.ERROR]


# -- 8. on the PostgreSQL-backed server: concurrent claims, and nothing private ---------------


@pytest.fixture(scope="module")
def server():
    """The project's own MLflow server on PostgreSQL (`make server`), on free loopback ports."""
    why = ensure_packages(("initdb",))
    if why:
        pytest.skip(f"no PostgreSQL here: {why}")
    server = Server()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_two_launches_at_once_on_a_server_finish_each_configuration_once(server, tmp_path):
    store = Store(tmp_path, server.uri.replace("http://", "http://alice:secret@"), "concurrent")
    sweep = [*SWEEP[:6], "train.steps=1000", "train.early_stop=false"]
    launches = [store.start(*sweep, tag=str(i)) for i in range(2)]
    outputs = [p.communicate(timeout=600) for p in launches]
    for p, (out, err) in zip(launches, outputs, strict=True):
        assert p.returncode == 0, out[-2000:] + err[-2000:]
        assert "secret" not in out + err and "alice" not in out + err
    store.assert_each_finished_once()


def test_the_servers_store_finds_a_configuration_by_its_hash_through_an_index(server):
    """Each job's claim looks its configuration up by hash (claims.runs_of): on PostgreSQL
    too, through the index make server adds (store.HASH_INDEX), whatever the store's size."""
    import psycopg2

    from rnngrad.ops.server import credentials

    user, password = credentials(server.dir)
    conn = psycopg2.connect(
        host="127.0.0.1", port=server.pg_port, user=user, password=password, dbname="mlflow"
    )
    with conn, conn.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'rnngrad_config_hash'")
        (definition,) = cur.fetchone()
        cur.execute("SET enable_seqscan = off")  # as a large table would: the planner's choice
        cur.execute(
            "EXPLAIN SELECT run_uuid FROM tags WHERE key = 'rnngrad.config_hash' AND value = 'x'"
        )
        plan = " ".join(row[0] for row in cur.fetchall())
    conn.close()
    assert "WHERE" in definition and "rnngrad.config_hash" in definition
    assert "rnngrad_config_hash" in plan


def test_credentials_and_home_are_never_recorded(server, tmp_path):
    store = Store(tmp_path, server.uri.replace("http://", "http://alice:secret@"), "private")
    proc = store.run(*SWEEP[:4], "task.T=10", "train.seed=0", "train.steps=20")
    assert proc.returncode == 0 and "secret" not in proc.stdout + proc.stderr
    client = store.client()
    for run in store.runs() + store.runs(parents=True):
        recorded = str(run.data.params) + str(run.data.tags)
        assert "secret" not in recorded and "alice" not in recorded
    (run,) = store.runs()
    config = Path(client.download_artifacts(run.info.run_id, rec.CONFIG, str(tmp_path)))
    assert "secret" not in config.read_text() and "alice" not in config.read_text()
    hydra_files = [f for f in (tmp_path / "multirun").rglob("*") if f.is_file()]
    assert hydra_files and not any("secret" in f.read_text() for f in hydra_files)
    home = tmp_path / "home"  # a store under the user's home is recorded as ~/...
    local = Store(home / "project")  # (its folder made, with an empty store in it)
    proc = local.run(
        *SWEEP[:4], "task.T=10", "train.seed=0", "train.steps=20", env={"HOME": str(home)}
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run,) = local.runs()
    assert run.data.params["tracking.uri"] == "sqlite:///~/project/mlflow.db"
    assert str(home) not in str(run.data.params) + str(run.data.tags)


def test_mlflow_telemetry_is_off_unless_the_user_turns_it_on():
    probe = (
        "import rnngrad.pipeline, os; from mlflow.telemetry.utils import is_telemetry_disabled; "
        "print(os.environ['MLFLOW_DISABLE_TELEMETRY'], is_telemetry_disabled())"
    )
    unset = ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "CI", "PYTEST_CURRENT_TEST")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    quiet = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert quiet.stdout.split() == ["true", "True"], quiet.stderr[-2000:]
    chosen = subprocess.run(
        [sys.executable, "-c", probe],
        env={**env, "MLFLOW_DISABLE_TELEMETRY": "false"},
        capture_output=True,
        text=True,
    )
    assert chosen.stdout.split()[0] == "false"  # the user's choice is kept


# -- 10. pid reuse ---------------------------------------------------------------------------------


def test_a_run_whose_pid_another_process_reuses_is_closed_and_a_live_one_is_not(store):
    first = store.run(*SWEEP[:4], "task.T=10", "train.seed=0", "train.steps=20")
    assert first.returncode == 0
    client = store.client()
    experiment = client.get_experiment_by_name(store.experiment).experiment_id
    other = subprocess.Popen(["sleep", "120"])  # a live process whose pid the runs claim
    try:
        tags = {**claims.identity(), rec.PID: str(other.pid)}
        reused = client.create_run(experiment, tags={**tags, rec.PID_START: "1"}).info.run_id
        live = {**tags, rec.PID_START: claims.process_start(other.pid)}
        alive = client.create_run(experiment, tags=live).info.run_id
        relaunch = store.run(*SWEEP[:4], "task.T=20", "train.seed=0", "train.steps=20")
        assert relaunch.returncode == 0
        assert client.get_run(reused).info.status == "KILLED"
        assert client.get_run(alive).info.status == "RUNNING"  # its process is really alive
    finally:
        other.kill()
        other.wait()


CREATED_THEN_STOPPED = """
import os, signal, sys
from rnngrad.pipeline import claims, interrupts, store
client = store.open_client(sys.argv[1])
eid = client.create_experiment("created")
real = client.create_run
def create_run(*args, **kw):
    run = real(*args, **kw)
    os.kill(os.getpid(), signal.SIGINT)  # lands before the id is handed back
    return run
client.create_run = create_run
interrupts.raise_on_sigterm()
try:
    claims.create_owned_run(client, eid, "h", {}, "r", locked=True, stale_after_min=30,
                            waiting=lambda: None)
except KeyboardInterrupt:
    print("stopped")
"""


def test_a_stop_while_a_run_is_being_created_closes_that_run(tmp_path):
    """Ctrl-C landing inside the store call that creates a job's run: the run exists, its id
    not yet returned. The stop waits for the call, closes that run KILLED with its cause,
    then stops the job. (In a process of its own: signals reach only a main thread.)"""
    uri = empty_store(tmp_path / "mlflow.db")
    proc = subprocess.run(
        [sys.executable, "-c", CREATED_THEN_STOPPED, uri], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.stdout.strip() == "stopped", proc.stderr[-2000:]
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("created").experiment_id])
    assert run.info.status == "KILLED" and run.data.tags[rec.ERROR] == "interrupted (Ctrl-C)"
