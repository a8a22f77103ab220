"""Tidy frames for the figures and tables, derived from a loaded experiment (reports/load.py):
which config columns vary, the task baselines, the theory bound, the final state of each run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnngrad.profile import GAMMA
from rnngrad.tasks import make_task

# config columns that can tell runs apart (seed is aggregated over, never a panel)
FACTORS = [
    "task",
    "activation",
    "skip",
    "hidden_size",
    "T",
    "delay",
    "mode",
    "recurrent_init",
    "recurrent_scale",
    "clip",
    "lr",
    "steps",
]
PRIMARY = {
    "temporal_order": "accuracy",
    "latch": "accuracy",
    "digits": "accuracy",
    "copy_memory": "sequence_accuracy",
    "adding": "mse",
    "text": "bpc",
}
HIGHER_IS_BETTER = {"accuracy": True, "sequence_accuracy": True, "mse": False, "bpc": False}
TASK_PARAMS = {"T": "T", "delay": "delay", "mode": "mode"}


def varying(runs: pd.DataFrame) -> list[str]:
    """The config columns with more than one value among the runs (their sweep axes)."""
    out = []
    for col in FACTORS:
        if col in runs and runs[col].astype(str).nunique(dropna=False) > 1:
            out.append(col)
    return out


def describe_fixed(runs: pd.DataFrame) -> str:
    """What all runs share, for captions: "task temporal_order, lr 0.1, 1000 steps"."""
    parts = []
    for col in FACTORS:
        if col in runs and runs[col].astype(str).nunique(dropna=False) == 1:
            value = runs[col].iloc[0]
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                parts.append(f"{col} {value}")
    return ", ".join(parts)


def baseline(row: pd.Series) -> dict[str, float]:
    """The no-learning baseline of a run's task (TASKS.md), as the task computes it."""
    params = {}
    for col, name in TASK_PARAMS.items():
        value = row.get(col)
        if value is not None and not (isinstance(value, float) and np.isnan(value)):
            params[name] = int(value) if col in ("T", "delay") else value
    return make_task(row["task"], **params).baseline()


def primary(runs: pd.DataFrame) -> str:
    """The metric that says how well the task is done (accuracy, mse, bpc...)."""
    tasks = runs["task"].dropna().unique()
    return PRIMARY.get(tasks[0], "accuracy") if len(tasks) else "accuracy"


def with_theory(runs: pd.DataFrame) -> pd.DataFrame:
    """Add γ, γ·σ_max and the bound each run is held to (1 + γ σ_max with the skip)."""
    out = runs.copy()
    out["gamma"] = out["activation"].map(GAMMA)
    out["gamma_sigma"] = out["gamma"] * out["sigma_max"]
    return out


def violations(exp) -> pd.DataFrame:
    """Every recorded step where a run's largest per-step factor exceeded its bound: each is
    a bug in the engine (the bound is a theorem), to be reported loudly."""
    h = exp.history.pivot_table(index=["run_id", "step"], columns="metric", values="value")
    if not {"max_step_factor", "bound"} <= set(h.columns):
        return pd.DataFrame(columns=["run_id", "step", "max_step_factor", "bound"])
    bad = h[h["max_step_factor"] > h["bound"] * (1 + 1e-9)]
    return bad[["max_step_factor", "bound"]].reset_index()


def label(runs: pd.DataFrame, cols: list[str]) -> pd.Series:
    """ "activation=tanh, skip=True" style labels of the given columns."""
    if not cols:
        return pd.Series("all runs", index=runs.index)
    return (
        runs[cols]
        .astype(str)
        .apply(lambda r: ", ".join(f"{c}={v}" for c, v in zip(cols, r, strict=True)), axis=1)
    )


def variant(runs: pd.DataFrame) -> pd.Series:
    """ "attention", or "rnn tanh", "rnn sigmoid + skip", ...: the model as one label."""

    def one(r):
        if r.get("model") == "attention":
            return "attention"
        return f"rnn {r.get('activation')}" + (" + skip" if bool(r.get("skip")) else "")

    return runs.apply(one, axis=1)


def subset(exp, mask: pd.Series):
    """The same experiment restricted to some runs (their history and profiles too)."""
    import copy

    keep = set(exp.runs.loc[mask, "run_id"])
    out = copy.copy(exp)
    out.runs = exp.runs[mask].reset_index(drop=True)
    out.history = exp.history[exp.history["run_id"].isin(keep)]
    out.profiles = exp.profiles[exp.profiles["run_id"].isin(keep)]
    return out
