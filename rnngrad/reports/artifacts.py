"""A run's artifacts as long frames: history.csv (every evaluation's scalars) and
profiles.npz (the gradient and state profiles), and the values each run ended with. File and
array names come from the run record (rnngrad/pipeline/record.py)."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from rnngrad.pipeline import record as rec

PROFILE_COLUMNS = {"saturation": "saturation_t"}  # per step; the run's scalar is "saturation"
PROFILED = (*rec.PROFILE_SUMMARY, *rec.STATE, *rec.CHECK, "bound", "sigma_max")


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


def history_frame(run_id: str, raw: bytes) -> pd.DataFrame:
    """history.csv (a row per evaluation) as long rows: run_id, step, metric, value."""
    wide = pd.read_csv(io.BytesIO(raw))
    history = wide.melt(id_vars="step", var_name="metric", value_name="value").dropna()
    history.insert(0, "run_id", run_id)
    return history


def profile_frame(run_id: str, raw: bytes) -> pd.DataFrame:
    """profiles.npz (an array per profile, a row per profiled step) as one row per (step, t)."""
    with np.load(io.BytesIO(raw)) as z:
        steps = z["steps"]
        arrays = {k: np.asarray(z[k], dtype=float) for k in rec.PROFILE_ARRAYS if k in z}
    n, T = arrays["log10_long"].shape
    t = np.tile(np.arange(1, T + 1), n)
    frame = {"run_id": run_id, "step": np.repeat(steps, T), "t": t, "distance": T - t}
    for name in rec.PROFILE_ARRAYS:
        frame[PROFILE_COLUMNS.get(name, name)] = arrays[name].ravel() if name in arrays else np.nan
    return pd.DataFrame(frame)


def artifacts_of(client, row: dict) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(history, profiles) of one run; None for what it did not write."""
    run_id, uri = row["run_id"], row["artifact_uri"]
    raw = read_artifact(client, run_id, uri, rec.HISTORY)
    history = history_frame(run_id, raw) if raw else None
    raw = read_artifact(client, run_id, uri, rec.PROFILES)
    return history, profile_frame(run_id, raw) if raw else None


def final_values(history: pd.DataFrame) -> pd.DataFrame:
    """Per run: the last evaluation's scalars (valid_*, sigma_max, ..., all of one step), the
    baselines of step 0, `initial_values`, and the profile summaries of the last profiled
    evaluation with the bound and σ_max of that same step (`profile_step`)."""
    if history.empty:
        return pd.DataFrame({"run_id": pd.Series([], dtype=object)})
    wide = history.pivot_table(index=["run_id", "step"], columns="metric", values="value")
    wide = wide.reset_index().sort_values(["run_id", "step"])
    last = wide.groupby("run_id").tail(1).set_index("run_id")
    last = last.rename(columns={"step": "final_step"})
    out = last.drop(columns=[c for c in last if c.startswith(rec.BASELINE)])
    first = wide.groupby("run_id").head(1).set_index("run_id")
    baselines = first[[c for c in first if c.startswith(rec.BASELINE)]]
    out = out.drop(columns=[c for c in PROFILED if c in out]).join(baselines)
    out = out.join(initial_values(wide))
    if "decay_factor" in wide:
        profiled = wide[wide["decay_factor"].notna()].groupby("run_id").tail(1)
        keep = ["run_id", "step", *[c for c in PROFILED if c in profiled]]
        profiled = profiled[keep].set_index("run_id").rename(columns={"step": "profile_step"})
        out = out.join(profiled)
    return out.reset_index()


def initial_values(wide: pd.DataFrame) -> pd.DataFrame:
    """Per run: whether its task has a success criterion (`criterion`: it recorded `solved`,
    at step 0 at least) and how far the gradient reached before any update
    (`log10_ratio_initial`: the log10 ratio of step 0's profile; NaN if it recorded none)."""
    runs = wide.groupby("run_id")
    out = pd.DataFrame(index=pd.Index(runs.size().index, name="run_id"))
    out["criterion"] = runs[rec.SOLVED].count() > 0 if rec.SOLVED in wide else False
    if "log10_ratio" in wide:
        out["log10_ratio_initial"] = wide[wide["step"] == 0].set_index("run_id")["log10_ratio"]
    return out


def empty_history() -> pd.DataFrame:
    return pd.DataFrame({"run_id": [], "step": [], "metric": [], "value": []})


def empty_profiles() -> pd.DataFrame:
    cols = [
        "run_id",
        "step",
        "t",
        "distance",
        *(PROFILE_COLUMNS.get(a, a) for a in rec.PROFILE_ARRAYS),
    ]
    return pd.DataFrame({c: [] for c in cols})
