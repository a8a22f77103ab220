"""One owner per configuration, and whether the owner of a RUNNING run is still alive.

Liveness. A run records the host, the pid, the pid's start time (so that a pid reused by
another process does not count as the run's) and a heartbeat. On the same host the run is
alive while a process with that pid and that start time exists; elsewhere, while its
heartbeat is younger than `tracking.stale_after_min`.

Claims. A job owns its configuration (its config hash) before it creates a run:
- with a SQLite store, by an exclusive file lock beside the database, held for the whole
  job and released by the kernel when the process dies: two launchers, or a launcher and the
  orphans of a killed one, can never run one configuration at the same time;
- with an MLflow server, whose jobs may run on several hosts, by the run itself: it is
  created RUNNING, and after a settling pause (SETTLE_S) the earliest live RUNNING run of
  the configuration owns it; the others withdraw (their run is deleted) and wait. "Earliest"
  is by the runs' start times, stamped by each host's clock: this needs the hosts' clocks
  to agree within SETTLE_S and a run to be created within SETTLE_S (NTP-synchronised hosts
  and a responsive server). MLflow offers no atomic compare-and-set that would avoid it.
Once it owns its configuration, a job skips it if a run of it has FINISHED meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from . import interrupts
from . import record as rec
from .store import locked, sqlite_path
from .tracking import search_all

HOST = socket.gethostname()
GONE = "its process is gone (killed or crashed)"  # why a later launch closes a RUNNING run
WAIT_S = 1.0  # between looks at a configuration someone else owns
SETTLE_S = 1.0  # a server claim waits this long for concurrent claims to become visible


def process_start(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot, from /proc), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name in (...) may hold spaces


def identity() -> dict[str, str]:
    """Tags that let another process tell whether this one is still alive."""
    tags = {
        rec.HOST: HOST,
        rec.PID: str(os.getpid()),
        rec.PID_START: process_start(os.getpid()) or "",
        rec.HEARTBEAT: f"{time.time():.0f}",
    }
    if "SLURM_JOB_ID" in os.environ:
        tags[rec.SLURM_JOB] = os.environ["SLURM_JOB_ID"]
    return tags


def alive(tags: dict[str, str], stale_after_min: float) -> bool:
    """Whether the process that owns a RUNNING run with these tags is still running."""
    if tags.get(rec.HOST) == HOST and rec.PID in tags:
        start = process_start(int(tags[rec.PID]))
        if start is None:
            return False
        recorded = tags.get(rec.PID_START)
        return not recorded or recorded == start  # another process has reused the pid
    return time.time() - float(tags.get(rec.HEARTBEAT, 0)) <= 60 * stale_after_min


@contextlib.contextmanager
def configuration_lock(uri: str, experiment_id: str, digest: str, waiting=None):
    """Hold the SQLite store's lock on one configuration (a no-op for other stores); while
    another process holds it, call `waiting()` once and wait."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    lock = path.with_name(f"{path.name}.claims") / f"{experiment_id}-{digest}.lock"
    with locked(lock, waiting, WAIT_S):
        yield


def runs_of(client, experiment_id: str, digest: str) -> list:
    return search_all(client, experiment_id, f"tags.`{rec.CONFIG_HASH}` = '{digest}'")


def finished(runs) -> str | None:
    """The id of a FINISHED run recorded under the current record version, if any."""
    done = [r for r in runs if rec.finished_now(r)]
    return done[0].info.run_id if done else None


def close_dead(client, runs, stale_after_min: float, cause: str) -> None:
    """Mark KILLED every RUNNING run among `runs` whose process is gone."""
    for run in runs:
        if run.info.status == "RUNNING" and not alive(run.data.tags, stale_after_min):
            close_killed(client, run, cause)


def close_killed(client, run, cause: str) -> None:
    """Close a run whose process is gone as KILLED with `cause`; a run that had already
    recorded its own failure (and died before closing) keeps it and is closed FAILED."""
    if run.data.tags.get(rec.OUTCOME) == "failed" and run.data.tags.get(rec.ERROR):
        client.set_terminated(run.info.run_id, status="FAILED")
        return
    client.set_tag(run.info.run_id, rec.OUTCOME, "killed")
    if not run.data.tags.get(rec.ERROR):
        client.set_tag(run.info.run_id, rec.ERROR, cause)
    client.set_terminated(run.info.run_id, status="KILLED")


def owns(run, stale_after_min: float) -> bool:
    """Whether `run` still holds its configuration: RUNNING, not withdrawn, its process alive."""
    return (
        run.info.status == "RUNNING"
        and run.info.lifecycle_stage == "active"
        and alive(run.data.tags, stale_after_min)
    )


def create_owned_run(
    client,
    experiment_id: str,
    digest: str,
    tags: dict,
    name: str,
    *,
    locked: bool,
    stale_after_min: float,
    waiting,
) -> str | None:
    """The run that owns configuration `digest`, created RUNNING; None if a run of it finished
    meanwhile. Under the SQLite lock (`locked`) the new run owns it at once; with a server,
    an earlier live run's claim wins and this one withdraws, calls `waiting()` once and waits
    for that run to end."""
    told = False
    while True:
        with interrupts.deferred() as held:  # a stop while the run is created: close it, then stop
            run = client.create_run(experiment_id, tags={**tags, **identity()}, run_name=name)
            if held:
                close_killed(client, run, interrupts.signal_cause(held[0]))
        run_id = run.info.run_id
        if locked:
            return run_id
        try:
            owner = server_owner(client, experiment_id, digest, run_id, stale_after_min)
        except KeyboardInterrupt as err:  # stopped while it asked who owns the configuration
            close_killed(client, run, interrupts.cause(err))
            raise
        if owner == run_id:
            return run_id
        client.delete_run(run_id)  # withdraw: another run owns or finished it
        if owner is None:
            return None
        if not told:
            waiting()
            told = True
        while owns(client.get_run(owner), stale_after_min):
            time.sleep(5 * WAIT_S)


def server_owner(client, experiment_id: str, digest: str, run_id: str, stale_after_min: float):
    """After creating run `run_id`: the id of the live RUNNING run of this configuration that
    owns it (the earliest started; ties by run id), or None if a run of it has FINISHED."""
    time.sleep(SETTLE_S)
    runs = runs_of(client, experiment_id, digest)
    if finished(runs):
        return None
    live = [
        r
        for r in runs
        if r.info.status == "RUNNING"
        and (r.info.run_id == run_id or alive(r.data.tags, stale_after_min))
    ]
    if not live:  # our own run is not visible yet: look again
        return server_owner(client, experiment_id, digest, run_id, stale_after_min)
    return min(live, key=lambda r: (r.info.start_time, r.info.run_id)).info.run_id


def close_stale(client, experiment_id: str, stale_after_min: float) -> list[str]:
    """Every RUNNING run of the experiment whose process is gone becomes KILLED (alive(): on
    this host by pid and the pid's start time, from another host by the heartbeat's age);
    returns their ids."""
    killed = []
    for run in search_all(client, experiment_id, "attributes.status = 'RUNNING'"):
        if rec.PID not in run.data.tags:
            continue  # not one of ours: no process to ask about
        if not alive(run.data.tags, stale_after_min):  # a job's run, or a sweep's
            close_killed(client, run, GONE)
            killed.append(run.info.run_id)
    return killed
