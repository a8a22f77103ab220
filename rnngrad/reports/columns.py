"""How a run's params and tags become one typed row of a frame: the only code that knows
MLflow params are strings, and which columns the reports call them by. Every tag name comes
from the run record (rnngrad/pipeline/record.py)."""

from __future__ import annotations

import math

from rnngrad.pipeline import record as rec
from rnngrad.pipeline.config import param_types

# params as logged (strings) -> their types, from the config schema; anything else a string
PARAM_TYPES = param_types()
SHORT = {  # column names in the frames
    "model.name": "model",
    "task.name": "task",
    "task.T": "T",
    "task.delay": "delay",
    "task.mode": "mode",
    "task.seq_len": "seq_len",
    "task.valid_fraction": "valid_fraction",
    "task.split_seed": "split_seed",
    "task.permutation_seed": "permutation_seed",
    "model.hidden_size": "hidden_size",
    "model.activation": "activation",
    "model.skip": "skip",
    "model.recurrent_init": "recurrent_init",
    "model.recurrent_scale": "recurrent_scale",
    "model.dtype": "dtype",
    "model.leak": "leak",
    "model.init": "init",
    "optim.vanishing_reg": "vanishing_reg",
    "train.remedy": "remedy",
    "optim.lr": "lr",
    "optim.clip": "clip",
    "optim.batch_size": "batch_size",
    "train.steps": "steps",
    "train.seed": "seed",
    "train.eval_every": "eval_every",
    "train.profile_every": "profile_every",
    "train.valid_size": "valid_size",
    "train.probe_size": "probe_size",
    "train.early_stop": "early_stop",
}
DERIVED = ("task.seq_len", "task.input_size", "task.output_size")  # not settings
RNN_ONLY = (
    "activation",
    "skip",
    "recurrent_init",
    "recurrent_scale",
    "leak",
    "init",
)  # blank: attention


def cast(name: str, text: str | None):
    kind = PARAM_TYPES.get(name, str)
    if text is None or text in ("None", "null", ""):
        return math.nan if kind in (int, float) else None
    if kind is bool:
        return text == "True"  # params are strings; under pandas 3 so is everything read back
    return kind(text)


def column(param: str) -> str:
    return SHORT.get(param, param)


def is_setting(param: str) -> bool:
    """A param the user set (not the store's address, nothing derived from the task, and not
    the deliberate crash of the fault tests, which earlier versions logged as a param)."""
    return (
        not param.startswith(("tracking.", "internal."))
        and param not in DERIVED
        and param != "train.crash_at_step"
    )


def run_row(run) -> dict:
    """One MLflow run as a row: what it is, how it ended, what it recorded, its settings."""
    tags, params = run.data.tags, run.data.params
    status = run.info.status
    row = {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "run_name": run.info.run_name,
        "start_time": run.info.start_time,
        "status": status,
        "outcome": tags.get(rec.OUTCOME, "running" if status == "RUNNING" else status.lower()),
        "diverged_at": float(tags.get(rec.DIVERGED_AT, "nan")),
        "error": tags.get(rec.ERROR, ""),
        "config_hash": tags.get(rec.CONFIG_HASH, ""),
        "record_version": int(tags.get(rec.VERSION_TAG, "1")),
        "variant": tags.get(rec.MODEL),
        "metric": tags.get(rec.METRIC),
        "swept": tags.get(rec.SWEPT, ""),
        "selfcheck": tags.get(rec.SELFCHECK, ""),
        "git_commit": tags.get(rec.GIT_COMMIT, ""),
        "artifact_uri": run.info.artifact_uri,
    }
    for name, text in params.items():
        if not name.startswith("tracking.") and name not in DERIVED:
            row[column(name)] = cast(name, text)
    row["seq_len"] = cast("task.seq_len", params.get("task.seq_len"))
    if row.get("model") == "attention":
        for col in RNN_ONLY:
            row[col] = None
    return row
