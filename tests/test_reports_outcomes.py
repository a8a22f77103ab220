"""The figures of what runs achieved (rnngrad/reports/outcome_figures.py), on MLflow stores
whose runs record known outcomes (logged as the pipeline logs them: tags, params and a
history.csv), and on a real sweep:
- success against length: the fraction of seeds solved per variant and length, with the
  95 % Wilson interval scipy computes; a diverged run counts as not solved, a run stopped
  early as solved counts as solved; variants are never pooled; a single length still draws;
  a task without a success criterion draws no figure and the findings say why;
- reach against learning: x is step 0's log10 ratio (not the last one), y the final primary
  metric; the baseline is drawn per length where it differs with the length, never blended;
  runs whose reach is not finite are counted in the caption, not dropped silently;
- both figures are in the report a real sweep builds, with their captions.

Run: .venv/bin/pytest tests/test_reports_outcomes.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Param
from mlflow.tracking import MlflowClient
from scipy.stats import binomtest
from stores import empty_store
from test_reports import captions

from rnngrad.pipeline import record as rec
from rnngrad.reports import findings as finds
from rnngrad.reports import gallery, outcome_figures
from rnngrad.reports.cli import main as cli
from rnngrad.reports.frames import studies, usable
from rnngrad.reports.load import load

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SWEPT = "model.activation,task.T,train.seed"


def history(
    solved: list[float] | None, reach: tuple[float, float], final: float, baseline: float
) -> pd.DataFrame:
    """A run's history.csv: step 0 (its baselines and the reach before any update) and one
    evaluation per entry of `solved` (None: a task without a criterion, one evaluation)."""
    steps = len(solved) if solved else 1
    rows = {
        "step": [0, *range(50, 50 * steps, 50)][:steps],
        "valid_loss": [1.0] * steps,
        "valid_accuracy": [0.25] * (steps - 1) + [final],
        "decay_factor": [0.5] * steps,
        "log10_ratio": [reach[0], *[reach[1]] * (steps - 1)],
    }
    if solved is not None:
        rows["solved"] = solved
    later = [np.nan] * (steps - 1)
    rows |= {"baseline_accuracy": [baseline, *later], "baseline_loss": [1.39, *later]}
    return pd.DataFrame(rows)


def record(client, eid, folder: Path, *, activation: str, T: int, seed: int, **how) -> str:
    """One finished job's run: its tags, params and history.csv (`how`: the outcome, the
    `solved` values per evaluation, the reach at step 0 and at the end, the final accuracy,
    the baseline, the task; a diverged run's last evaluation has only its training loss)."""
    outcome = how.get("outcome", "finished")
    tags = {
        rec.OUTCOME: outcome,
        rec.VERSION_TAG: str(rec.VERSION),
        rec.CONFIG_HASH: f"{activation}-{T}-{seed}",
        rec.MODEL: f"rnn {activation}",
        rec.METRIC: "accuracy",
        rec.SWEPT: SWEPT,
        rec.SELFCHECK: "passed (2 profiles)",
    }
    name = f"{activation}-T{T}-s{seed}"
    run_id = client.create_run(eid, run_name=name, tags=tags).info.run_id
    params = {
        "task.name": how.get("task", "temporal_order"),
        "task.T": str(T),
        "model.name": "rnn",
        "model.activation": activation,
        "train.seed": str(seed),
    }
    client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
    frame = history(
        how.get("solved", [0.0, 0.0]),
        how.get("reach", (-3.0, -1.0)),
        how.get("final", 0.25),
        how.get("baseline", 0.25),
    )
    if outcome == "diverged":  # the diverging step: a training loss, nothing else
        frame = pd.concat([frame, pd.DataFrame({"step": [90], "train_loss": [np.inf]})])
    (folder / name).mkdir(parents=True)
    frame.to_csv(folder / name / rec.HISTORY, index=False)
    client.log_artifact(run_id, str(folder / name / rec.HISTORY))
    client.set_terminated(run_id)
    return run_id


def store(tmp: Path, runs: list[dict], experiment: str = "known") -> MlflowClient:
    client = MlflowClient(empty_store(tmp / "mlflow.db"))
    eid = client.create_experiment(experiment, artifact_location=(tmp / "art").as_uri())
    for how in runs:
        record(client, eid, tmp / "files", **how)
    return load(experiment, f"sqlite:///{tmp}/mlflow.db")


def figures(exp, builder) -> list:
    (study,) = studies(exp, usable(exp.runs))
    return builder(exp, study)


