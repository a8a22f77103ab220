"""The report of a sweep, built when the sweep ends, in the sweep's own process (`make
sweep`): a Hydra callback that conf/config.yaml registers and `tracking.report=true` turns on.

It runs `rnngrad-report --experiment <the sweep's> --attach` (rnngrad.reports.cli) after the
sweeper returns, on the sweep's store, linking run ids to `tracking.ui` if set. Building it
here rather than in a second command saves a second start of MLflow (~2 s), which is most of
what a relaunch of a finished sweep costs. A sweep that fails (a failed job) ends before it.
"""

from __future__ import annotations

import sys

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class BuildReport(Callback):
    def __init__(self, out: str | None = None) -> None:
        self.out = out  # the report's folder (hydra.callbacks.report.out); None: reports/

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        tracking = config.tracking
        if not (tracking.report and tracking.enabled):
            return
        from rnngrad.reports.cli import main  # plotting, once there is a report to build

        argv = ["--experiment", tracking.experiment, "--attach"]
        argv += ["--tracking-uri", tracking.uri] if tracking.uri else []
        argv += ["--ui", tracking.ui] if tracking.ui else []
        argv += ["--out", self.out] if self.out else []
        status = main(argv)
        if status:
            sys.exit(status)
