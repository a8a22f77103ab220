"""One training job, or a sweep of them: the entry point of every experiment.

    python experiments/train.py -m                        # the vanishing sweep (make sweep)
    python experiments/train.py -m experiment=horizon     # another preset (conf/experiment/)
    python experiments/train.py task=adding task.T=50     # a single run
    python experiments/train.py debug=default             # a tiny run

Each job trains one model (an RNN, or attention for contrast) with the NumPy engine and
records one MLflow run (rnngrad.pipeline.job); the sweeper (rnngrad.pipeline.sweeper)
validates every job first, skips what already finished and prints a summary. A sweep's runs
go to its preset's experiment; a single run goes to 'single_runs' and anything with
debug=default to 'debug', unless tracking.experiment=NAME says otherwise: a preset's
experiment holds only that preset's sweeps. Configs: conf/. Runs: the MLflow store (make ui).
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from rnngrad.pipeline.cli_help import text as help_text
from rnngrad.pipeline.config import ConfigError, register
from rnngrad.pipeline.errors import one_line
from rnngrad.pipeline.interrupts import exit_quietly, raise_on_sigterm
from rnngrad.pipeline.preflight import preflight
from rnngrad.pipeline.record import DEBUG, SINGLE_RUNS
from rnngrad.pipeline.store import StoreError, credentials_to_env, public

CONF = Path(__file__).resolve().parents[1] / "conf"
register()


@hydra.main(config_path=str(CONF), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    from rnngrad.pipeline.job import run  # MLflow: only once there is a job

    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    in_sweep = cfg.internal.parent_run_id is not None
    named = any(o.lstrip("+~").startswith("tracking.experiment=") for o in overrides)
    if not (in_sweep or named or cfg.tracking.experiment == DEBUG):
        cfg.tracking.experiment = SINGLE_RUNS  # not into the preset's experiment
    try:
        return run(cfg, overrides, hc.job.num if in_sweep else None)
    except Exception as err:  # a single run: one line (a sweep's summary says it for its jobs)
        if in_sweep or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        if isinstance(err, ConfigError):  # found where the task and model are built
            print(f"bad configuration: {err}", file=sys.stderr, flush=True)
            sys.exit(2)
        if isinstance(err, StoreError):
            print(f"store failure: {public(str(err))}", file=sys.stderr, flush=True)
        else:
            said = f"{public(one_line(err))} (the traceback: HYDRA_FULL_ERROR=1)"
            print(f"run failed: {said}", file=sys.stderr, flush=True)
        sys.exit(1)


def without_credentials(arguments: list[str]) -> list[str]:
    """The command line with a server URI's user:password@ moved to MLflow's environment
    variables (store.credentials_to_env), before Hydra writes the overrides to its output
    folder or any message can show them."""
    out = []
    for arg in arguments:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+~") == "tracking.uri":
            arg = f"{key}={credentials_to_env(value)}"
        out.append(arg)
    return out


if __name__ == "__main__":
    if {"--help", "-h"} & set(sys.argv[1:]):
        print(help_text(CONF))
        sys.exit(0)
    sys.argv[1:] = without_credentials(sys.argv[1:])
    preflight(CONF, sys.argv[1:])
    raise_on_sigterm()
    try:
        main()
    except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM, SIGHUP: every run closed as KILLED
        exit_quietly(stop, "sweep" if {"-m", "--multirun"} & set(sys.argv) else "run")
    finally:
        # Everything is recorded and closed by now. Without this, the interpreter's exit
        # walks the objects of every imported module (MLflow's above all) with the garbage
        # collector: half a second of a launch that trained for a tenth of one. (atexit
        # handlers still run; only objects left in reference cycles are not finalised.)
        gc.freeze()
