"""Jobs on this machine: a pool of worker processes that survives a dead worker and never
outlives its launcher (the default launcher, conf/cluster/machine.yaml).

Each worker runs one job at a time and is reused for the next. Workers are forked from a
fork server (multiprocessing's "forkserver") that imported the job's modules once (seconds:
MLflow, Hydra): a worker starts in milliseconds, also the one that replaces a
dead worker, and none inherits the launcher's threads or store connections (a fork of the
launcher itself would). The fork server ignores Ctrl-C, SIGTERM and SIGHUP (the launcher
stops the workers itself) and ends once the launcher and its workers are gone. Pools such
as joblib's (loky) or concurrent.futures' break as a whole when one worker dies; here the
launcher watches every worker itself:
- a worker that dies (the out-of-memory killer's SIGKILL, say) costs exactly the job it was
  running, which is reported FAILED with the signal, and a new worker takes its place;
- workers watch their launcher and stop at once when it is gone (killed with SIGKILL, its
  terminal closed), their job's run closed as KILLED with that cause;
- Ctrl-C or SIGTERM to the launcher stops the workers (each closes its run as KILLED), then
  the interruption goes on to the sweeper, which says so in one line.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.connection import wait

import cloudpickle

from .errors import JobError, one_line
from .interrupts import (
    REACHES_THE_GROUP,
    STOPS,
    cause,
    deferred,
    exit_code,
    ignore_stops,
    raise_on_sigterm,
    watch_launcher,
)

BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
GRACE_S = 5.0  # after Ctrl-C, time for the workers to close their runs before SIGTERM
KILL_AFTER_S = 10.0  # after SIGTERM, time before SIGKILL


class WorkerDied(JobError):
    """The worker process running a job ended without returning (killed by a signal)."""


@dataclass
class Worker:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    alive: multiprocessing.connection.Connection  # held open for the worker: see start()
    task: int | None = None  # the index of the job it runs


def launch(
    shared: dict, jobs: list, n_workers: int, failed, preload: tuple[str, ...] = (), ended=None
) -> list:
    """Run `jobs` (each passed to `execute` in a worker, with `shared`) on `n_workers`
    processes; returns one result per job, in order. `failed(job, err)` makes the result of a
    job whose worker died. `preload`: the modules the fork server imports once for every
    worker (those `shared` and the jobs need); only the first launch of a process sets them.
    `ended(i)` is called as job i ends (its result in, or its worker dead)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    start_fork_server()
    blob = cloudpickle.dumps(shared)
    results: list = [None] * len(jobs)
    pending = deque(range(len(jobs)))
    workers = [start(context, blob) for _ in range(min(n_workers, len(jobs)))]
    try:
        while pending or any(w.task is not None for w in workers):
            for w in workers:
                if w.task is None and pending:
                    w.task = pending.popleft()
                    with contextlib.suppress(OSError):  # it just died: its sentinel tells
                        w.conn.send_bytes(cloudpickle.dumps((w.task, jobs[w.task])))
            busy = [w.conn for w in workers if w.task is not None]
            wait(busy + [w.process.sentinel for w in workers], timeout=1.0)
            for w in list(workers):
                index = w.task
                if collect(w, results) and ended:
                    ended(index)
                if not w.process.is_alive():
                    if w.task is not None:  # it died inside a job
                        code = w.process.exitcode
                        results[w.task] = failed(jobs[w.task], WorkerDied(died(code)))
                        if ended:
                            ended(w.task)
                    workers.remove(w)
                    if pending:
                        workers.append(start(context, blob))
    except BaseException as err:
        stop(workers, err)
        raise
    finally:
        for w in workers:
            if w.process.is_alive():
                with contextlib.suppress(OSError):  # it may die this very moment
                    w.conn.send_bytes(cloudpickle.dumps(None))
        for w in workers:
            w.process.join(timeout=KILL_AFTER_S)
            w.alive.close()
    # a worker that failed outside the job itself sent its error instead of a result
    return [
        failed(jobs[i], r) if isinstance(r, BaseException) else r for i, r in enumerate(results)
    ]


def start_fork_server() -> None:
    """Start the fork server (once per process) with the stop signals ignored, which it
    keeps for life and hands to every worker it forks, until the worker's own handlers take
    over (pool.work). Ctrl-C, a closed terminal and SIGTERM reach the whole process group:
    the launcher stops the workers in order; a fork server killed by them would leave it
    unable to tell a live worker from a dead one. One BLAS thread per worker from the start
    (as loky does): the workers fill the cores, and an idle BLAS thread that spins costs them
    time. A value the user set is kept. The fork server's environment is its workers'."""
    before = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOPS}
    blas = {k: "1" for k in BLAS_THREADS if k not in os.environ}
    os.environ.update(blas)
    try:
        forkserver.ensure_running()  # a fork and exec: it imports `preload` after this returns
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        for key in blas:
            del os.environ[key]


