"""How a run and a job are named: in the console, in the sweep summary, in the MLflow UI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Plan


def run_label(overrides: list[str]) -> str:
    """ "activation=tanh skip=true T=30 seed=0" from the job's overrides (tracking.* left out)."""
    parts = []
    for o in overrides:
        if o.startswith("tracking.") or "=" not in o:
            continue
        key, value = o.split("=", 1)
        parts.append(f"{key.rsplit('.', 1)[-1].lstrip('+~')}={value}")
    return " ".join(parts)


def job_label(overrides: list[str], index: int | None, total: int | None) -> str:
    """ "[3/48] activation=tanh ..." in a sweep, "[run] ..." for a single run."""
    prefix = f"[{index + 1}/{total}]" if index is not None and total else "[run]"
    return f"{prefix} {run_label(overrides)}".rstrip()


def run_title(plan: Plan) -> str:
    """ "temporal_order T=30 rnn tanh H=32 seed=0": a run's figure title, from what it built
    (T: the length of the sequences the task produces)."""
    task, model = plan.task, plan.model
    size = f"H={model.hidden_size} seed={plan.settings.seed}"
    return f"{task.name} T={task.seq_len} {model.label} {size}"
