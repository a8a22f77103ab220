"""Read one experiment from the MLflow store into tidy pandas frames. The only module that
knows how runs, params, metric histories and profile artifacts are stored.

    exp = load("vanishing", tracking_uri=None)   # None: the project's store (as the pipeline)
    exp.runs       one row per run: typed params, final metrics, status, outcome
    exp.history    long: run_id, step, metric, value      (from each run's history.csv)
    exp.profiles   long: run_id, step, t, distance, log10_long, log10_total, log10_dx
                   (profiles.npz)

Sweep parent runs are left out; FAILED, KILLED and diverged runs are kept and marked.
"""

from __future__ import annotations

import io
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from rnngrad.pipeline.tracking import store_uri

# params as logged (strings) -> their types; anything else stays a string
PARAM_TYPES = {
    "task.name": str,
    "task.T": int,
    "task.delay": int,
    "task.mode": str,
    "task.seq_len": int,
    "model.hidden_size": int,
    "model.activation": str,
    "model.skip": bool,
    "model.recurrent_init": str,
    "model.recurrent_scale": float,
    "model.dtype": str,
    "optim.lr": float,
    "optim.clip": float,
    "optim.batch_size": int,
    "train.steps": int,
    "train.seed": int,
    "train.eval_every": int,
}
SHORT = {  # column names in the frames
    "model.name": "model",
    "task.name": "task",
    "task.T": "T",
    "task.delay": "delay",
    "task.mode": "mode",
    "task.seq_len": "seq_len",
    "model.hidden_size": "hidden_size",
    "model.activation": "activation",
    "model.skip": "skip",
    "model.recurrent_init": "recurrent_init",
    "model.recurrent_scale": "recurrent_scale",
    "optim.lr": "lr",
    "optim.clip": "clip",
    "optim.batch_size": "batch_size",
    "train.steps": "steps",
    "train.seed": "seed",
}


class NoRuns(Exception):
    """The experiment is missing or holds no runs: a message for the user, not a traceback."""


@dataclass
class Experiment:
    name: str
    uri: str
    runs: pd.DataFrame
    history: pd.DataFrame
    profiles: pd.DataFrame


def cast(name: str, text: str | None):
    kind = PARAM_TYPES.get(name, str)
    if text is None or text in ("None", "null", ""):
        return math.nan if kind in (int, float) else None
    if kind is bool:
        return text == "True"  # params are strings; under pandas 3 so is everything read back
    return kind(text)


def run_row(run) -> dict:
    tags, params = run.data.tags, run.data.params
    row = {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "status": run.info.status,
        "outcome": tags.get(
            "rnngrad.outcome",
            "running" if run.info.status == "RUNNING" else run.info.status.lower(),
        ),
        "diverged_at": float(tags.get("rnngrad.diverged_at", "nan")),
        "error": tags.get("rnngrad.error", ""),
        "config_hash": tags.get("rnngrad.config_hash", ""),
        "sweep": tags.get("mlflow.parentRunId", ""),
        "artifact_uri": run.info.artifact_uri,
    }
    for name, text in params.items():
        row[SHORT.get(name, name)] = cast(name, text)
    for name, value in run.data.metrics.items():
        if not name.startswith("profile/"):
            row[name] = value
    return row


def read_artifact(client: MlflowClient, run_id: str, artifact_uri: str, name: str):
    """The bytes of one artifact, or None if the run has none (a failed run)."""
    parsed = urlparse(artifact_uri)
    try:
        if parsed.scheme in ("file", ""):  # a local store: read in place, no copy
            path = Path(unquote(parsed.path)) / name
            return path.read_bytes() if path.exists() else None
        folder = client.download_artifacts(run_id, name)
        return Path(folder).read_bytes()
    except Exception:  # missing on the server: the run ended before writing it
        return None


def artifacts_of(client, row: dict) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    run_id, uri = row["run_id"], row["artifact_uri"]
    history = profiles = None
    raw = read_artifact(client, run_id, uri, "history.csv")
    if raw:
        wide = pd.read_csv(io.BytesIO(raw))
        history = wide.melt(id_vars="step", var_name="metric", value_name="value").dropna()
        history.insert(0, "run_id", run_id)
    raw = read_artifact(client, run_id, uri, "profiles.npz")
    if raw:
        with np.load(io.BytesIO(raw)) as z:
            steps, long, total = z["steps"], z["log10_long"], z["log10_total"]
            dx = z["log10_dx"] if "log10_dx" in z.files else np.full_like(long, np.nan)
        n, T = long.shape
        t = np.tile(np.arange(1, T + 1), n)
        profiles = pd.DataFrame(
            {
                "run_id": run_id,
                "step": np.repeat(steps, T),
                "t": t,
                "distance": T - t,
                "log10_long": long.ravel(),
                "log10_total": total.ravel(),
                "log10_dx": np.asarray(dx, dtype=float).ravel(),
            }
        )
    return history, profiles


def load(experiment: str, tracking_uri: str | None = None, workers: int = 8) -> Experiment:
    uri = store_uri(tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        raise NoRuns(
            f"no MLflow store at {uri.removeprefix('sqlite:///')}: run a sweep first (make sweep)"
        )
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments())
        raise NoRuns(f"no experiment '{experiment}' in {uri}; it has: {', '.join(names) or 'none'}")
    runs, token = [], None
    while True:
        page = client.search_runs([exp.experiment_id], max_results=1000, page_token=token)
        runs.extend(r for r in page if r.data.tags.get("rnngrad.role") != "sweep")
        token = page.token
        if not token:
            break
    if not runs:
        raise NoRuns(f"experiment '{experiment}' in {uri} has no runs yet")
    rows = [run_row(r) for r in runs]
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda row: artifacts_of(client, row), rows))
    frame = pd.DataFrame(rows).sort_values("run_name", kind="stable").reset_index(drop=True)
    if "clip" in frame:  # "no clipping" is a setting, not a missing value: keep it as a level
        frame["clip"] = frame["clip"].map(lambda v: "none" if pd.isna(v) else f"{v:g}")
    history = pd.concat([h for h, _ in parts if h is not None] or [empty_history()])
    profiles = pd.concat([p for _, p in parts if p is not None] or [empty_profiles()])
    history["step"] = history["step"].astype(int)
    return Experiment(
        experiment, uri, frame, history.reset_index(drop=True), profiles.reset_index(drop=True)
    )


def empty_history() -> pd.DataFrame:
    return pd.DataFrame({"run_id": [], "step": [], "metric": [], "value": []})


def empty_profiles() -> pd.DataFrame:
    cols = ["run_id", "step", "t", "distance", "log10_long", "log10_total", "log10_dx"]
    return pd.DataFrame({c: [] for c in cols})