def wilson(k: int, n: int) -> tuple[float, float]:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def drawn_points(ax) -> dict:
    """{colour: [(x, fraction, (low, high))]}: each line of points and its bars (a bar is one
    path: its caps, NaN, the vertical segment, NaN, its caps)."""
    lines = [line for line in ax.lines if len(line.get_xdata())]  # legend handles: no data
    marked = [line for line in lines if line.get_marker() not in (None, "None", "")]
    bars = {
        (tuple(line.get_color()), round(float(np.nanmedian(line.get_xdata())), 6)): (
            float(np.nanmin(line.get_ydata())),
            float(np.nanmax(line.get_ydata())),
        )
        for line in lines
        if line not in marked
    }
    return {
        tuple(line.get_color()): [
            (float(x), float(y), bars[tuple(line.get_color()), round(float(x), 6)])
            for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)
        ]
        for line in marked
    }


# T = 10: tanh 2 of 3 (one stopped early as solved, one diverged); sigmoid 3 of 3.
# T = 20: tanh 0 of 3; sigmoid 1 of 3. Pooled, the two would read 5/6 and 1/6.
KNOWN = [
    {"activation": "tanh", "T": 10, "seed": 0, "outcome": "solved", "solved": [0.0, 1.0]},
    {"activation": "tanh", "T": 10, "seed": 1, "solved": [0.0, 1.0]},
    {"activation": "tanh", "T": 10, "seed": 2, "outcome": "diverged"},
    *({"activation": "tanh", "T": 20, "seed": s} for s in range(3)),
    *({"activation": "sigmoid", "T": 10, "seed": s, "solved": [0.0, 1.0]} for s in range(3)),
    {"activation": "sigmoid", "T": 20, "seed": 0, "solved": [0.0, 1.0]},
    *({"activation": "sigmoid", "T": 20, "seed": s} for s in (1, 2)),
]


def test_success_is_the_fraction_of_seeds_solved_with_wilson_intervals(tmp_path):
    exp = store(tmp_path, KNOWN)
    diverged = exp.runs[exp.runs["outcome"] == "diverged"].iloc[0]
    assert np.isnan(diverged["solved"]) and diverged["criterion"]  # judged, not solved
    (figure,) = figures(exp, outcome_figures.success_length)
    try:
        ax = figure.fig.axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "20"]
        legend = {t.get_text() for t in figure.fig.legends[0].get_texts()}
        assert {"rnn sigmoid", "rnn tanh"} <= legend
        lines = sorted(drawn_points(ax).values(), key=lambda pts: pts[0][0])  # by dodge
        expected = [[(3, 3), (1, 3)], [(2, 3), (0, 3)]]  # sigmoid, then tanh (sorted)
        assert len(lines) == 2
        for points, counts in zip(lines, expected, strict=True):
            for (_, fraction, bar), (k, n) in zip(points, counts, strict=True):
                assert fraction == pytest.approx(k / n)
                assert bar == pytest.approx(wilson(k, n))
        assert lines[1][0][1] == pytest.approx(0.667, abs=5e-4)  # 2 of 3
        fractions = {round(y, 3) for pts in lines for _, y, _ in pts}
        assert not fractions & {round(5 / 6, 3), round(1 / 6, 3)}  # variants never pooled
        assert "n = 3 seeds per point" in figure.caption
        assert "95 % Wilson score intervals" in figure.caption
        assert "Colour: variant" in figure.caption and "None" not in figure.caption
    finally:
        plt.close(figure.fig)


def test_a_single_length_still_draws_its_points(tmp_path):
    exp = store(tmp_path, [run for run in KNOWN if run["T"] == 10])
    (figure,) = figures(exp, outcome_figures.success_length)
    try:
        ax = figure.fig.axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["10"]
        fractions = sorted(y for pts in drawn_points(ax).values() for _, y, _ in pts)
        assert fractions == pytest.approx([2 / 3, 1.0])
        assert "Fixed: " in figure.caption and "T 10" in figure.caption
    finally:
        plt.close(figure.fig)


def test_a_task_without_a_success_criterion_draws_no_success_figure_and_says_why(tmp_path):
    runs = [{**run, "solved": None, "task": "digits"} for run in KNOWN if run["T"] == 10]
    for run in runs:
        run.pop("outcome", None)
    exp = store(tmp_path, runs)
    assert not exp.runs["criterion"].any()
    assert figures(exp, outcome_figures.success_length) == []
    said = [f.text for f in finds.criteria(exp)]
    assert said == [
        "The task digits has no success criterion: the report draws no figure of success "
        "against length."
    ]
    assert said[0] in " ".join(f.text for f in finds.findings(exp))


