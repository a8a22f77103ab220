"""make ui (rnngrad/ops/ui.py): it says where the runs of the experiment that ran last are,
serves the real MLflow UI on the project's store, and prints no line per request."""

from __future__ import annotations

import json
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
from browser import HEADLESS, chromium, dom_of
from harness import free_port

from rnngrad.ops.ui import last_experiment
from rnngrad.pipeline import record as rec
from rnngrad.reports.cli import main as report

ROOT = Path(__file__).resolve().parents[1]

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
    assert last_experiment(tmp_path / "mlflow.db") == (first, "first", False)
    client.set_experiment_tag(first, rec.VIEW_TAG, "{}")  # what a sweep shares
    assert last_experiment(tmp_path / "mlflow.db") == (first, "first", True)


def test_make_ui_says_where_the_runs_are_and_is_quiet_per_request(tmp_path):
    uri = empty_store(tmp_path / "mlflow.db")
    client = MlflowClient(uri)
    eid = client.create_experiment("vanishing", tags={rec.VIEW_TAG: "{}"})
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
        answered(address, proc)
        with urllib.request.urlopen(address, timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
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
        f"the runs of 'vanishing' (the experiment run last): {address}/#/experiments/{eid}/runs"
        f"?viewStateShareKey={rec.VIEW_KEY}&workflowType=machine_learning",
    ]
    assert not [line for line in lines if "GET /" in line or "Warning" in line], out


def test_the_ui_shows_the_sweep_its_runs_and_its_report_in_a_real_browser(tmp_path):
    """A sweep, its report attached by rnngrad-report --attach, make ui's server, and
    Chromium: the runs table shows the sweep's run; a run's page, in the "Model training"
    view, its name, its regime tag and its description; the sweep's page its counts and,
    under report/, the page; the compare view the two runs' metrics and tags side by side.
    The screenshots stay in the test's folder for a person to look at."""
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed and cannot be installed here (not root/apt)")
    uri = empty_store(tmp_path / "mlflow.db")
    sweep = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "train.py"), "-m", f"tracking.uri={uri}",
         f"tracking.artifact_root={tmp_path / 'art'}", f"hydra.sweep.dir={tmp_path / 'mr'}",
         "tracking.experiment=seen", "debug=default", "task.T=10", "train.seed=0",
         "model.skip=false", "model.hidden_size=8", "model.activation=tanh,sigmoid"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    out = tmp_path / "reports"
    assert (
        report(["--experiment", "seen", "--tracking-uri", uri, "--out", str(out), "--attach"]) == 0
    )
    client = MlflowClient(uri)
    eid = client.get_experiment_by_name("seen").experiment_id
    runs = client.search_runs([eid])
    (home,) = [r for r in runs if r.data.tags.get(rec.ROLE) == "sweep"]
    (tanh,) = [r for r in runs if r.info.run_name == "tanh"]
    (sigmoid,) = [r for r in runs if r.info.run_name == "sigmoid"]
    pair = json.dumps([tanh.info.run_id, sigmoid.info.run_id], separators=(",", ":"))
    port = free_port()
    command = [sys.executable, "-m", "rnngrad.ops.ui", "--db", str(tmp_path / "mlflow.db")]
    proc = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    address = f"http://127.0.0.1:{port}"
    (said,) = [line for line in sweep.stdout.splitlines() if line.startswith("browse: ")]
    ml = "workflowType=machine_learning"  # the "Model training" view (verdict.ui_page)
    pages = {
        "by_gradient": said.rsplit(" ", 1)[-1].replace("http://127.0.0.1:5000", address),
        "runs": f"{address}/#/experiments/{eid}/runs?{ml}",
        "run": f"{address}/#/experiments/{eid}/runs/{tanh.info.run_id}?{ml}",
        "sweep": f"{address}/#/experiments/{eid}/runs/{home.info.run_id}?{ml}",
        "report": f"{address}/#/experiments/{eid}/runs/{home.info.run_id}/artifacts/report/seen.html?{ml}",
        "compare": f'{address}/#/compare-runs?runs={pair}&experiments=["{eid}"]&{ml}',
    }
    try:
        answered(address, proc)
        flags = [f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=15000",
                 "--window-size=1280,900"]  # fmt: skip
        dom = {name: dom_of(browser, flags, page) for name, page in pages.items()}
        for name, page in pages.items():
            shot = ["--headless", f"--screenshot={tmp_path / name}.png", page]
            subprocess.run([browser, *HEADLESS, *flags, *shot], capture_output=True, timeout=120)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
    assert home.info.run_name in dom["runs"]  # the sweep's run, its jobs nested under it
    # the table the sweep's last line opens: every run, the most vanished first, its regime
    shown = dom["by_gradient"]
    assert "shared view" in shown and rec.REGIME in shown and "decay_factor" in shown
    first, second = sorted((tanh, sigmoid), key=lambda r: r.data.metrics["log10_ratio"])
    assert shown.index(f">{first.info.run_name}<") < shown.index(f">{second.info.run_name}<")
    assert "tanh" in dom["run"] and rec.REGIME in dom["run"]
    assert "Evaluation runs" not in dom["run"]  # the "Model training" view, not the GenAI one
    assert tanh.data.tags[rec.NOTE].split(";")[0] in dom["run"]  # its description
    assert "jobs_finished" in dom["sweep"]
    assert "report/seen.html" in dom["report"] and "mlflow-html-iframe" in dom["report"]  # shown
    assert "tanh" in dom["compare"] and "sigmoid" in dom["compare"]  # side by side
    assert "log10_ratio" in dom["compare"] and rec.REGIME in dom["compare"]
    assert all((tmp_path / f"{name}.png").stat().st_size > 10_000 for name in pages)


def answered(address: str, proc) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(address, timeout=5) as page:
                if page.status == 200:
                    return
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "the UI never answered"
        time.sleep(0.5)
