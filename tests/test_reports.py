"""The reports (reports/), on small real sweeps run into temporary MLflow stores.

What the reports tell a researcher must be true; each check below would fail on a report
that pools unlike runs, blends baselines, mixes ad-hoc runs into a preset, hides a failed
self-check, or says what its data do not:
- every figure and table is written, the page links them all and opens with the findings;
- table values match what the store holds; failed, diverged and superseded runs are counted;
- attention and the RNN never share a table row; tasks never share a line or a baseline;
- baselines are drawn per group (copy_memory's depend on T), from the runs' own record;
- runs that differ in something no sweep varied (task, steps) get figures of their own;
- a failed self-check is a tag, a console WARNING, red on the page, a line in the findings;
- decay factor and bound are paired from one training step; a distance that never fell is
  shown as beyond the sequence, not averaged;
- captions never say "None", the theory figure's skip panel claims no guarantee, the
  profile-over-training panels share one colour scale;
- the findings' numbers are the tables' numbers; runs of an older record get a note;
- rebuilding gives identical files; a missing or empty experiment gives a message; reading
  200 runs takes seconds; the page renders in a real browser.

Run: .venv/bin/pytest tests/test_reports.py   (a few minutes)
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
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from browser import HEADLESS, chromium, dom_of
from hydra import compose, initialize_config_dir
from matplotlib.colors import to_hex
from mlflow.entities import Param
from mlflow.tracking import MlflowClient
from stores import empty_store

import rnngrad.bptt as rnn_module  # the backward the RNN calls
from rnngrad.pipeline import record as rec
from rnngrad.pipeline.config import register
from rnngrad.pipeline.job import run as run_job
from rnngrad.reports import findings as finds
from rnngrad.reports import frames, fresh, page, tables
from rnngrad.reports import gallery as figs
from rnngrad.reports.cli import main as cli
from rnngrad.reports.load import NoRuns, load
from rnngrad.reports.plot import Figure
from rnngrad.reports.wording import span

ROOT = Path(__file__).resolve().parents[1]
EXP = "report_test"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def train(tmp: Path, *overrides: str, multirun: bool = True, experiment: str = EXP):
    empty_store(tmp / "mlflow.db")  # (unless there is one: a fixture trains several times)
    cmd = [
        sys.executable,
        str(ROOT / "experiments" / "train.py"),
        *(["-m"] if multirun else []),
        f"tracking.uri=sqlite:///{tmp}/mlflow.db",
        f"tracking.artifact_root={tmp}/art",
        f"hydra.sweep.dir={tmp}/multirun",
        f"hydra.run.dir={tmp}/run",
        "debug=default",
        f"tracking.experiment={experiment}",
        *overrides,
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def uri(store: Path) -> str:
    return f"sqlite:///{store}/mlflow.db"


def build(store: Path, out: Path, experiment: str = EXP) -> Path:
    assert cli(["--experiment", experiment, "--tracking-uri", uri(store), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """16 finished adding runs (activation × skip × T × seed), one diverged, one failed."""
    tmp = tmp_path_factory.mktemp("report_store")
    sweep = train(
        tmp,
        "task=adding",
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
        "task=adding",
        "model.activation=tanh",
        "task.T=10",
        "train.seed=0",
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
        "task=adding",
        "model.activation=sigmoid",
        "model.skip=true",
        "task.T=20",
        "train.seed=0",
        "optim.lr=0.1",
        "internal.crash_at_step=10",
        "train.early_stop=false",
        multirun=False,
    )
    assert failed.returncode != 0
    return tmp


@pytest.fixture(scope="module")
def built(store, tmp_path_factory) -> Path:
    return build(store, tmp_path_factory.mktemp("report_out"))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """The RNN-vs-attention preset, shrunk: 2 tasks × 2 lengths × (RNN tanh, attention)."""
    tmp = tmp_path_factory.mktemp("mixed_store")
    proc = train(
        tmp,
        "experiment=rnn_vs_attention",
        "task.T=10,20",
        "model=rnn,attention",
        "train.seed=0,1",
        experiment="rnn_vs_attention",
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return tmp


@pytest.fixture(scope="module")
def mixed_built(mixed, tmp_path_factory) -> Path:
    return build(mixed, tmp_path_factory.mktemp("mixed_out"), "rnn_vs_attention")


@pytest.fixture(scope="module")
def loaded(store):
    """The store's experiment as the reports load it (tests only read it)."""
    return load(EXP, uri(store))


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src") and not value.startswith("#"):
                self.links.add(value)


