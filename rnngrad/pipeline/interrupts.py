"""Stopping cleanly: Ctrl-C, SIGTERM, and a launcher that died.

A job that is stopped records its run as KILLED with the cause and lets the exception go
on; the launching process then says so in one line and exits 130 (Ctrl-C) or 143
(SIGTERM), without a traceback. `Stopped` is a KeyboardInterrupt, so every place that
cleans up after Ctrl-C cleans up after SIGTERM too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import wait


class Stopped(KeyboardInterrupt):
    """The process was told to stop: SIGTERM, or the process that launched it is gone."""


EXIT_CODES = {
    "interrupted (Ctrl-C)": 130,
    "hung up (SIGHUP: its terminal closed)": 129,
    "terminated (SIGTERM)": 143,
}
# what a terminal sends to its whole process group: the workers got it too, and stop by
# themselves (the launcher gives them a grace period before it sends SIGTERM)
REACHES_THE_GROUP = ("interrupted (Ctrl-C)", "hung up (SIGHUP: its terminal closed)")
STOP_CAUSE: dict[str, str] = {}  # why this process sends itself SIGTERM (one process, one cause)


def cause(err: BaseException) -> str:
    """What stopped the process, in words: "interrupted (Ctrl-C)", "terminated (SIGTERM)"..."""
    if isinstance(err, Stopped):
        return str(err) or "terminated (SIGTERM)"
    return "interrupted (Ctrl-C)"


def signal_cause(signum: int) -> str:
    """What a stop signal means, in the words of `cause`."""
    if signum == signal.SIGINT:
        return "interrupted (Ctrl-C)"
    if signum == signal.SIGHUP:
        return "hung up (SIGHUP: its terminal closed)"
    return STOP_CAUSE.get("why", "terminated (SIGTERM)")


def exit_code(err: BaseException) -> int:
    return EXIT_CODES.get(cause(err), 143)


STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, SIGTERM, a closed terminal
REQUESTED: list[str] = []  # the stops this process was sent, in order (their causes)


def raise_if_stopped() -> None:
    """Raise Stopped again if a stop was sent: a library that caught the first one (some
    catch every exception around a call and carry on) must not let a job train on."""
    if REQUESTED:
        raise Stopped(REQUESTED[0])


def raise_on_sigterm() -> None:
    """Make SIGTERM and SIGHUP (its terminal closed) raise Stopped in the main thread, and
    SIGINT KeyboardInterrupt (even if the process started with it ignored) — the first stop
    only. Later ones are noted (raise_if_stopped sees them), not raised: the process is
    stopping already, and one raised in the middle of it (in a garbage collector's callback,
    say) would print a traceback and cut the closing of its runs short."""

    def handler(signum, frame):
        first = not REQUESTED
        REQUESTED.append(signal_cause(signum))
        if first:
            raise KeyboardInterrupt if signum == signal.SIGINT else Stopped(REQUESTED[-1])

    for sig in STOPS:
        signal.signal(sig, handler)


@contextlib.contextmanager
def deferred(ending: bool = False):
    """Hold Ctrl-C, SIGTERM and SIGHUP while the block runs (recording how a run ended must
    not be cut short); one that arrived is delivered after it, unless the process is
    `ending` (it is already stopping): then the stops are ignored from then on. Yields the
    list of the signals held so far, for a block that wants to notice one (a second Ctrl-C
    that should hurry a shutdown without raising in the middle of it). Main thread only;
    elsewhere a no-op. (Blocking the signals would not do: another thread of the process
    takes them.)"""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    before = {sig: signal.signal(sig, lambda signum, frame: held.append(signum)) for sig in STOPS}
    try:
        yield held
    finally:
        if ending:
            ignore_stops()
        else:
            for sig, handler in before.items():
                signal.signal(sig, handler)
            if held:
                signal.raise_signal(held[0])


def watch_launcher(alive, grace_s: float = 15.0) -> None:
    """Stop this process once its launcher is gone (a launcher killed with SIGKILL cannot
    stop its workers itself): `alive` is the reading end of a pipe whose writing end only
    the launcher holds, so it reads end-of-file the moment the launcher dies. The job
    records the cause and ends; a job that does not end within `grace_s` ends the process."""

    def watch():
        wait([alive])
        STOP_CAUSE["why"] = "the launching process died (killed)"
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os._exit(143)

    threading.Thread(target=watch, name="rnngrad-launcher-watch", daemon=True).start()


def ignore_stops() -> None:
    """Ignore Ctrl-C, SIGTERM and SIGHUP from now on: for a process that has closed its runs
    and is exiting. (A Python handler would not do: the interpreter puts the default
    actions back while it shuts down, and a signal then would kill it with another status.)
    Main thread only; elsewhere a no-op."""
    if threading.current_thread() is threading.main_thread():
        for sig in STOPS:
            signal.signal(sig, signal.SIG_IGN)


def exit_quietly(err: BaseException, what: str) -> None:
    """One line on stderr, then exit with the signal's conventional status. Every run is
    closed by now: a further Ctrl-C or SIGTERM while the interpreter shuts down (the worker
    processes are reaped) is ignored, so the status stays the signal's."""
    code = exit_code(err)
    ignore_stops()
    print(
        f"{what}: {cause(err)}. Finished runs are kept; launch the same command again to run "
        "what is missing.",
        file=sys.stderr,
        flush=True,
    )
    sys.exit(code)
