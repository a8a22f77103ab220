"""What a run records: every name the pipeline writes and the reports read, in one place.

A report shows only what runs recorded (reports/ never rebuilds a task or recomputes γ), so
this module is the contract between the two. VERSION changes whenever the contract does; a
run recorded under an older version is re-run by a sweep that finds it (its configuration is
not counted as finished) and is listed, not analysed, by the reports.
"""

from __future__ import annotations

VERSION = 4  # 4: model.leak and .init, optim.vanishing_reg, train.remedy; 3: only the keys
# of the task and model chosen

# -- experiments of runs outside a preset's sweep ----------------------------------------------
SINGLE_RUNS, DEBUG = "single_runs", "debug"

# -- tags ------------------------------------------------------------------------------------
VERSION_TAG = "rnngrad.record_version"
CONFIG_HASH = "rnngrad.config_hash"  # the resolved config without `tracking`
OUTCOME = "rnngrad.outcome"  # finished, solved, diverged, failed, killed
STEPS_DONE = "rnngrad.steps_done"
DIVERGED_AT = "rnngrad.diverged_at"
ERROR = "rnngrad.error"
TASK = "rnngrad.task"
MODEL = "rnngrad.model"  # the model as one label: its `label` ("rnn tanh + skip", "attention")
METRIC = "rnngrad.metric"  # the task's primary metric (a key of its metrics)
HIGHER_IS_BETTER = "rnngrad.higher_is_better"  # "true" or "false"
SWEPT = "rnngrad.swept"  # the config keys the run's sweep varied, comma-separated
SELFCHECK = "rnngrad.selfcheck"  # "passed" or "FAILED at step N: …"
REGIME = "rnngrad.regime"  # vanishing, stable or exploding at the end (pipeline/verdict.py)
REGIME_INITIAL = "rnngrad.regime_initial"  # the same at initialisation (step 0)
NOTE = "mlflow.note.content"  # the run's description in the UI: its outcome in one line
# An experiment's runs table as the MLflow UI opens it from ?viewStateShareKey=<key> (the UI's
# "shared view", held in an experiment tag): every run, flat, the most vanished first
VIEW_KEY = "by-gradient"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
OVERRIDES = "rnngrad.overrides"
GIT_COMMIT = "rnngrad.git_commit"
ROLE = "rnngrad.role"  # "sweep" on a sweep's parent run
REPORT_BUILT = "rnngrad.report_built_from"  # on a sweep run: the fingerprint of its report/
SWEEP_OVERRIDES = "rnngrad.sweep_overrides"
PARENT = "mlflow.parentRunId"
HOST, PID, HEARTBEAT = "rnngrad.host", "rnngrad.pid", "rnngrad.heartbeat"
PID_START = "rnngrad.pid_start"  # the pid's start time: a reused pid is another process
SLURM_JOB = "rnngrad.slurm_job_id"

# -- metrics (by training step) --------------------------------------------------------------
BASELINE = "baseline_"  # baseline_<metric>: the no-learning model on the validation set, step 0
VALID = "valid_"  # valid_<metric>: the task's metrics on the validation set
EVALUATION = ("train_loss", "grad_norm", "sigma_max", "rho", "bound")  # bound: γ σ_max [+ 1]
SOLVED = "solved"  # 1 where the validation metrics meet the task's criterion (if it has one)
PROFILE_SUMMARY = ("decay_factor", "log10_ratio", "fall_1e6", "fall_1e16")
STATE = ("saturation", "state_norm_last")
CHECK = ("selfcheck_rel_err", "selfcheck_bound_ratio", "selfcheck_ok")
WALL_TIME = "wall_time_s"
# the first and last profiles as metric series whose step is t (the UI's charts: x = t)
BY_T = "log10_grad_by_t"
BY_T_NOTE = (
    f"Charts {BY_T}/…: log10 of a gradient norm (a mean over the probe batch) at each step t of "
    "the sequence; the chart's step axis is t = 1..T (the report plots the distance T − t "
    "from the loss instead). long = ‖∂ℓ_T/∂h_t‖, what reaches h_t from the last step's loss; "
    "total = ‖∂J/∂h_t‖, from every loss term; dx = the total gradient reaching step t's input. "
    "_initial: before training; _final: at the end."
)

# -- artifacts -------------------------------------------------------------------------------
HISTORY = "history.csv"  # one row per evaluation, one column per scalar
PROFILES = "profiles.npz"  # arrays below, one row per recorded profile
PROFILE_ARRAYS = ("log10_long", "log10_total", "log10_dx", "state_norm", "saturation")
CONFIG = "config.yaml"
FIGURE = "profile.png"


def finished_now(run) -> bool:
    """A FINISHED run recorded under the current record version: it counts as done (an older
    one lacks what the reports need, and its configuration runs again)."""
    return run.info.status == "FINISHED" and run.data.tags.get(VERSION_TAG) == str(VERSION)