def captions(out: Path, experiment: str = EXP) -> dict[str, str]:
    html = (out / f"{experiment}.html").read_text()
    found = re.findall(r"<figure id='([^']+)'>.*?<figcaption>(.*?)</figcaption>", html, re.S)
    return {name: re.sub(r"<[^>]+>", "", text) for name, text in found}


# -- what is written ---------------------------------------------------------------------------


def test_every_figure_and_table_is_written_and_the_page_links_them_all(built):
    figures = sorted((built / "figures" / EXP).iterdir())
    written = sorted((built / "tables" / EXP).iterdir())
    names = {p.stem for p in figures}
    kinds = {n.split("-")[0] for n in names}  # the diverged run's settings make a study of its own
    assert {
        "profile_initial",
        "profile_final",
        "theory",
        "decay_heatmap",
        "learning_loss",
        "learning_mse",
        "final_metric",
        "profile_training",
        "state",
        "success_length",
        "reach_learning",
    } <= kinds
    assert {p.suffix for p in figures} == {".png", ".svg"}
    assert {p.name for p in written} >= {
        "summary.md",
        "summary.csv",
        "summary.tex",
        "runs.md",
        "runs.csv",
        "runs.tex",
        "findings.md",
    }
    for path in figures + written:
        assert path.stat().st_size > 200, path
    html = (built / f"{EXP}.html").read_text()
    parser = Links()
    parser.feed(html)
    linked = {built / link for link in parser.links}
    assert set(figures) | set(written) <= linked  # the page links every file
    assert all(p.exists() for p in linked)  # and every link resolves
    assert html.count("<figcaption>") == len(names)
    assert html.index("What this sweep shows") < html.index("<figure")  # findings first


def test_table_values_match_the_store(store, built):
    summary = pd.read_csv(built / "tables" / EXP / "summary.csv")
    client = MlflowClient(uri(store))
    exp = client.get_experiment_by_name(EXP)
    runs = [
        r
        for r in client.search_runs([exp.experiment_id], max_results=1000)
        if r.data.tags.get(rec.ROLE) != "sweep"
    ]
    assert summary["n"].sum() == len(runs) == 18
    picked = [
        r
        for r in runs
        if r.data.params["model.activation"] == "tanh"
        and r.data.params["model.skip"] == "False"
        and r.data.params["task.T"] == "20"
    ]
    expected = np.mean([r.data.metrics["valid_mse"] for r in picked])
    baseline = np.mean([r.data.metrics["baseline_mse"] for r in picked])
    row = summary[
        (summary["activation"] == "tanh")
        & (~summary["skip"].astype(bool))
        & (summary["T"] == 20)
        & (summary["lr"] == 0.1)
    ]
    assert len(row) == 1 and row["n"].item() == len(picked) == 2
    assert row["final_mean"].item() == pytest.approx(expected, rel=1e-5)
    assert row["baseline"].item() == pytest.approx(baseline, rel=1e-5)  # recorded, on its data
    assert row["baseline"].item() != pytest.approx(1 / 24, rel=1e-6)  # not the textbook value
    assert summary["diverged"].sum() == 1 and summary["failed"].sum() == 1


def test_losses_spanning_decades_are_drawn_on_a_log_axis(loaded, built):
    from rnngrad.reports.learning_figures import spans_decades

    assert spans_decades(pd.Series([0.04, 0.5, 20.0])) and not spans_decades(pd.Series([1.0, 90]))
    assert not spans_decades(pd.Series([0.0, 50.0]))  # a zero cannot go on a log axis
    sweep = loaded.runs[loaded.runs["outcome"] != "diverged"]["run_id"]
    history = loaded.history[loaded.history["run_id"].isin(sweep)]
    losses = history[history["metric"] == "valid_loss"]["value"]
    (key,) = [k for k in captions(built) if k.startswith("learning_loss-") and "lr_0.1" in k]
    said = "The loss axis is logarithmic" in captions(built)[key]
    assert said == spans_decades(losses) and said  # this store's losses span 0.03 to 200


