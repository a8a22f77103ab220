"""Read one experiment from the MLflow store into tidy pandas frames. The only module that
knows how runs, params, tags, metric histories and profile artifacts are stored; every name
comes from the run record (rnngrad/pipeline/record.py). Nothing is recomputed here: a
report shows what the runs recorded.

    exp = load("vanishing", tracking_uri=None)   # None: the project's store (as the pipeline)
    exp.runs       one row per analysed run: typed config columns, the record (task, model,
                   primary metric, baselines), the last evaluation's scalars, and the last
                   profiled evaluation's summaries with the bound and σ_max of that same step
    exp.listed     every run of the experiment, with why it is or is not analysed
    exp.history    long: run_id, step, metric, value      (from each run's history.csv)
    exp.profiles   long: run_id, step, t, distance, and one column per profile array
                   (log10_long, log10_total, log10_dx, state_norm, saturation_t)
    exp.notes      one line per thing the reader must know (older records, repeats, ...)

Analysed: runs recorded under the current record version, one per configuration (the newest
finished run of each config hash; failed and killed runs of configurations that never
finished are kept and counted). Sweep parent runs are left out.
"""

from __future__ import annotations

import io
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from rnngrad.pipeline import record as rec
from rnngrad.pipeline.tracking import store_uri

# params as logged (strings) -> their types; anything else stays a string
PARAM_TYPES = {
    "task.T": int,
    "task.delay": int,
    "task.seq_len": int,
    "model.hidden_size": int,
    "model.skip": bool,
    "model.recurrent_scale": float,
    "optim.lr": float,
    "optim.clip": float,
    "optim.batch_size": int,
    "train.steps": int,
    "train.seed": int,
    "train.eval_every": int,
    "train.profile_every": int,
    "train.valid_size": int,
    "train.probe_size": int,
    "train.early_stop": bool,
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
    "model.dtype": "dtype",
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
DERIVED = ("task.seq_len", "task.input_size", "task.output_size", "optim.name")  # not settings
RNN_ONLY = ("activation", "skip", "recurrent_init", "recurrent_scale")  # blank for attention
PROFILE_COLUMNS = {"saturation": "saturation_t"}  # per step; the run's scalar is "saturation"
PROFILED = (*rec.PROFILE_SUMMARY, *rec.STATE, *rec.CHECK, "bound", "sigma_max")


class NoRuns(Exception):
    """The experiment is missing or holds no runs: a message for the user, not a traceback."""


@dataclass
class Experiment:
    name: str
    uri: str
    runs: pd.DataFrame
    history: pd.DataFrame
    profiles: pd.DataFrame
    listed: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    config: list[str] = field(default_factory=list)  # config columns (seed included)
    swept: set[str] = field(default_factory=set)  # config columns some sweep varied


def cast(name: str, text: str | None):
    kind = PARAM_TYPES.get(name, str)
    if text is None or text in ("None", "null", ""):
        return math.nan if kind in (int, float) else None
    if kind is bool:
        return text == "True"  # params are strings; under pandas 3 so is everything read back
    return kind(text)


def column(param: str) -> str:
    return SHORT.get(param, param)


def run_row(run) -> dict:
    tags, params = run.data.tags, run.data.params
    status = run.info.status
    row = {
        "run_id": run.info.run_id,
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
        "higher_is_better": tags.get(rec.HIGHER_IS_BETTER) == "true",
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
    raw = read_artifact(client, run_id, uri, rec.HISTORY)
    if raw:
        wide = pd.read_csv(io.BytesIO(raw))
        history = wide.melt(id_vars="step", var_name="metric", value_name="value").dropna()
        history.insert(0, "run_id", run_id)
    raw = read_artifact(client, run_id, uri, rec.PROFILES)
    if raw:
        with np.load(io.BytesIO(raw)) as z:
            steps = z["steps"]
            arrays = {k: np.asarray(z[k], dtype=float) for k in rec.PROFILE_ARRAYS if k in z}
        n, T = arrays["log10_long"].shape
        t = np.tile(np.arange(1, T + 1), n)
        frame = {"run_id": run_id, "step": np.repeat(steps, T), "t": t, "distance": T - t}
        for name in rec.PROFILE_ARRAYS:
            frame[PROFILE_COLUMNS.get(name, name)] = (
                arrays[name].ravel() if name in arrays else np.nan
            )
        profiles = pd.DataFrame(frame)
    return history, profiles


def final_values(history: pd.DataFrame) -> pd.DataFrame:
    """Per run: the last evaluation's scalars (valid_*, sigma_max, ..., all of one step), the
    baselines of step 0, and the profile summaries of the last profiled evaluation with the
    bound and σ_max of that same step (`profile_step`)."""
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
    if "decay_factor" in wide:
        profiled = wide[wide["decay_factor"].notna()].groupby("run_id").tail(1)
        keep = ["run_id", "step", *[c for c in PROFILED if c in profiled]]
        profiled = profiled[keep].set_index("run_id").rename(columns={"step": "profile_step"})
        out = out.join(profiled)
    return out.reset_index()


def choose(frame: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """Which runs are analysed, and notes about the others. Returns a reason per run ("" for
    analysed) and the notes."""
    reason = pd.Series("", index=frame.index, dtype=object)
    old = frame["record_version"] < rec.VERSION
    reason[old] = f"recorded by an older rnngrad (record version < {rec.VERSION})"
    notes = []
    if old.any():
        notes.append(
            f"{int(old.sum())} run(s) were recorded by an older version of rnngrad and lack what "
            "the report needs (baselines, self-check, state); they are listed, not analysed. "
            "Launching their sweep again runs them anew."
        )
    current = frame[~old]
    repeats = 0
    for _, group in current.groupby("config_hash", sort=False):
        finished = group[group["status"] == "FINISHED"]
        keep = (finished if len(finished) else group)["start_time"].idxmax()
        for idx in group.index.drop(keep):
            reason[idx] = "a newer run of the same configuration is analysed"
            repeats += 1
    if repeats:
        notes.append(
            f"{repeats} run(s) repeat a configuration that has a newer (or finished) run; only "
            "that one is analysed, so no configuration counts twice."
        )
    return reason, notes


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
        runs.extend(r for r in page if r.data.tags.get(rec.ROLE) != "sweep")
        token = page.token
        if not token:
            break
    if not runs:
        raise NoRuns(f"experiment '{experiment}' in {uri} has no runs yet")
    frame = pd.DataFrame([run_row(r) for r in runs])
    frame = frame.sort_values("run_name", kind="stable").reset_index(drop=True)
    reason, notes = choose(frame)
    frame["analysed"] = reason.eq("")
    frame["why_not"] = reason
    commits = sorted(c for c in frame.loc[frame["analysed"], "git_commit"].unique() if c)
    if len(commits) > 1:
        shown = ", ".join(c[:10] + ("+dirty" if c.endswith("+dirty") else "") for c in commits[:4])
        notes.append(
            f"The analysed runs come from {len(commits)} versions of the code (git commits "
            f"{shown}{', …' if len(commits) > 4 else ''}): a sweep that resumes keeps the "
            "configurations an earlier version finished. The runs table names each run's commit."
        )
    chosen = frame[frame["analysed"]].to_dict("records")
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda row: artifacts_of(client, row), chosen))
    history = pd.concat([h for h, _ in parts if h is not None] or [empty_history()])
    profiles = pd.concat([p for _, p in parts if p is not None] or [empty_profiles()])
    history["step"] = history["step"].astype(int)
    analysed = frame[frame["analysed"]].merge(final_values(history), on="run_id", how="left")
    if "clip" in frame:  # "no clipping" is a setting, not a missing value: keep it as a level
        for f in (frame, analysed):
            f["clip"] = f["clip"].map(lambda v: "none" if pd.isna(v) else f"{v:g}")
    params = sorted({k for r in runs for k in r.data.params if is_setting(k)})
    config = [c for c in dict.fromkeys(column(k) for k in params) if c in frame]
    swept = {column(k) for s in frame["swept"] for k in s.split(",") if k}
    if "model" in swept:  # the RNN's settings are blank for attention: they vary with the model
        swept |= set(RNN_ONLY)
    return Experiment(
        experiment,
        uri,
        analysed.reset_index(drop=True),
        history.reset_index(drop=True),
        profiles.reset_index(drop=True),
        frame,
        notes,
        config,
        swept,
    )


def is_setting(param: str) -> bool:
    return (
        not param.startswith("tracking.")
        and param not in DERIVED
        and param != "train.crash_at_step"
    )


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
