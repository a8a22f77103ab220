"""make ui (rnngrad/ops/ui.py): it says where the runs of the experiment that ran last are,
serves the real MLflow UI on the project's store, and prints no line per request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from stores import empty_store

sys.path.insert(0, str(Path(__file__).parent / "cluster"))
from harness import free_port

from rnngrad.ops.ui import last_experiment

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_the_experiment_run_last_is_found_without_mlflow(tmp_path):
    assert last_experiment(tmp_path / "none.db") is None
    uri = empty_store(tmp_path / "mlflow.db")
    assert last_experiment(tmp_path / "mlflow.db") is None  # no runs yet
    client = MlflowClient(uri)
    first = client.create_experiment("first")
    second = client.create_experiment("second")
    client.create_run(second)
    time.sleep(0.01)
    client.create_run(first)
    assert last_experiment(tmp_path / "mlflow.db") == (first, "first")


def test_make_ui_says_where_the_runs_are_and_is_quiet_per_request(tmp_path):
    uri = empty_store(tmp_path / "mlflow.db")
    client = MlflowClient(uri)
    eid = client.create_experiment("vanishing")
    client.create_run(eid)
    port = free_port()
    command = [sys.executable, "-m", "rnngrad.ops.ui", "--db", str(tmp_path / "mlflow.db")]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(address, timeout=5) as page:
                    assert page.status == 200 and b"<html" in page.read().lower()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the UI never answered"
                time.sleep(0.5)
        api = f"{address}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=vanishing"
        for _ in range(3):
            with urllib.request.urlopen(api, timeout=10) as reply:
                assert reply.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out = proc.communicate(timeout=30)[0]
    lines = out.splitlines()
    assert lines[:2] == [
        f"MLflow UI on {address} (Ctrl-C to stop)",
        f"the runs of 'vanishing' (the experiment run last): {address}/#/experiments/{eid}/runs",
    ]
    assert not [line for line in lines if "GET /" in line or "Warning" in line], out
