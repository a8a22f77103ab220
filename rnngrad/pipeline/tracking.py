"""MLflow: where runs go, how they are found again, and batched logging.

The default store is embedded: SQLite at <project>/mlflow.db with artifacts in
<project>/mlartifacts, both absolute paths (never the current directory). `tracking.uri`
or MLFLOW_TRACKING_URI point elsewhere, e.g. an MLflow server. Everything goes through
MlflowClient with explicit experiment and run ids: no fluent global state, which worker
processes (reused between jobs) would carry from one job to the next.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from . import record as rec
from .store import PROJECT_ROOT

BATCH_LIMIT = 1000  # log_batch takes at most 1000 metrics and 1000 tags per call


def artifact_location(uri: str, artifact_root: str | None, experiment: str) -> str | None:
    """Where a new experiment keeps its artifacts: for a local store, an absolute folder
    (<project>/mlartifacts by default); a tracking server decides for itself (None)."""
    if uri.startswith(("http://", "https://")):
        return None
    root = Path(artifact_root) if artifact_root else PROJECT_ROOT / "mlartifacts"
    return (root.resolve() / experiment).as_uri()


# the MLflow 3 UI opens an experiment on its runs table (not the GenAI traces view) with this
KIND = {"mlflow.experimentKind": "custom_model_development"}


def ensure_experiment(client: MlflowClient, name: str, location: str | None) -> str:
    """The id of experiment `name`, created if missing (call once, before any worker)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=location, tags=KIND)
    except Exception:  # created meanwhile by another launcher
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def search_all(client: MlflowClient, experiment_id: str, filter_string: str) -> list:
    """Every run matching `filter_string` (search_runs pages by 1000)."""
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string=filter_string, max_results=1000, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def finished_runs(client: MlflowClient, experiment_id: str) -> dict[str, str]:
    """config hash -> run id of every FINISHED run (diverged and solved runs finished too)
    recorded under the current record version: an older run lacks what the reports need."""
    runs = search_all(client, experiment_id, "attributes.status = 'FINISHED'")
    return {
        r.data.tags[rec.CONFIG_HASH]: r.info.run_id
        for r in runs
        if rec.CONFIG_HASH in r.data.tags and rec.finished_now(r)
    }


def git_commit() -> str:
    """HEAD of the project's repository, with "+dirty" if tracked files changed."""

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


class RunLogger:
    """Buffers metrics and tags of one run and sends them with MlflowClient.log_batch, in
    chunks of at most 1000, never one synchronous call per point."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client, self.run_id = client, run_id
        self.metrics: list[Metric] = []
        self.tags: dict[str, str] = {}

    def metric(self, key: str, value: float, step: int) -> None:
        if value == value:  # NaN means "not measured" (e.g. the train loss before any step)
            self.metrics.append(Metric(key, float(value), int(time.time() * 1000), int(step)))

    def series(self, key: str, values, first_step: int = 1) -> None:
        """A curve over time steps as one metric key with step = t."""
        for t, value in enumerate(values, start=first_step):
            if abs(value) != float("inf"):
                self.metric(key, value, t)

    def params(self, values: dict[str, object]) -> None:
        """Log parameters now (log_batch takes at most 100 of them per call)."""
        items = [Param(k, str(v)[:6000]) for k, v in values.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def tag(self, key: str, value: object) -> None:
        self.tags[key] = str(value)[:5000]

    def flush(self) -> None:
        self.tags[rec.HEARTBEAT] = f"{time.time():.0f}"
        tags = [RunTag(k, v) for k, v in self.tags.items()]
        metrics = self.metrics
        self.metrics, self.tags = [], {}
        for i in range(0, max(len(metrics), len(tags)), BATCH_LIMIT):
            self.client.log_batch(
                self.run_id,
                metrics=metrics[i : i + BATCH_LIMIT],
                tags=tags[i : i + BATCH_LIMIT],
            )
