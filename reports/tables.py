"""The report's tables: one row per configuration (seeds aggregated: mean ± sd, n shown).

    python reports/tables.py --experiment vanishing [--tracking-uri URI] [--out reports]

writes reports/tables/<experiment>/summary.{md,csv,tex} and runs.{md,csv,tex} (every run,
with its status and outcome, so nothing is dropped).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reports import frames

MEASURES = ["valid_loss", "decay_factor", "log10_ratio", "horizon", "sigma_max", "wall_time_s"]


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


def summary(exp) -> Table:
    runs = exp.runs
    metric = frames.primary(runs)
    key = f"valid_{metric}"
    config = [c for c in frames.varying(runs) if c != "seed"]
    groups = runs.groupby(config, dropna=False, sort=True) if config else [((), runs)]
    numbers, shown = [], []
    for values, g in groups:
        values = values if isinstance(values, tuple) else (values,)
        head = dict(zip(config, values, strict=True))
        base = frames.baseline(g.iloc[0])
        n_div = int((g["outcome"] == "diverged").sum())
        n_bad = int(g["outcome"].isin(["failed", "killed", "running"]).sum())
        num = {
            **head,
            "n": len(g),
            "diverged": n_div,
            "failed": n_bad,
            f"baseline_{metric}": base[metric],
            "baseline_loss": base["loss"],
        }
        fmt = {**head, "n": len(g)}
        for m in [key, *MEASURES]:
            if m in g:
                num[f"{m}_mean"] = g[m].mean()
                num[f"{m}_sd"] = g[m].std(ddof=1) if len(g) > 1 else np.nan
                fmt[m] = mean_sd(g[m])
        fmt[f"baseline {metric}"] = f"{base[metric]:.3g}"
        fmt["diverged"] = n_div
        fmt["failed"] = n_bad
        numbers.append(num)
        shown.append(fmt)
    caption = (
        f"One row per configuration of '{exp.name}' ({len(runs)} runs): mean ± sd over seeds "
        f"(n runs) of the final validation {metric} (baseline: a model that learned nothing) "
        "and loss, the per-step decay factor, log10 ‖∂ℓ_T/∂h_1‖/‖∂ℓ_T/∂h_T‖, the gradient "
        "horizon (steps back until 1e-6 of its value at the loss), σ_max(W_r) at the end, and "
        "wall time in seconds; diverged and failed/killed runs counted. "
        f"Fixed: {frames.describe_fixed(runs)}."
    )
    return Table(
        "summary", "Per configuration", pd.DataFrame(numbers), pd.DataFrame(shown), caption
    )


def run_list(exp) -> Table:
    runs = exp.runs
    config = [c for c in frames.varying(runs)] + (["seed"] if "seed" in runs else [])
    metric = f"valid_{frames.primary(runs)}"
    cols = [
        "run_name",
        *config,
        "status",
        "outcome",
        "diverged_at",
        metric,
        "decay_factor",
        "horizon",
        "wall_time_s",
        "error",
        "run_id",
    ]
    frame = runs[[c for c in cols if c in runs]].copy()
    shown = frame.copy()
    for c in shown.columns:
        if shown[c].dtype.kind == "f":
            shown[c] = shown[c].map(lambda v: "–" if pd.isna(v) else f"{v:.3g}")
    counts = runs["outcome"].value_counts().to_dict()
    caption = (
        f"Every run of '{exp.name}', with its status and outcome ("
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        + "): failed, killed and diverged runs are listed, never dropped."
    )
    return Table("runs", "Every run", frame, shown, caption)


def build(exp) -> list[Table]:
    return [summary(exp), run_list(exp)]


def save(tables: list[Table], folder: Path) -> list[Path]:
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


if __name__ == "__main__":
    from reports.build import cli

    sys.exit(cli(None, only="tables"))
