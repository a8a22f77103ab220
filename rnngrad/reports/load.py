"""Read one experiment from the MLflow store into tidy pandas frames. Nothing is recomputed
here: a report shows what the runs recorded. rnngrad.reports.columns turns a run's params and
tags into a row, rnngrad.reports.artifacts its files into frames; this module chooses the
runs to analyse and puts it all together.

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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from rnngrad.pipeline import record as rec
from rnngrad.pipeline.store import store_uri
from rnngrad.reports.artifacts import artifacts_of, empty_history, empty_profiles, final_values
from rnngrad.reports.columns import RNN_ONLY, column, is_setting, run_row


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


def choose(frame: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """Which runs are analysed, and notes about the others. Returns a reason per run ("" for
    analysed) and the notes."""
    reason = pd.Series("", index=frame.index, dtype=object)
    old = frame["record_version"] < rec.VERSION
    reason[old] = f"recorded by an older rnngrad (record version < {rec.VERSION})"
    notes = []
    if old.any():
        notes.append(
            f"{int(old.sum())} run(s) were recorded by an older version of rnngrad (record "
            f"version < {rec.VERSION}: what they recorded, or how their config is keyed, is not "
            "what this report reads); they are listed, not analysed. Launching their sweep "
            "again runs them anew."
        )
    repeats = 0
    for _, group in frame[~old].groupby("config_hash", sort=False):
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


def commits_note(frame: pd.DataFrame) -> list[str]:
    """A note when the analysed runs come from more than one version of the code."""
    commits = sorted(c for c in frame.loc[frame["analysed"], "git_commit"].unique() if c)
    if len(commits) <= 1:
        return []
    shown = ", ".join(c[:10] + ("+dirty" if c.endswith("+dirty") else "") for c in commits[:4])
    return [
        f"The analysed runs come from {len(commits)} versions of the code (git commits "
        f"{shown}{', …' if len(commits) > 4 else ''}): a sweep that resumes keeps the "
        "configurations an earlier version finished. The runs table names each run's commit."
    ]


def open_experiment(experiment: str, uri: str) -> tuple[MlflowClient, str]:
    """A client of the store and the experiment's id; NoRuns if either is missing."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        raise NoRuns(
            f"no MLflow store at {uri.removeprefix('sqlite:///')}: run a sweep first (make sweep)"
        )
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments())
        raise NoRuns(f"no experiment '{experiment}' in {uri}; it has: {', '.join(names) or 'none'}")
    return client, exp.experiment_id


def job_runs(client: MlflowClient, experiment_id: str) -> list:
    """Every run of the experiment but the sweeps' own runs, page by page."""
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        runs.extend(r for r in page if r.data.tags.get(rec.ROLE) != "sweep")
        token = page.token
        if not token:
            return runs


def listed_runs(runs: list) -> tuple[pd.DataFrame, list[str]]:
    """Every run as a row, in name order, with whether it is analysed and why not; the notes."""
    frame = pd.DataFrame([run_row(r) for r in runs])
    frame = frame.sort_values("run_name", kind="stable").reset_index(drop=True)
    reason, notes = choose(frame)
    frame["analysed"] = reason.eq("")
    frame["why_not"] = reason
    return frame, notes + commits_note(frame)


def read_artifacts(client, chosen: list[dict], workers: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history and profiles of the chosen runs, read in parallel, as two long frames."""
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda row: artifacts_of(client, row), chosen))
    history = pd.concat([h for h, _ in parts if h is not None] or [empty_history()])
    profiles = pd.concat([p for _, p in parts if p is not None] or [empty_profiles()])
    history["step"] = history["step"].astype(int)
    return history.reset_index(drop=True), profiles.reset_index(drop=True)


def settings(runs: list, frame: pd.DataFrame) -> tuple[list[str], set[str]]:
    """The config columns (in the order of their params' names) and those some sweep varied."""
    params = sorted({k for r in runs for k in r.data.params if is_setting(k)})
    config = [c for c in dict.fromkeys(column(k) for k in params) if c in frame]
    swept = {column(k) for s in frame["swept"] for k in s.split(",") if k}
    if "model" in swept:  # the RNN's settings are blank for attention: they vary with the model
        swept |= set(RNN_ONLY)
    return config, swept


def read(experiment: str, tracking_uri: str | None = None) -> tuple[str, MlflowClient, list]:
    """(the store's URI, a client of it, every job run of the experiment): one search."""
    uri = store_uri(tracking_uri)
    client, experiment_id = open_experiment(experiment, uri)
    runs = job_runs(client, experiment_id)
    if not runs:
        raise NoRuns(f"experiment '{experiment}' in {uri} has no runs yet")
    return uri, client, runs


def load(
    experiment: str, tracking_uri: str | None = None, workers: int = 8, found=None
) -> Experiment:
    """The experiment as frames (module doc); `found`: what `read` returned, if it was."""
    uri, client, runs = found or read(experiment, tracking_uri)
    frame, notes = listed_runs(runs)
    chosen = frame[frame["analysed"]]
    history, profiles = read_artifacts(client, chosen.to_dict("records"), workers)
    analysed = chosen.merge(final_values(history), on="run_id", how="left")
    if "clip" in frame:  # "no clipping" is a setting, not a missing value: keep it as a level
        for f in (frame, analysed):
            f["clip"] = f["clip"].map(lambda v: "none" if pd.isna(v) else f"{v:g}")
    config, swept = settings(runs, frame)
    analysed = analysed.reset_index(drop=True)
    return Experiment(experiment, uri, analysed, history, profiles, frame, notes, config, swept)
