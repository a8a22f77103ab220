"""The worker pool's start-up: a worker stopped while it is still loading what its jobs need
(seconds of imports) exits quietly with the signal's status, and prints no traceback."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time

import cloudpickle
import pytest

from rnngrad.pipeline import pool


class SlowToLoad:
    """Unpickles slowly, as the job's modules take seconds to import in a fresh worker."""

    def __reduce__(self):
        return (time.sleep, (30,))


def start_worker(stderr_path: str):
    def target(conn, alive):
        sys.stderr = open(stderr_path, "w", buffering=1)  # the process's own stderr
        os.dup2(sys.stderr.fileno(), 2)
        pool.work(conn, alive)

    context = multiprocessing.get_context("fork")
    launcher_end, child = context.Pipe()
    watched, alive = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(child, watched))
    process.start()
    launcher_end.send_bytes(cloudpickle.dumps(SlowToLoad()))  # what the jobs share
    return process, (launcher_end, alive)  # the launcher's ends, held open


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_worker_stopped_while_starting_exits_quietly(tmp_path, sig, code):
    stderr = tmp_path / "stderr"
    process, _launcher_ends = start_worker(str(stderr))
    time.sleep(1.0)  # it is loading now
    os.kill(process.pid, sig)
    process.join(timeout=20)
    assert process.exitcode == code
    assert "Traceback" not in stderr.read_text()


def test_the_launcher_hears_of_every_job_as_it_ends_including_one_whose_worker_died():
    """The sweep's progress counts what the pool saw end: results in, and dead workers."""

    def execute(shared, job):
        if job == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        return job * 2

    ended = []
    results = pool.launch(
        {"execute": execute},
        [1, "die", 3, 4],
        2,
        failed=lambda job, err: f"failed: {err}",
        ended=ended.append,
    )
    assert results[0] == 2 and results[2:] == [6, 8]
    assert results[1].startswith("failed: the worker process running this job died of SIGKILL")
    assert sorted(ended) == [0, 1, 2, 3]  # each job once, by its index
