"""The reports (reports/), on a small real sweep run into a temporary MLflow store:
every script runs, every figure and table is written and non-empty, the page links them
all, table values match what the store holds, failed and diverged runs are counted,
rebuilding gives identical files, later runs appear, a missing or empty experiment gives a
message (not a traceback), a bound violation is reported loudly, and reading 200 runs takes
seconds.

Run: .venv/bin/pytest tests/test_reports.py   (about a minute)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from reports import frames, page
from reports.build import cli
from reports.load import NoRuns, load

ROOT = Path(__file__).resolve().parents[1]
EXP = "report_test"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def train(tmp: Path, *overrides: str, multirun: bool = True) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        str(ROOT / "experiments" / "train.py"),
        *(["-m"] if multirun else []),
        f"tracking.uri=sqlite:///{tmp}/mlflow.db",
        f"tracking.artifact_root={tmp}/art",
        f"tracking.experiment={EXP}",
        f"hydra.sweep.dir={tmp}/multirun",
        f"hydra.run.dir={tmp}/run",
        "debug=default",
        "task=adding",
        *overrides,
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """16 finished runs (activation × skip × T × seed), one diverged, one failed."""
    tmp = tmp_path_factory.mktemp("report_store")
    sweep = train(
        tmp,
        "model.activation=tanh,sigmoid",
        "model.skip=false,true",
        "task.T=10,20",
        "train.seed=0,1",
        "model.hidden_size=8",
        "optim.lr=0.1",
    )
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    diverged = train(
        tmp,
        "model.activation=tanh",
        "model.skip=false",
        "task.T=10",
        "train.seed=0",
        "model.hidden_size=8",
        "optim.lr=1e10",
        "optim.clip=null",
        "train.steps=100",
        "model.recurrent_init=singular_value",
        "model.recurrent_scale=3.0",
        multirun=False,
    )
    assert diverged.returncode == 0, diverged.stderr[-2000:]
    failed = train(
        tmp,
        "model.activation=sigmoid",
        "model.skip=true",
        "task.T=20",
        "train.seed=0",
        "model.hidden_size=8",
        "optim.lr=0.1",
        "train.crash_at_step=10",
        "train.early_stop=false",
        multirun=False,
    )
    assert failed.returncode != 0
    return tmp


def uri(store: Path) -> str:
    return f"sqlite:///{store}/mlflow.db"


@pytest.fixture(scope="module")
def built(store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report_out")
    assert cli(["--experiment", EXP, "--tracking-uri", uri(store), "--out", str(out)]) == 0
    return out


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src") and not value.startswith("#"):
                self.links.add(value)


def test_every_figure_and_table_is_written_and_the_page_links_them_all(built):
    figures = sorted((built / "figures" / EXP).iterdir())
    tables = sorted((built / "tables" / EXP).iterdir())
    names = {p.stem for p in figures}
    assert {
        "profile_initial",
        "profile_final",
        "theory",
        "decay_heatmap",
        "learning_loss",
        "learning_mse",
        "final_metric",
        "profile_training",
    } <= names
    assert {p.suffix for p in figures} == {".png", ".svg"}
    assert {p.name for p in tables} >= {
        "summary.md",
        "summary.csv",
        "summary.tex",
        "runs.md",
        "runs.csv",
        "runs.tex",
    }
    for path in figures + tables:
        assert path.stat().st_size > 200, path
    for png in (p for p in figures if p.suffix == ".png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (built / f"{EXP}.html").read_text()
    parser = Links()
    parser.feed(html)
    linked = {built / link for link in parser.links}
    assert set(figures) | set(tables) <= linked  # the page links every file
    assert all(p.exists() for p in linked)  # and every link resolves
    assert html.count("<figcaption>") == len(names)
    assert "seed" in html and "baseline" in html


def test_table_values_match_the_store(store, built):
    summary = pd.read_csv(built / "tables" / EXP / "summary.csv")
    client = MlflowClient(uri(store))
    exp = client.get_experiment_by_name(EXP)
    runs = [
        r
        for r in client.search_runs([exp.experiment_id], max_results=1000)
        if r.data.tags.get("rnngrad.role") != "sweep"
    ]
    assert summary["n"].sum() == len(runs) == 18
    # a configuration computed by hand from the store: tanh, no skip, T = 20
    picked = [
        r
        for r in runs
        if r.data.params["model.activation"] == "tanh"
        and r.data.params["model.skip"] == "False"
        and r.data.params["task.T"] == "20"
    ]
    expected = np.mean([r.data.metrics["valid_mse"] for r in picked])
    row = summary[
        (summary["activation"] == "tanh") & (~summary["skip"].astype(bool)) & (summary["T"] == 20)
    ]
    assert len(row) == 1 and row["n"].item() == len(picked) == 2
    assert row["valid_mse_mean"].item() == pytest.approx(expected, rel=1e-5)
    assert row["baseline_mse"].item() == pytest.approx(1 / 24)
    assert summary["diverged"].sum() == 1 and summary["failed"].sum() == 1


def test_failed_and_diverged_runs_are_shown_and_counted(built):
    listed = pd.read_csv(built / "tables" / EXP / "runs.csv")
    assert sorted(listed["outcome"].value_counts().index) >= ["diverged", "failed"]
    failed = listed[listed["outcome"] == "failed"]
    assert failed["status"].item() == "FAILED" and "deliberate failure" in failed["error"].item()
    html = (built / f"{EXP}.html").read_text()
    assert "<b>failed</b>" in html and "<b>diverged</b> at step" in html
    assert "diverged run(s) show their last state" in html  # captions count them


def test_scripts_run_on_their_own(store, tmp_path):
    for script, made in (("figures.py", "figures"), ("tables.py", "tables")):
        proc = subprocess.run(
            [
                sys.executable,
                str(ROOT / "reports" / script),
                "--experiment",
                EXP,
                "--tracking-uri",
                uri(store),
                "--out",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert any((tmp_path / made / EXP).iterdir())
    assert not (tmp_path / f"{EXP}.html").exists()  # the page is build.py's


def test_rebuilding_gives_identical_files_and_later_runs_appear(store, built, tmp_path):
    again = tmp_path / "again"
    assert cli(["--experiment", EXP, "--tracking-uri", uri(store), "--out", str(again)]) == 0
    first = {p.relative_to(built): p.read_bytes() for p in built.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    # a later run (a new seed) appears in the next build (tests after this one see 19 runs)
    later = train(
        store,
        "model.activation=tanh",
        "model.skip=false",
        "task.T=10",
        "train.seed=2",
        "model.hidden_size=8",
        "optim.lr=0.1",
        multirun=False,
    )
    assert later.returncode == 0
    updated = tmp_path / "updated"
    assert cli(["--experiment", EXP, "--tracking-uri", uri(store), "--out", str(updated)]) == 0
    assert len(pd.read_csv(updated / "tables" / EXP / "runs.csv")) == 19


def test_missing_or_empty_experiments_give_a_message(store, tmp_path, capsys):
    assert cli(["--experiment", "nope", "--tracking-uri", uri(store), "--out", str(tmp_path)]) == 1
    assert "no experiment 'nope'" in capsys.readouterr().err
    MlflowClient(uri(store)).create_experiment("empty_one")
    assert cli(["--experiment", "empty_one", "--tracking-uri", uri(store)]) == 1
    assert "has no runs yet" in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path}/none.db"
    assert cli(["--experiment", EXP, "--tracking-uri", missing]) == 1
    assert "no MLflow store" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_a_bound_violation_is_reported_loudly(store, tmp_path):
    exp = load(EXP, uri(store))
    assert frames.violations(exp).empty  # the real runs respect the theorem
    broken = exp.history.copy()
    hit = broken["metric"] == "max_step_factor"
    broken.loc[hit, "value"] = broken.loc[hit, "value"] + 100.0
    exp.history = broken
    bad = frames.violations(exp)
    assert len(bad) > 0
    html = page.render(exp, [], [], bad, tmp_path).read_text()
    assert "bound violated" in html and "bug in the engine" in html


@pytest.mark.slow
def test_reading_200_runs_takes_seconds(store, tmp_path):
    """200 runs with the pipeline's artifacts, logged straight to a fresh store."""
    source = load(EXP, uri(store)).runs.iloc[0]
    art = Path(source["artifact_uri"].removeprefix("file://"))
    client = MlflowClient(f"sqlite:///{tmp_path}/big.db")
    eid = client.create_experiment("big", artifact_location=(tmp_path / "art").as_uri())
    for i in range(200):
        run_id = client.create_run(eid, run_name=f"r{i:03d}").info.run_id
        client.log_param(run_id, "model.activation", ["tanh", "sigmoid"][i % 2])
        client.log_param(run_id, "task.name", "adding")
        client.log_param(run_id, "task.T", "10")
        client.log_param(run_id, "train.seed", str(i))
        client.set_tag(run_id, "rnngrad.outcome", "finished")
        client.log_artifacts(run_id, str(art))
        client.set_terminated(run_id)
    start = time.perf_counter()
    big = load("big", f"sqlite:///{tmp_path}/big.db")
    seconds = time.perf_counter() - start
    assert len(big.runs) == 200 and big.profiles["run_id"].nunique() == 200
    assert seconds < 10, seconds