def test_the_report_is_attached_to_its_sweeps_run(store, built):
    """make sweep's report goes to the sweep's own run (report/, laid out as on disk); the
    job runs, which the reports read, are not touched."""
    from rnngrad.reports.attach import attach

    said = attach(MlflowClient(uri(store)), EXP, built, "f1ngerpr1nt")
    (run_id,) = re.findall(r"^run (\w+), under report/$", said)
    client = MlflowClient(uri(store))
    run = client.get_run(run_id)
    assert run.data.tags[rec.ROLE] == "sweep"
    listed = {a.path for a in client.list_artifacts(run_id, "report")}
    assert listed == {f"report/{EXP}.html", "report/figures", "report/tables"}
    figures = {a.path for a in client.list_artifacts(run_id, f"report/figures/{EXP}")}
    assert figures == {
        f"report/figures/{EXP}/{p.name}" for p in (built / "figures" / EXP).iterdir()
    }
    assert run.data.tags[rec.REPORT_BUILT] == "f1ngerpr1nt"  # the same report is not sent twice
    assert (
        attach(MlflowClient(uri(store)), EXP, built, "f1ngerpr1nt")
        == f"run {run_id} already holds it, under report/"
    )
    assert (
        attach(MlflowClient(uri(store)), "no_such_experiment", built, "x")
        == "no sweep run to attach it to"
    )


def test_a_report_up_to_date_with_its_runs_code_and_options_is_not_built_again(
    store, tmp_path, capsys
):
    args = ["--experiment", EXP, "--tracking-uri", uri(store), "--out", str(tmp_path)]
    assert cli(args) == 0
    page = tmp_path / f"{EXP}.html"
    first = page.stat().st_mtime_ns
    assert "read in" in capsys.readouterr().out
    assert cli(args) == 0
    said = capsys.readouterr().out
    assert f"report '{EXP}': up to date with its " in said and "read in" not in said
    assert page.stat().st_mtime_ns == first and f"open {page}" in said
    assert cli([*args, "--ui", "http://127.0.0.1:5000"]) == 0  # another option: built again
    assert "read in" in capsys.readouterr().out
    assert cli([*args, "--ui", "http://127.0.0.1:5000", "--force"]) == 0
    assert "read in" in capsys.readouterr().out
    (tmp_path / f"{EXP}.html").unlink()  # a page gone: built again
    assert cli([*args, "--ui", "http://127.0.0.1:5000"]) == 0
    assert "read in" in capsys.readouterr().out and page.exists()


def test_a_reports_fingerprint_changes_with_any_run_and_with_the_options():
    def run(run_id, status="FINISHED", end=100, name="r", tags=None, metrics=None):
        info = SimpleNamespace(run_id=run_id, status=status, end_time=end, run_name=name)
        data = SimpleNamespace(tags=tags or {}, params={"a": "1"}, metrics=metrics or {"m": 1})
        return SimpleNamespace(info=info, data=data)

    runs = [run("a"), run("b")]
    base = fresh.fingerprint(runs, "ui=None")
    assert fresh.fingerprint(runs[::-1], "ui=None") == base  # the order it was read in: no
    changed = [
        runs[:1],  # a run gone (deleted)
        [*runs, run("c")],  # a run more
        [run("a"), run("b", end=101)],  # run again
        [run("a"), run("b", "KILLED")],
        [run("a"), run("b", name="renamed")],  # edited in the UI
        [run("a"), run("b", tags={"note": "edited"})],
        [run("a"), run("b", metrics={"m": 2})],
    ]
    assert all(fresh.fingerprint(r, "ui=None") != base for r in changed)
    assert fresh.fingerprint(runs, "ui=http://127.0.0.1:5000") != base
    assert fresh.fingerprint([run("a"), run("b", "RUNNING")], "ui=None") is None  # growing


