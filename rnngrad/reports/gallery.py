"""The report's figures (seaborn), built study by study (reports/frames.py: runs that differ in
anything no sweep varied never share a figure; every axis is shown; only seeds are averaged).

Written by reports/build.py (`--only figures` for just these) as
reports/figures/<experiment>/<name>.png and .svg. Every builder (gradients.py,
learning.py) returns Figure objects: a matplotlib figure with its caption (what it shows,
what each channel encodes, what is averaged and over how many seeds, what is fixed).
"""

from __future__ import annotations

from pathlib import Path

import seaborn as sns

from rnngrad.reports import frames
from rnngrad.reports import learning_figures as learning
from rnngrad.reports import profile_figures as gradients
from rnngrad.reports.plot import Figure, plt


def build(exp) -> list[Figure]:
    """Every figure of every study: the RNN figures on the RNN runs; with attention runs,
    first the comparison of the models."""
    sns.set_theme(style="whitegrid", context="paper")
    figures = []
    for study in frames.studies(exp, frames.usable(exp.runs)):
        sub = frames.subset(exp, study.runs)
        if (study.runs["model"] == "attention").any():
            figures += gradients.model_comparison(sub, study) + learning.model_metric(sub, study)
            rnn_runs = study.runs[study.runs["model"] != "attention"]
            if rnn_runs.empty:
                continue
            study = frames.restrict(study, rnn_runs)
            sub = frames.subset(exp, study.runs)
        for builder in (*gradients.BUILDERS, *learning.BUILDERS):
            figures += builder(sub, study)
    return figures


def save(figures: list[Figure], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):  # figures of a layout that no longer applies must not linger
        if old.suffix in (".png", ".svg"):
            old.unlink()
    written = []
    for f in figures:
        for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None})):
            path = folder / f"{f.name}.{ext}"
            f.fig.savefig(path, dpi=110, bbox_inches="tight", metadata=meta)
            written.append(path)
        plt.close(f.fig)
    return written