def start(context, blob: bytes) -> Worker:
    """A worker forked by the fork server (the first waits for its imports); what its jobs
    share is sent through its pipe, so that starting it never blocks on a large write."""
    parent, child = context.Pipe()
    # Only the launcher holds the writing end of `alive`: once the launcher is gone,
    # however it died, the worker reads end-of-file and stops its job.
    watched, alive = context.Pipe(duplex=False)
    process = context.Process(target=work, args=(child, watched), daemon=True)
    process.start()
    child.close()
    watched.close()
    with contextlib.suppress(OSError):  # it died at once: its sentinel tells
        parent.send_bytes(blob)
    return Worker(process, parent, alive)


def collect(w: Worker, results: list) -> bool:
    """Take a finished job's result from a worker, if one is waiting (then True)."""
    if w.task is None:
        return False
    try:
        if not w.conn.poll():
            return False
        index, result = cloudpickle.loads(w.conn.recv_bytes())
    except (EOFError, OSError):
        return False  # the worker died: its sentinel tells
    results[index] = result
    w.task = None
    return True


def died(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        why = " (killed, e.g. by the out-of-memory killer)" if name == "SIGKILL" else ""
        return f"the worker process running this job died of {name}{why}"
    if code in (130, 143):
        return f"the worker process running this job was stopped ({STOPPED[code]})"
    return f"the worker process running this job exited with status {code}"


STOPPED = {130: "interrupted, Ctrl-C", 143: "terminated, SIGTERM"}


def stop(workers: list[Worker], err: BaseException) -> None:
    """On Ctrl-C or SIGHUP the workers received it too: let them close their runs, then SIGTERM,
    then SIGKILL. On SIGTERM (or any other failure) send SIGTERM at once. A second Ctrl-C
    while waiting sends SIGTERM at once; a job that is recording how it ended finishes
    recording first (interrupts.deferred). Further stops are noted, never raised: an
    exception raised in the middle of a shutdown (in a garbage collector's callback, say)
    would print a traceback; from here on the launcher is ending and ignores them."""
    busy = [w for w in workers if w.process.is_alive()]
    with deferred(ending=True) as again:
        if isinstance(err, KeyboardInterrupt) and cause(err) in REACHES_THE_GROUP:
            deadline = time.monotonic() + GRACE_S
            while any(w.process.is_alive() and w.task is not None for w in busy):
                if again or time.monotonic() > deadline:  # a second Ctrl-C: terminate now
                    break
                time.sleep(0.1)
        for w in busy:
            if w.process.is_alive():
                w.process.terminate()  # SIGTERM: the job closes its run as KILLED
        deadline = time.monotonic() + KILL_AFTER_S
        for w in busy:
            w.process.join(timeout=max(0.0, deadline - time.monotonic()))
        for w in busy:
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=5)


def work(conn, launcher_alive) -> None:
    """A worker: take what the jobs share from the launcher, then run jobs until told to
    stop, or stopped; it stops once `launcher_alive` reads end-of-file (the launcher is
    gone). Stopped anywhere (starting, inside a job, between jobs, while sending a result),
    it exits quietly with the signal's status (130, 143): a job that was running has closed
    its run by then. Once it is exiting, however, further stops are ignored."""
    try:
        raise_on_sigterm()
        watch_launcher(launcher_alive)
        serve(conn, cloudpickle.loads(conn.recv_bytes()))  # loads what was not preloaded
    except KeyboardInterrupt as err:  # Ctrl-C, SIGTERM, the launcher gone
        ignore_stops()
        raise SystemExit(exit_code(err)) from None
    except (EOFError, OSError):
        pass  # the launcher was gone before it sent anything
    finally:
        ignore_stops()


def serve(conn, shared: dict) -> None:
    """Run each job the launcher sends and send back its result, until it sends None or is
    gone."""
    while True:
        try:
            message = cloudpickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the launcher is gone
        if message is None:
            return
        index, job = message
        try:
            result = shared["execute"](shared, job)
        except Exception as err:  # outside the job itself (Hydra's set-up): say why, go on
            result = JobError(f"the job could not start: {one_line(err)}")
        try:
            conn.send_bytes(cloudpickle.dumps((index, result)))
        except OSError:
            return  # the launcher is gone (killed): nobody to tell
