"""Every figure of an experiment: which builders draw them, in what order, and their files.

A builder takes (exp, study) and returns a list of Figure (rnngrad.reports.plot): a
matplotlib figure, its file name and a caption saying what it shows, what each channel
encodes, what is averaged and over how many seeds, and what is fixed. `build` calls every
builder of FIGURES on each study (rnngrad.reports.frames: runs that differ in anything no
sweep varied never share a figure); a study with attention runs first gets the builders of
MODEL_FIGURES on all its runs, then those of FIGURES on its RNN runs alone. `save` writes
each figure as <name>.png and <name>.svg.
"""

from __future__ import annotations

from pathlib import Path

import seaborn as sns

from rnngrad.reports import (
    bound_figures,
    learning_figures,
    model_figures,
    outcome_figures,
    profile_figures,
    state_figures,
)
from rnngrad.reports.frames import Study, restrict, studies, subset, usable
from rnngrad.reports.plot import Figure, plt

FIGURES = [  # on the RNN runs of every study, in the page's order
    profile_figures.initial_and_final,  # profile_initial, profile_final
    bound_figures.theory,  # theory
    bound_figures.decay_heatmap,  # decay_heatmap
    profile_figures.over_training,  # profile_training
    state_figures.state,  # state
    learning_figures.curves,  # learning_loss, learning_<metric>
    learning_figures.final_metric,  # final_metric
    outcome_figures.success_length,  # success_length
    outcome_figures.reach_learning,  # reach_learning
]
MODEL_FIGURES = [  # on every run of a study with attention runs, before the others
    model_figures.input_gradient,  # input_gradient
    model_figures.final_metric,  # model_metric
]


def build(exp) -> list[Figure]:
    """Every figure of every study, in the order of MODEL_FIGURES and FIGURES."""
    sns.set_theme(style="whitegrid", context="paper")
    figures = []
    for study in studies(exp, usable(exp.runs)):
        figures += figures_of(exp, study)
    return figures


def figures_of(exp, study: Study) -> list[Figure]:
    out = []
    sub = subset(exp, study.runs)
    if (study.runs["model"] == "attention").any():
        out += [f for builder in MODEL_FIGURES for f in builder(sub, study)]
        rnn_runs = study.runs[study.runs["model"] != "attention"]
        if rnn_runs.empty:
            return out
        study = restrict(study, rnn_runs)
        sub = subset(exp, study.runs)
    return out + [f for builder in FIGURES for f in builder(sub, study)]


def save(figures: list[Figure], folder: Path) -> list[Path]:
    """Write every figure as PNG and SVG (without dates: a rebuild gives the same bytes),
    after removing the figures of an earlier build; close them. Returns the paths."""
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