def test_tables_sort_numbers_as_numbers():
    column = pd.Series(["128", "32", None, "8"], dtype=object)
    ordered = column.sort_values(key=tables.as_sortable, na_position="last")
    assert list(ordered.index) == [3, 1, 0, 2]  # 8, 32, 128, then the missing one
    words = pd.Series(["tanh", "10", "sigmoid"])  # not all numbers: as text
    assert list(words.sort_values(key=tables.as_sortable)) == ["10", "sigmoid", "tanh"]


def test_the_run_list_links_each_run_to_the_ui_and_leaves_its_name_to_the_columns(loaded):
    listed = tables.run_list(loaded)
    assert "run_name" in listed.frame and "run_name" not in listed.shown  # the columns say it
    settings = [c for c in ("activation", "skip", "T", "seed") if c in listed.shown]
    assert settings == ["activation", "skip", "T", "seed"]
    html = page.table_html(listed, EXP, "http://127.0.0.1:5000")
    for eid, rid in zip(listed.frame["experiment_id"], listed.frame["run_id"], strict=True):
        address = f"http://127.0.0.1:5000/#/experiments/{eid}/runs/{rid}"
        assert f"<a href='{address}?workflowType=machine_learning'>{rid[:8]}</a>" in html
    assert "<a href='http" not in page.table_html(listed, EXP)  # no UI known: no links


def test_failed_and_diverged_runs_are_shown_and_counted(built):
    listed = pd.read_csv(built / "tables" / EXP / "runs.csv")
    assert sorted(listed["outcome"].value_counts().index) >= ["diverged", "failed"]
    failed = listed[listed["outcome"] == "failed"]
    assert failed["status"].item() == "FAILED" and "deliberate failure" in failed["error"].item()
    html = (built / f"{EXP}.html").read_text()
    assert "<b>failed</b>" in html and "<b>diverged</b> at step" in html
    findings = (built / "tables" / EXP / "findings.md").read_text()
    assert "1 run(s) did not finish" in findings and "1 run(s) diverged" in findings


# -- 1. never pool unlike runs ---------------------------------------------------------------


def test_attention_and_the_rnn_never_share_a_table_row(mixed_built):
    out = mixed_built
    summary = pd.read_csv(out / "tables" / "rnn_vs_attention" / "summary.csv")
    assert len(summary) == 8 and (summary["n"] == 2).all()  # 2 tasks × 2 T × 2 models
    attention = summary[summary["model"] == "attention"]
    assert len(attention) == 4 and attention["activation"].isna().all()
    assert attention["sigma_max_mean"].isna().all()  # attention has no W_r
    assert summary[summary["model"] == "rnn"]["sigma_max_mean"].notna().all()


def test_tasks_never_share_a_line_or_a_baseline(mixed, mixed_built):
    out = mixed_built
    text = captions(out, "rnn_vs_attention")
    assert "0.375" not in " ".join(text.values())  # the blend of 0.5 and 0.25
    loss = text["learning_loss"]
    assert "0.693" in loss and "1.39" in loss  # one baseline per task panel
    assert "Rows: task" in text["learning_accuracy"] or "columns: task" in text["learning_accuracy"]
    for name in ("profile_final", "state", "learning_loss", "input_gradient", "model_metric"):
        assert "task" in text[name], name  # the task is a channel of every pooled figure
    exp = load("rnn_vs_attention", uri(mixed))
    for figure in figs.build(exp):
        plt.close(figure.fig)
        assert "None" not in figure.caption and "—" not in figure.caption
        if "spans them" in figure.caption:  # a band or bars only where seeds are averaged
            assert "the mean over" in figure.caption