def test_captions_say_what_runs_and_seeds_are_behind_each_figure(built):
    html = (built / f"{EXP}.html").read_text()
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html, re.S)
    assert captions and all("seed" in c or "run per panel" in c for c in captions)


def test_no_store_means_no_traceback(tmp_path):
    with pytest.raises(NoRuns):
        load(EXP, f"sqlite:///{tmp_path}/absent.db")


def chromium() -> str | None:
    """Debian's Chromium, installed when missing and we may (CI runs as root, with apt)."""
    found = shutil.which("chromium")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, timeout=900
    )
    return shutil.which("chromium")


HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.slow
def test_the_page_renders_in_a_real_browser(built, tmp_path):
    """Every image the page shows decodes in Chromium (naturalWidth > 0), and the page renders
    to a screenshot (left in the test's folder for a person to look at)."""
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed and cannot be installed here (not root/apt)")
    html = (built / f"{EXP}.html").read_text()
    images = re.findall(r"(?:src|href)='(figures/[^']+\.(?:png|svg))'", html)
    assert len(images) >= 16
    probe = built / "probe.html"
    probe.write_text(
        "<!doctype html><html><body><script>const srcs = "
        + json.dumps(sorted(set(images)))
        + ";let out = {}, left = srcs.length; function done() { if (--left === 0) {"
        "const p = document.createElement('pre'); p.id = 'result';"
        "p.textContent = JSON.stringify(out); document.body.appendChild(p); } }"
        "srcs.forEach(s => { const im = new Image(); im.onload = () => { out[s] = "
        "im.naturalWidth; done(); }; im.onerror = () => { out[s] = 0; done(); }; im.src = s; });"
        "</script></body></html>"
    )
    profile = ["--user-data-dir=" + str(tmp_path / "chromium")]
    dom = subprocess.run(
        [
            browser,
            *HEADLESS,
            *profile,
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    found = re.search(r'<pre id="result">(.*?)</pre>', dom)
    assert found, dom[-500:]
    widths = json.loads(found.group(1).replace("&quot;", '"'))
    assert set(widths) == set(images) and all(w > 100 for w in widths.values()), widths
    shot = tmp_path / "page.png"
    subprocess.run(
        [
            browser,
            *HEADLESS,
            *profile,
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            (built / f"{EXP}.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_other_presets_build_without_dropping_a_level(tmp_path):
    """The clipping preset sweeps optim.clip over null and 1.0 with nothing else varying (no
    hue in the panels): "no clipping" must stay a level of its own, in figures and tables."""
    cmd = [
        sys.executable,
        str(ROOT / "experiments" / "train.py"),
        "-m",
        "experiment=clipping",
        "debug=default",
        "train.seed=0",
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        f"tracking.artifact_root={tmp_path}/art",
        f"hydra.sweep.dir={tmp_path}/multirun",
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    assert subprocess.run(cmd, capture_output=True, env=env, timeout=300).returncode == 0
    out = tmp_path / "report"
    assert (
        cli(
            [
                "--experiment",
                "clipping",
                "--tracking-uri",
                f"sqlite:///{tmp_path}/mlflow.db",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    summary = pd.read_csv(out / "tables" / "clipping" / "summary.csv")
    assert sorted(summary["clip"].astype(str)) == ["1", "none"]
    assert (out / "figures" / "clipping" / "final_metric.png").stat().st_size > 1000
