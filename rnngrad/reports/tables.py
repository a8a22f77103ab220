"""The report's tables: one row per configuration (every setting that varies is a column;
only seeds are aggregated: mean ± sd, n shown), and every run of the experiment.

`save` writes each as <name>.md, .csv and .tex: summary.* and runs.* (every run, with its
status, outcome and whether it is analysed, so nothing is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnngrad.reports.axes import SEED, groups, text, values_of, varying
from rnngrad.reports.frames import Study, usable

MEASURES = {  # column -> heading
    "valid_loss": "loss",
    "decay_factor": "decay factor",
    "bound": "bound (same step)",
    "state_norm_last": "‖h_T‖",
    "saturation": "saturation",
    "sigma_max": "σ_max(W_r) (same step)",
    "wall_time_s": "seconds",
}


@dataclass
class Table:
    name: str
    title: str
    frame: pd.DataFrame  # numbers, for CSV
    shown: pd.DataFrame  # formatted, for Markdown and LaTeX
    caption: str


def mean_sd(values: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return "–"
    if len(v) == 1:
        return f"{v.iloc[0]:.3g}"
    return f"{v.mean():.3g} ± {v.std(ddof=1):.2g}"


def fall(values: pd.Series, seq_len: pd.Series) -> tuple[float, int, str]:
    """The median distance at which the profile fell below a threshold, a run that never
    fell counting as beyond its sequence (T − 1): (median or NaN, how many never fell, text)."""
    never, n = int(values.isna().sum()), len(values)
    if n == 0:
        return np.nan, 0, "–"
    median = float(values.fillna(np.inf).median())
    note = f" ({never} of {n} never)" if 0 < never < n else (" (never)" if never else "")
    if np.isinf(median):  # most runs never fell that far within their sequence
        return np.nan, never, f"> {int(seq_len.max()) - 1}{note}"
    return median, never, f"{median:g}{note}"


def configurations(exp) -> list[str]:
    """The settings that vary among the analysed runs, seed aside: the summary's row keys."""
    return [c for c in varying(exp.runs, exp.config) if c != SEED]


SUMMARY_CAPTION = (
    "One row per configuration of '{name}' ({n} analysed runs; every setting "
    "that varies is a column, only seeds are aggregated): mean ± sd over the n runs of the "
    "final validation value of the task's primary metric and of the loss, each beside the "
    "no-learning baseline recorded on the same validation sets; the final per-step decay "
    "factor of the long-range gradient and Pascanu's bound at the same training step; "
    "the distance back at which that gradient first falls below 1e-6 and 1e-16 of its "
    "value at the loss step (median over the runs; '> T − 1': it never fell that far "
    "within the sequence in most runs); the final state size ‖h_T‖ and saturated fraction; "
    "σ_max(W_r) at the step of the decay factor; wall time; and the runs that were solved (the "
    "task's criterion on the validation set), diverged, failed or killed, or whose "
    "self-check failed. Fixed: {fixed}."
)


def summary(exp) -> Table:
    """One row per configuration: the measures' mean ± sd over seeds, and the run counts."""
    runs = exp.runs
    keys = configurations(exp)
    if runs.empty:
        none = pd.DataFrame({"n": []})
        return Table(
            "summary", "Per configuration", none, none, "No run is analysed (see the notes)."
        )
    numbers, shown = [], []
    for values, g in groups(runs, keys):
        row, cells = configuration_row(dict(zip(keys, values, strict=True)), g)
        numbers.append(row)
        shown.append(cells)
    caption = SUMMARY_CAPTION.format(name=exp.name, n=len(runs), fixed=fixed_text(exp, keys))
    return Table(
        "summary", "Per configuration", pd.DataFrame(numbers), pd.DataFrame(shown), caption
    )


def configuration_row(head: dict, g: pd.DataFrame) -> tuple[dict, dict]:
    """The summary row of one configuration's runs: (numbers for CSV, text for Markdown)."""
    ok = usable(g)
    metric = ok["metric"].dropna().iloc[0] if ok["metric"].notna().any() else None
    row = {**head, "n": len(g), "metric": metric}
    cells = {**{k: text(v) for k, v in head.items()}, "n": len(g), "metric": metric or "–"}
    if metric:
        final, base = ok.get(f"valid_{metric}"), ok.get(f"baseline_{metric}")
        row["final_mean"], row["final_sd"] = final.mean(), final.std(ddof=1)
        row["baseline"] = base.mean() if base is not None else np.nan
        cells["final"] = mean_sd(final)
        cells["baseline"] = f"{row['baseline']:.3g}" if base is not None else "–"
    if "baseline_loss" in ok:
        row["baseline_loss"] = ok["baseline_loss"].mean()
    measure_cells(ok, row, cells)
    count_cells(g, ok, row, cells)
    return row, cells


