"""What the console and the MLflow UI say of a run (rnngrad/pipeline/verdict.py): the regime
rule at its boundaries, the one-line description, and where a run can be seen."""

import json
import math

import pytest

from rnngrad.pipeline import verdict
from rnngrad.pipeline.store import PROJECT_ROOT


@pytest.mark.parametrize(
    "log10_ratio,regime",
    [
        (-64.0, "vanishing"),
        (-2.0001, "vanishing"),
        (-2.0, "stable"),  # exactly 1 %: still kept
        (0.0, "stable"),
        (2.0, "stable"),
        (2.0001, "exploding"),
        (math.nan, None),  # no profile
        (-math.inf, "vanishing"),  # exactly zero at h_1 (a dead relu unit's only path, say)
        (None, None),
    ],
)
def test_the_regime_rule_is_two_decades_either_way(log10_ratio, regime):
    assert verdict.regime(log10_ratio) == regime


def test_a_description_says_the_gradient_its_decay_and_the_metric_against_its_baseline():
    final = {
        "log10_ratio": -63.6,
        "decay_factor": 0.2291,
        "fall_1e6": 9.0,
        "valid_accuracy": 0.2712,
    }
    said = verdict.describe(final, "accuracy", {"baseline_accuracy": 0.25}, 100)
    assert said == (
        "gradient at t = 1 (99 steps back): 10^-64 of its loss-step value (vanishing), fitted "
        "×0.229 per step, first under 10^-6 at 9 steps back; accuracy 0.271, baseline 0.25"
    )
    # a gradient that never falls 10^-6 within the sequence has no such distance to say
    stable = {"log10_ratio": -1.26, "decay_factor": 0.9707, "fall_1e6": math.nan}
    assert verdict.describe(stable, "mse", {}, 100) == (
        "gradient at t = 1 (99 steps back): 10^-1.3 of its loss-step value (stable), fitted "
        "×0.971 per step"
    )
    flat = {"log10_ratio": 0.0, "decay_factor": 1.0001}
    assert "fitted ×1.00 per step" in verdict.describe(flat, "mse", {}, 10)  # three digits, always
    assert verdict.describe({"valid_bpc": 2.5}, "bpc", {"baseline_bpc": math.nan}, 50) == "bpc 2.5"
    assert verdict.describe({}, "accuracy", {}, 10) == ""
    said = verdict.describe({"log10_ratio": -math.inf}, "mse", {}, 10)
    assert said == "gradient at t = 1 (9 steps back): 0 of its loss-step value (vanishing)"


def test_where_names_the_commands_for_the_store_it_is_in():
    home = f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"
    assert verdict.where(home, "vanishing", "2") == [
        "browse: make ui, then http://127.0.0.1:5000/#/experiments/2/runs"
        "?viewStateShareKey=by-gradient&workflowType=machine_learning",
        "report: make report EXPERIMENT=vanishing",
    ]
    other = "sqlite:////data/runs.db"
    assert verdict.where(other, "mine", "5", "abc") == [
        "browse: mlflow ui --backend-store-uri sqlite:////data/runs.db, then "
        "http://127.0.0.1:5000/#/experiments/5/runs/abc?workflowType=machine_learning",
        "report: rnngrad-report --experiment mine --tracking-uri sqlite:////data/runs.db",
    ]
    server = "http://alice:secret@cluster:5050/"
    said = verdict.where(server, "horizon", "7")
    assert said == [
        "browse: http://cluster:5050/#/experiments/7/runs"
        "?viewStateShareKey=by-gradient&workflowType=machine_learning",
        "report: rnngrad-report --experiment horizon --tracking-uri http://cluster:5050/",
    ]


def test_progress_counts_ended_jobs_and_estimates_what_is_left(capsys, monkeypatch):
    from rnngrad.pipeline import progress

    assert [progress.duration(s) for s in (9.4, 100, 3600 * 2 + 300)] == [
        "9 s",
        "1 min 40 s",
        "2 h 05 min",
    ]
    assert progress.left(0, 48, 10.0) == "" and progress.left(48, 48, 10.0) == ""
    assert progress.left(12, 48, 100.0) == ", about 5 min 00 s left"  # 36 more at 100/12 s each
    clock = iter([0.0, 1.0, 7.0, 8.0, 20.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    p = progress.Progress(4, every_s=5.0)  # starts at 0
    for _ in range(4):
        p.job_ended()  # at 1 (too soon), 7 (printed), 8 (too soon), 20 (the last: the summary says it)
    assert capsys.readouterr().out.splitlines() == [
        "sweep: 2 of 4 jobs done, 7 s elapsed, about 7 s left"
    ]
    # with the jobs' expected costs (longest first): the cost still to come, at the pace so far
    clock = iter([0.0, 6.0, 12.0])
    p = progress.Progress(3, every_s=5.0, costs=[8.0, 2.0, 2.0])
    p.job_ended(0)  # 8 of 12 units in 6 s: 4 more take 3 s (a count alone would say 12 s)
    assert capsys.readouterr().out.splitlines() == [
        "sweep: 1 of 3 jobs done, 6 s elapsed, about 3 s left"
    ]


def test_the_shared_view_keeps_the_metrics_of_every_sweep_of_its_experiment():
    from rnngrad.pipeline.sweep_record import gradient_view

    first = gradient_view(["accuracy"])
    assert gradient_view(["accuracy"], first) == first  # the same sweep again: unchanged
    both = json.loads(gradient_view(["mse"], first))
    assert both["selectedColumns"][:3] == [
        "tags.`rnngrad.regime`",
        "metrics.`log10_ratio`",
        "metrics.`decay_factor`",
    ]
    assert {"metrics.`valid_accuracy`", "metrics.`valid_mse`"} <= set(both["selectedColumns"])
    assert both["orderByKey"] == "metrics.`log10_ratio`" and both["orderByAsc"]