def test_reach_is_step_0s_log10_ratio_and_the_baseline_is_drawn_per_length(tmp_path):
    """Baselines 0.25 at T = 10 and 0.5 at T = 20: two panels, a line each, no 0.375."""
    runs = [
        {
            "activation": a,
            "T": T,
            "seed": s,
            "reach": (-2.0 * T / 10 - s, 7.0),
            "final": 0.3 + s / 10,
        }
        | {"baseline": 0.25 if T == 10 else 0.5}
        for a in ("tanh", "sigmoid")
        for T in (10, 20)
        for s in (0, 1)
    ]
    exp = store(tmp_path, runs)
    (figure,) = figures(exp, outcome_figures.reach_learning)
    try:
        panels = {ax.get_title(): ax for ax in figure.fig.axes if ax.collections}
        assert len(panels) == 2, panels.keys()
        for title, ax in panels.items():
            T = 10 if "10" in title else 20
            xs = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections])
            assert sorted(xs) == sorted([-2.0 * T / 10 - s for s in (0, 1)] * 2)  # step 0's
            flat = [line.get_ydata()[0] for line in ax.lines if len(set(line.get_ydata())) == 1]
            assert flat == [pytest.approx(0.25 if T == 10 else 0.5)]
        assert "0.25" in figure.caption and "0.5" in figure.caption
        assert "0.375" not in figure.caption
        assert "x is how far the gradient reached" in figure.caption
        assert "y is the run's final validation accuracy" in figure.caption
        assert "Not shown" not in figure.caption
    finally:
        plt.close(figure.fig)


def test_runs_whose_reach_is_not_finite_are_counted_not_dropped_silently(tmp_path):
    runs = [
        {"activation": a, "T": T, "seed": s, "reach": (-1.0 - s, -1.0)}
        for a in ("tanh", "sigmoid")
        for T in (10, 20)
        for s in (0, 1)
    ]
    runs[0]["reach"] = (-np.inf, -1.0)  # no gradient reached h_1
    runs[1]["reach"] = (np.nan, -1.0)  # none recorded (history.csv then has no value)
    runs[2]["outcome"] = "diverged"  # no final accuracy
    exp = store(tmp_path, runs)
    assert np.isneginf(exp.runs["log10_ratio_initial"]).sum() == 1
    (figure,) = figures(exp, outcome_figures.reach_learning)
    try:
        drawn = sum(len(c.get_offsets()) for ax in figure.fig.axes for c in ax.collections)
        assert drawn == len(runs) - 3
        assert "One point per run (5 runs" in figure.caption
        assert "Not shown: 2 run(s) whose log10 ratio at step 0 is not finite" in figure.caption
        assert "Not shown: 1 run(s) with no final validation accuracy" in figure.caption
        assert "Marker: T" in figure.caption or "marker: T" in figure.caption
    finally:
        plt.close(figure.fig)


@pytest.mark.slow
def test_both_figures_are_in_the_report_a_sweep_builds(tmp_path):
    """A real sweep of the temporal order problem at two lengths, two seeds, two activations."""
    command = [
        sys.executable,
        str(ROOT / "experiments" / "train.py"),
        "-m",
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        f"tracking.artifact_root={tmp_path}/art",
        f"hydra.sweep.dir={tmp_path}/multirun",
        "debug=default",
        "tracking.experiment=outcomes",
        "task.T=10,20",
        "model.activation=tanh,sigmoid",
        "model.skip=false",
        "model.hidden_size=8",
        "train.seed=0,1",
    ]
    empty_store(tmp_path / "mlflow.db")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "out"
    args = ["--experiment", "outcomes", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db"]
    assert cli([*args, "--out", str(out)]) == 0
    names = {p.name for p in (out / "figures" / "outcomes").iterdir()}
    for figure in ("success_length", "reach_learning"):
        assert {f"{figure}.png", f"{figure}.svg"} <= names
    html = (out / "outcomes.html").read_text()
    assert "<figure id='success_length'>" in html and "<figure id='reach_learning'>" in html
    assert html.index("id='final_metric'") < html.index("id='success_length'")
    text = captions(out, "outcomes")
    assert "95 % Wilson score intervals" in text["success_length"], text["success_length"]
    assert "One point per run (8 runs" in text["reach_learning"], text["reach_learning"]
    assert gallery.FIGURES[-2:] == [
        outcome_figures.success_length,
        outcome_figures.reach_learning,
    ]