def measure_cells(ok: pd.DataFrame, row: dict, cells: dict) -> None:
    """Add each measure's mean and sd (and the distances' median) to the row and its text."""
    for col, heading in MEASURES.items():
        if col in ok:
            row[f"{col}_mean"] = ok[col].mean()
            row[f"{col}_sd"] = ok[col].std(ddof=1) if len(ok) > 1 else np.nan
            cells[heading] = mean_sd(ok[col])
        if col == "valid_loss":
            cells["baseline loss"] = f"{row.get('baseline_loss', np.nan):.3g}"
    for col, heading in (("fall_1e6", "falls below 1e-6 at"), ("fall_1e16", "below 1e-16 at")):
        if col in ok:
            median, never, words = fall(ok[col], ok["seq_len"])
            row[f"{col}_median"], row[f"{col}_never"] = median, never
            cells[heading] = words


def count_cells(g: pd.DataFrame, ok: pd.DataFrame, row: dict, cells: dict) -> None:
    """Add how many runs were solved, diverged, failed or killed, or failed their self-check."""
    if "solved" in ok and ok["solved"].notna().any():
        row["solved"] = int((ok["solved"] == 1).sum())
        cells["solved"] = f"{row['solved']} of {len(ok)}"
    row["diverged"] = cells["diverged"] = int((g["outcome"] == "diverged").sum())
    row["failed"] = cells["failed/killed"] = int(
        g["outcome"].isin(["failed", "killed", "running"]).sum()
    )
    failed_checks = int(g["selfcheck"].str.startswith("FAILED").sum())
    row["selfcheck_failed"] = cells["self-check failed"] = failed_checks


def fixed_text(exp, keys: list[str]) -> str:
    fixed = {
        c: exp.runs[c].iloc[0]
        for c in exp.config
        if c not in keys and c in exp.runs and len(values_of(exp.runs, c)) == 1
    }
    return Study(exp.runs, keys, fixed).fixed_text() or "nothing else"


RUN_COLUMNS = (  # after the run's name and the settings that vary
    "status",
    "outcome",
    "analysed",
    "diverged_at",
    "metric",
    "final",
    "decay_factor",
    "selfcheck",
    "error",
    "git_commit",
    "run_id",
    "experiment_id",
)


def run_list(exp) -> Table:
    """Every run of the experiment with its status, outcome and whether it is analysed."""
    listed = exp.listed.merge(
        exp.runs[
            ["run_id", *[c for c in exp.runs if c.startswith("valid_") or c in ("decay_factor",)]]
        ],
        on="run_id",
        how="left",
    )
    config = varying(listed, exp.config)
    listed["final"] = [
        row.get(f"valid_{row['metric']}", np.nan) if row["metric"] else np.nan
        for _, row in listed.iterrows()
    ]
    listed["analysed"] = listed["why_not"].replace("", "yes")
    frame = listed[[c for c in ["run_name", *config, *RUN_COLUMNS] if c in listed]].copy()
    frame = frame.sort_values(  # numbers as numbers: H = 32 before 128, T = 10, 30, 100
        [c for c in config if c in frame], key=as_sortable, kind="stable", na_position="last"
    ).reset_index(drop=True)
    # the settings beside it say what the name says; the page links the run id to the UI
    shown = frame.drop(columns=["experiment_id", *(["run_name"] if config else [])]).copy()
    for c in shown.columns:
        if shown[c].dtype.kind == "f":
            shown[c] = shown[c].map(lambda v: "–" if pd.isna(v) else f"{v:.3g}")
    counts = exp.listed["outcome"].value_counts().to_dict()
    caption = (
        f"Every run of '{exp.name}', with its status and outcome ("
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        + "), whether it is analysed (and why not), its final primary metric, decay factor "
        "and self-check: failed, killed, diverged and superseded runs are listed, never dropped."
    )
    return Table("runs", "Every run", frame, shown, caption)


def as_sortable(column: pd.Series) -> pd.Series:
    """A column as sort keys: numbers where every value is one, else text."""
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers if numbers.notna().sum() == column.notna().sum() else column.astype(str)


def build(exp) -> list[Table]:
    """The summary (one row per configuration) and the list of every run."""
    return [summary(exp), run_list(exp)]


def save(tables: list[Table], folder: Path) -> list[Path]:
    """Write each table as <name>.md, .csv (the numbers) and .tex. Returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for t in tables:
        paths = {ext: folder / f"{t.name}.{ext}" for ext in ("md", "csv", "tex")}
        t.frame.to_csv(paths["csv"], index=False, float_format="%.6g")
        paths["md"].write_text(t.shown.to_markdown(index=False) + "\n")
        latex = (
            t.shown.astype(str)
            .style.hide(axis="index")
            .to_latex(caption=t.caption.replace("%", r"\%"), hrules=True)
        )
        paths["tex"].write_text(latex.replace("_", r"\_").replace("±", r"$\pm$"))
        written.extend(paths.values())
    return written
