"""The built report attached to the sweep it reports on: the experiment's latest finished sweep run
(its home in the MLflow UI) gets the page, its figures and its tables as artifacts under
report/, laid out as on disk so that the page's links work there too."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mlflow.tracking import MlflowClient

from rnngrad.pipeline import record as rec


def latest_sweep(client: MlflowClient, experiment_id: str):
    """The experiment's most recently started sweep run that finished, or None."""
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{rec.ROLE}` = 'sweep' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return found[0] if found else None


def attach(client: MlflowClient, experiment: str, out: Path, digest: str | None) -> str:
    """Upload <out>/<experiment>.html, figures/<experiment>/ and tables/<experiment>/ to the
    latest sweep run as report/..., unless it already holds the report that `digest`
    fingerprints (rnngrad.reports.fresh). Says what it did, in words."""
    found = client.get_experiment_by_name(experiment)
    sweep = latest_sweep(client, found.experiment_id) if found else None
    if sweep is None:
        return "no sweep run to attach it to"
    if digest is not None and sweep.data.tags.get(rec.REPORT_BUILT) == digest:
        return f"run {sweep.info.run_id} already holds it, under report/"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report"
        report.mkdir()
        shutil.copy(out / f"{experiment}.html", report / f"{experiment}.html")
        for part in ("figures", "tables"):
            shutil.copytree(out / part / experiment, report / part / experiment)
        client.log_artifacts(sweep.info.run_id, str(report), "report")
    if digest is not None:
        client.set_tag(sweep.info.run_id, rec.REPORT_BUILT, digest)
    return f"run {sweep.info.run_id}, under report/"
