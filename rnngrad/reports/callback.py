"""The report of a sweep, built when the sweep ends, in the sweep's own process (`make
sweep`): a Hydra callback that conf/config.yaml registers and `tracking.report=true` turns on.

It runs `rnngrad-report --experiment <the sweep's> --attach` (rnngrad.reports.cli) after the
sweeper returns, on the sweep's store, linking run ids to `tracking.ui` if set. Building it
here rather than in a second command saves a second start of MLflow (~2 s), which is most of
what a relaunch of a finished sweep costs. A report that fails ends the sweep's command with
status 1 and one line. A sweep with a failed job ends before its report: build it with
`rnngrad-report --experiment NAME --attach` once the failure is mended.
"""

from __future__ import annotations

import sys

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from rnngrad.pipeline.errors import one_line


class BuildReport(Callback):
    def __init__(self, out: str | None = None) -> None:
        self.out = out  # the report's folder (hydra.callbacks.report.out); None: reports/

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        tracking = config.tracking
        if not (tracking.report and tracking.enabled):
            return
        from rnngrad.pipeline import store
        from rnngrad.reports.cli import main  # plotting, once there is a report to build

        uri = store.credentials_to_env(store.store_uri(tracking.uri))  # as the sweep's jobs
        argv = ["--experiment", tracking.experiment, "--tracking-uri", uri, "--attach"]
        argv += ["--ui", tracking.ui] if tracking.ui else []
        argv += ["--out", self.out] if self.out else []
        try:
            status = main(argv)
        except Exception as err:  # Hydra would turn it into a warning and exit 0
            print(f"report: FAILED: {store.public(one_line(err))}", file=sys.stderr, flush=True)
            status = 1
        if status:
            sys.exit(status)