def test_baselines_are_drawn_per_length_where_they_differ(tmp_path):
    """copy_memory's baseline 10 ln 8 / (T + 20) depends on T: never one blended line."""
    proc = train(
        tmp_path, "experiment=copy_memory", "task.T=5,10", "train.seed=0", experiment="copy_memory"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = build(tmp_path, tmp_path / "out", "copy_memory")
    text = captions(out, "copy_memory")
    per_t = {T: 10 * np.log(8) / (T + 20) for T in (5, 10)}  # 0.832, 0.693
    blend = np.mean(list(per_t.values()))
    for name in ("learning_loss",):
        assert all(f"{b:.3g}" in text[name] for b in per_t.values()), text[name]
        assert f"{blend:.3g}" not in text[name]
    exp = load("copy_memory", uri(tmp_path))
    for T, expected in per_t.items():
        recorded = exp.runs.loc[exp.runs["T"] == T, "baseline_loss"]
        np.testing.assert_allclose(recorded, expected, rtol=1e-12)  # from the run's record


def test_runs_no_sweep_varied_get_figures_of_their_own(store, tmp_path):
    """A single run of another task and step budget named into the experiment is never
    averaged with the sweep's runs: its own figures, its own rows, a sentence saying why."""
    extra = tmp_path / "store"
    shutil.copytree(store, extra)
    proc = train(extra, "task=permutation", "task.T=12", "train.steps=30", multirun=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = build(extra, tmp_path / "out")
    names = {p.stem for p in (out / "figures" / EXP).glob("*.png")}
    assert any(n.startswith("profile_final-") and "permutation" in n for n in names), names
    assert any(n.startswith("profile_final-") and "adding" in n for n in names), names
    assert "profile_final" not in names  # nothing pools the two
    findings = (out / "tables" / EXP / "findings.md").read_text()
    assert "which no sweep varied" in findings
    summary = pd.read_csv(out / "tables" / EXP / "summary.csv")
    assert (summary.loc[summary["task"] == "permutation", "n"] == 1).all()


# -- 4. a self-check that can fail, flagged everywhere -------------------------------------------


def test_a_failed_self_check_is_flagged_everywhere(tmp_path, monkeypatch, capsys):
    """The engine's backward broken (W_r for W_rᵀ) inside a real job: the run's tag, a WARNING
    on the console, red on the page and a line in the findings."""
    original = rnn_module.backward

    def broken(params, trace, ds, activation, skip, ws=None, leak=1.0):
        w_t = {**params, "W_r": params["W_r"].T}
        return original(w_t, trace, ds, activation, skip, ws, leak)

    monkeypatch.setattr(rnn_module, "backward", broken)
    register()
    overrides = [
        "debug=default",
        f"tracking.uri={uri(tmp_path)}",
        f"tracking.artifact_root={tmp_path}/art",
        "tracking.experiment=broken",
    ]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    result = run_job(cfg, overrides)
    printed = capsys.readouterr().out
    assert "WARNING" in printed and "FAILED at step 0" in printed
    assert result["selfcheck_ok"] is False and result["line"].endswith(
        "SELF-CHECK FAILED (see the WARNING above)"
    )
    (run,) = [
        r
        for r in MlflowClient(uri(tmp_path)).search_runs(
            [MlflowClient(uri(tmp_path)).get_experiment_by_name("broken").experiment_id]
        )
    ]
    assert run.data.tags[rec.SELFCHECK].startswith("FAILED at step 0")
    monkeypatch.setattr(rnn_module, "backward", original)
    out = build(tmp_path, tmp_path / "out", "broken")
    printed = capsys.readouterr().out
    assert "WARNING: SELF-CHECK FAILED in 1 of 1 runs" in printed
    html = (out / "broken.html").read_text()
    assert re.search(r"<p class='warn'>SELF-CHECK FAILED", html)
    assert (
        "**WARNING** SELF-CHECK FAILED" in (out / "tables" / "broken" / "findings.md").read_text()
    )
    summary = pd.read_csv(out / "tables" / "broken" / "summary.csv")
    assert summary["selfcheck_failed"].sum() == 1


def test_a_passed_self_check_is_stated_with_its_numbers(built):
    findings = (built / "tables" / EXP / "findings.md").read_text()
    assert "Self-check passed in all 17 runs" in findings
    match = re.search(r"largest relative difference ([0-9.e+-]+)", findings)
    assert match and float(match.group(1)) < 1e-6


# -- 8. pairs from one step; distances that never fell ------------------------------------------


def test_decay_and_bound_are_paired_from_one_training_step(loaded):
    exp = loaded
    wide = exp.history.pivot_table(index=["run_id", "step"], columns="metric", values="value")
    checked = 0
    for row in exp.runs.dropna(subset=["decay_factor"]).itertuples():
        at = wide.loc[(row.run_id, row.profile_step)]
        assert at["decay_factor"] == pytest.approx(row.decay_factor)
        assert at["bound"] == pytest.approx(row.bound)
        checked += 1
    diverged = exp.runs[exp.runs["outcome"] == "diverged"].iloc[0]
    assert diverged["final_step"] > diverged["profile_step"]  # later evaluations exist ...
    assert np.isfinite(diverged["bound"])  # ... yet the bound is the profile step's
    assert checked == 17


def test_a_distance_that_never_fell_is_beyond_the_sequence_not_an_average():
    values = pd.Series([np.nan, np.nan, 4.0])
    median, never, words = tables.fall(values, pd.Series([10, 10, 10]))
    assert np.isnan(median) and never == 2 and words == "> 9 (2 of 3 never)"
    assert tables.fall(pd.Series([3.0, 5.0, np.nan]), pd.Series([10] * 3))[2] == "5 (1 of 3 never)"


# -- 6. captions and claims ------------------------------------------------------------------------


def test_captions_are_true_to_their_figures(loaded):
    exp = loaded
    built_figures = {f.name: f for f in figs.build(exp)}
    try:
        main = max(frames.studies(exp, frames.usable(exp.runs)), key=lambda s: len(s.runs)).suffix
        theory = built_figures[f"theory{main}"]
        titles = [ax.get_title() for ax in theory.fig.axes]
        assert any("guarantees nothing" in t for t in titles)  # the skip panel
        assert sum("guaranteed" in t for t in titles) == 1  # only the plain panel
        colours = []  # each activation has one colour in both panels
        for ax in theory.fig.axes:
            legend = ax.get_legend()
            colours.append(
                {
                    text.get_text(): to_hex(handle.get_markerfacecolor())
                    for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True)
                    if text.get_text() in ("tanh", "sigmoid")
                }
            )
        assert len(colours) == 2 and colours[0] == colours[1] and len(colours[0]) == 2
        meshes = [
            c for ax in built_figures[f"profile_training{main}"].fig.axes for c in ax.collections
        ]
        scales = {m.get_clim() for m in meshes if hasattr(m, "get_clim")} - {(None, None)}
        assert len(scales) == 1 and len(meshes) >= 4  # four panels, one colour scale
        for f in built_figures.values():
            assert "None" not in f.caption and "—" not in f.caption
            assert "seed" in f.caption or "one run" in f.caption.lower()  # what stands behind it
            assert ("the band" in f.caption) == (
                "the mean over" in f.caption and "band" in f.caption
            )
    finally:
        for f in built_figures.values():
            plt.close(f.fig)


def test_the_findings_numbers_are_the_tables_numbers(loaded):
    exp = loaded
    items = finds.findings(exp)
    text = " ".join(" ".join([i.text, *i.details]) for i in items)
    main = max(frames.studies(exp, frames.usable(exp.runs)), key=lambda s: len(s.runs))
    tanh = main.runs[main.runs["variant"] == "rnn tanh"].dropna(subset=["decay_factor"])
    expected = f"{span(tanh['decay_factor'])} per step back"
    assert f"**rnn tanh** ({len(tanh)} runs" in text and expected in text
    assert span(tanh["bound"]) in text
    assert "saturated fraction" in text and "‖h_T‖" in text  # the state, per variant


def test_runs_of_an_older_record_get_a_note_not_a_crash(tmp_path, capsys):
    client = MlflowClient(uri(tmp_path))
    eid = client.create_experiment("old", artifact_location=(tmp_path / "art").as_uri())
    for seed in (0, 1):
        run_id = client.create_run(eid).info.run_id
        client.log_param(run_id, "task.name", "temporal_order")
        client.log_param(run_id, "train.seed", str(seed))
        client.log_metric(run_id, "valid_accuracy", 0.3)
        client.set_tag(run_id, rec.OUTCOME, "finished")
        client.set_terminated(run_id)
    out = build(tmp_path, tmp_path / "out", "old")
    assert "older version of rnngrad" in capsys.readouterr().out
    assert "older version" in (out / "tables" / "old" / "findings.md").read_text()
    assert len(pd.read_csv(out / "tables" / "old" / "runs.csv")) == 2


def test_an_experiment_whose_runs_all_failed_gets_a_report_not_a_crash(tmp_path):
    proc = train(tmp_path, "internal.crash_at_step=0", multirun=False, experiment="all_failed")
    assert proc.returncode != 0  # the run failed before it logged any evaluation
    out = build(tmp_path, tmp_path / "out", "all_failed")
    findings = (out / "tables" / "all_failed" / "findings.md").read_text()
    assert "1 run(s) did not finish (failed)" in findings
    assert len(pd.read_csv(out / "tables" / "all_failed" / "runs.csv")) == 1


# -- the rest of the contract ------------------------------------------------------------------


def test_figures_or_tables_alone(store, tmp_path):
    """Through the installed command and through the script in reports/."""
    commands = {
        "figures": [str(Path(sys.executable).parent / "rnngrad-report")],
        "tables": [sys.executable, str(ROOT / "reports" / "build.py")],
    }
    for only, command in commands.items():
        proc = subprocess.run(
            [
                *command,
                "--experiment",
                EXP,
                "--tracking-uri",
                uri(store),
                "--out",
                str(tmp_path),
                "--only",
                only,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert any((tmp_path / only / EXP).iterdir())
    assert not (tmp_path / f"{EXP}.html").exists()  # the page needs both


def test_a_figure_added_as_the_checklist_says_appears_on_the_page(store, tmp_path, monkeypatch):
    """docs/contributing.md, "Add a figure": a builder (exp, study) -> [Figure], listed in
    gallery.FIGURES, is drawn for every study, saved as PNG and SVG and shown on the page with
    its caption. Here it is the only one listed, to keep the build short."""
    drawn = []

    def run_count(exp, study):
        fig, ax = plt.subplots()
        ax.bar(["runs"], [len(study.runs)])
        drawn.append(study.suffix)
        caption = f"How many runs this study holds: {len(study.runs)}."
        return [Figure(f"run_count{study.suffix}", "Runs per study", fig, caption)]

    monkeypatch.setattr(figs, "FIGURES", [run_count])
    out = build(store, tmp_path)
    names = {p.name for p in (out / "figures" / EXP).iterdir()}
    assert len(drawn) == 2  # the sweep's runs and the diverged run's study
    assert names == {f"run_count{s}.{ext}" for s in drawn for ext in ("png", "svg")}
    text = captions(out)
    assert set(text) == {f"run_count{s}" for s in drawn}
    assert all("How many runs this study holds" in t for t in text.values())


def test_rebuilding_gives_identical_files_and_later_runs_appear(store, built, tmp_path):
    again = build(store, tmp_path / "again")
    first = {p.relative_to(built): p.read_bytes() for p in built.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    later = tmp_path / "later"
    shutil.copytree(store, later)
    proc = train(
        later,
        "task=adding",
        "model.activation=tanh",
        "task.T=10",
        "train.seed=2",
        "optim.lr=0.1",
        multirun=False,
    )
    assert proc.returncode == 0
    updated = build(later, tmp_path / "updated")
    assert len(pd.read_csv(updated / "tables" / EXP / "runs.csv")) == 19


def test_a_repeated_configuration_counts_once(store, tmp_path):
    again = tmp_path / "store"
    shutil.copytree(store, again)
    proc = train(
        again,
        "task=adding",
        "model.activation=tanh",
        "model.skip=false",
        "task.T=10",
        "train.seed=0",
        "optim.lr=0.1",
        "tracking.rerun=true",
        multirun=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    exp = load(EXP, uri(again))
    assert len(exp.listed) == 19 and len(exp.runs) == 18
    assert any("repeat a configuration" in n for n in exp.notes)


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
    with pytest.raises(NoRuns):
        load(EXP, f"sqlite:///{tmp_path}/absent.db")
    command = [sys.executable, "-m", "rnngrad.reports", "--experiment", "nope"]
    proc = subprocess.run(
        [*command, "--tracking-uri", uri(store)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1 and "no experiment 'nope'" in proc.stderr


@pytest.mark.slow
def test_reading_200_runs_takes_seconds(loaded, tmp_path):
    """200 runs with the pipeline's record and artifacts, logged straight to a fresh store."""
    profiled = loaded.runs[loaded.runs["run_id"].isin(loaded.profiles["run_id"])]
    source = profiled.iloc[0]  # a run that recorded profiles (not the failed one)
    art = Path(source["artifact_uri"].removeprefix("file://"))
    big_uri = empty_store(tmp_path / "big.db")
    client = MlflowClient(big_uri)
    eid = client.create_experiment("big", artifact_location=(tmp_path / "art").as_uri())
    for i in range(200):
        tags = {
            rec.OUTCOME: "finished",
            rec.VERSION_TAG: str(rec.VERSION),
            rec.CONFIG_HASH: f"h{i}",
        }
        run_id = client.create_run(eid, run_name=f"r{i:03d}", tags=tags).info.run_id
        params = {
            "model.activation": ["tanh", "sigmoid"][i % 2],
            "task.name": "adding",
            "task.T": "10",
            "train.seed": str(i),
        }
        client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
        client.log_artifacts(run_id, str(art))
        client.set_terminated(run_id)
    start = time.perf_counter()
    big = load("big", big_uri)
    seconds = time.perf_counter() - start
    assert len(big.runs) == 200 and big.profiles["run_id"].nunique() == 200
    assert seconds < 10, seconds


@pytest.mark.slow
def test_the_page_renders_in_a_real_browser(built, tmp_path):
    """Every image the page shows decodes in Chromium (naturalWidth > 0), and the page renders
    to a screenshot (left in the test's folder for a person to look at)."""
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed and cannot be installed here (not root/apt)")
    html = (built / f"{EXP}.html").read_text()
    images = re.findall(r"(?:src|href)='(figures/[^']+\.(?:png|svg))'", html)
    assert len(images) >= 18
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
    flags = ["--allow-file-access-from-files", "--virtual-time-budget=10000"]
    dom = dom_of(browser, [*profile, *flags], probe)
    probe.unlink()
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
    # it fits a 1280-pixel window: nothing wider than the window, however wide a table is
    fit = built / "fit.html"
    measure = (
        "<script>document.body.insertAdjacentHTML('beforeend', '<pre id=\"width\">' + "
        "document.documentElement.scrollWidth + '</pre>')</script>"
    )
    fit.write_text(html.replace("</body>", measure + "</body>"))
    dom = dom_of(browser, [*profile, "--window-size=1280,1000"], fit)
    fit.unlink()
    width = re.search(r'<pre id="width">(\d+)</pre>', dom)
    assert width and int(width.group(1)) <= 1280, dom[-300:]
    # every figure has alt text: its title and what its caption says
    for alt in re.findall(r"<img src='[^']+' alt='([^']*)'>", html):
        assert len(alt) > 80 and ": " in alt, alt


def test_other_presets_build_without_dropping_a_level(tmp_path):
    """The clipping preset sweeps optim.clip over null and 1.0 with nothing else varying (no
    hue in the panels): "no clipping" must stay a level of its own, in figures and tables."""
    proc = train(tmp_path, "experiment=clipping", "train.seed=0", experiment="clipping")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = build(tmp_path, tmp_path / "report", "clipping")
    summary = pd.read_csv(out / "tables" / "clipping" / "summary.csv")
    assert sorted(summary["clip"].astype(str)) == ["1", "none"]
    assert (out / "figures" / "clipping" / "final_metric.png").stat().st_size > 1000
