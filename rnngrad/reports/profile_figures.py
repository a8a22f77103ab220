"""The gradient profile figures of a study: ‖∂ℓ_T/∂h_t‖ against the distance from the loss
step at initialisation and at the end (`profile_initial`, `profile_final`), and as a
heatmap over training (`profile_training`). Every value comes from the run record."""

from __future__ import annotations

import pandas as pd
import seaborn as sns

from rnngrad.reports.axes import SEED, labelled
from rnngrad.reports.frames import Study
from rnngrad.reports.layout import Layout, parts, plan
from rnngrad.reports.plot import (
    PREFER,
    Figure,
    averaged,
    lines,
    panel_grid,
    tail,
    title_suffix,
)

LINES = ("row", "col", "hue", "style")
DISTANCE = "steps back from the last step, (T − t)"  # T: the sequence's length
LOG_NOTE = (
    "log10 of the batch mean over the probe batch, computed in log space: exact far below "
    "float64's 1e-308"
)
MOMENT = {"initial": "before any update (step 0)", "final": "at each run's last profile"}


def at_step(exp, when: str) -> pd.DataFrame:
    """Each run's profile at step 0 ("initial") or at its last recorded step ("final")."""
    prof = exp.profiles
    if when == "initial":
        return prof[prof["step"] == 0]
    return prof[prof["step"] == prof.groupby("run_id")["step"].transform("max")]


def initial_and_final(exp, study: Study) -> list[Figure]:
    """‖∂ℓ_T/∂h_t‖ against the distance from the loss, at initialisation and at the end."""
    if exp.profiles.empty:
        return []
    layout = plan(study.axes, list(LINES), PREFER)
    out = []
    for when in ("initial", "final"):
        data = at_step(exp, when).merge(study.runs, on="run_id")
        for suffix, part, sub in parts(data, layout.split):
            out.append(profile_against_distance(sub, study, layout, when, suffix, part))
    return out


def profile_against_distance(
    sub: pd.DataFrame, study: Study, layout: Layout, when: str, suffix: str, part: str
) -> Figure:
    g = lines(sub, "distance", "log10_long", layout)
    g.set_axis_labels(DISTANCE, "log10 ‖∂ℓ_T/∂h_t‖")
    g.figure.suptitle(
        f"Gradient reaching h_t from the last step's loss, {when}" + title_suffix(study, part),
        y=1.02,
    )
    runs = sub.drop_duplicates("run_id")
    caption = (
        f"The long-range gradient ‖∂ℓ_T/∂h_t‖ ({LOG_NOTE}) against the distance from the "
        f"loss step, {MOMENT[when]}. A straight line is geometric decay; its slope is log10 "
        f"of the per-step factor. {layout.caption()} {averaged(runs, layout)} "
        f"{tail(study, part)}"
    )
    title = f"The vanishing gradient, {when}{title_suffix(study, part)}"
    return Figure(f"profile_{when}{study.suffix}{suffix}", title, g.figure, caption)


def one_run_per_panel(study: Study, profiled: pd.DataFrame, keys: list[str]):
    """The run each panel of the profile over training shows: per value of the panel axes,
    the largest value of every other axis and the smallest seed. Returns (runs, picked)."""
    chosen = study.runs[study.runs["run_id"].isin(profiled["run_id"].unique())]
    picked = {}
    for axis in [a for a in study.axes if a not in keys] + [SEED]:
        if axis in chosen and chosen[axis].notna().any():
            value = chosen[axis].min() if axis == SEED else chosen[axis].max()
            chosen = chosen[chosen[axis] == value]
            picked[axis] = value
    picks = chosen.groupby(keys, dropna=False).head(1) if keys else chosen.head(1)
    return picks, picked


def heatmap_of_run(ax, profiles: pd.DataFrame, vmin: float, vmax: float) -> None:
    """One run's log10 ‖∂ℓ_T/∂h_t‖, training step × t, on the shared colour scale."""
    grid = profiles.pivot_table(index="step", columns="t", values="log10_long")
    sns.heatmap(
        grid,
        ax=ax,
        cmap="magma",
        vmin=vmin,
        vmax=vmax,
        cbar_kws={"label": "log10 ‖∂ℓ_T/∂h_t‖"},
        xticklabels=max(1, grid.shape[1] // 8),
        yticklabels=True,
    )
    ax.set_xlabel("time step t (ℓ_T is the loss at the last step)")
    ax.set_ylabel("training step")


def over_training(exp, study: Study) -> list[Figure]:
    """Training step × t heatmaps of log10 ‖∂ℓ_T/∂h_t‖, one run per panel, one colour scale."""
    if exp.profiles.empty:
        return []
    keys = plan(study.axes, ["row", "col"], PREFER).used
    picks, picked = one_run_per_panel(study, exp.profiles, keys)
    if picks.empty:
        return []
    shown = exp.profiles[exp.profiles["run_id"].isin(picks["run_id"])]
    vmin, vmax = float(shown["log10_long"].min()), float(shown["log10_long"].max())
    fig, axes = panel_grid(len(picks), 5.0, 3.2)
    for ax, (_, r) in zip(axes, picks.iterrows(), strict=True):
        heatmap_of_run(ax, shown[shown["run_id"] == r["run_id"]], vmin, vmax)
        title = labelled((k, r[k]) for k in keys) or "the run"
        ax.set_title(f"{title} ({r['outcome']})", fontsize=9)
    fig.tight_layout()
    caption = (
        "How the gradient flow changes as the network learns: log10 ‖∂ℓ_T/∂h_t‖ on the probe "
        "batch (colour) for every recorded training step (rows) and time step t (columns). "
        f"One run per panel: {labelled(picked.items())}. All panels share one colour scale, "
        f"from {vmin:.3g} (black) to {vmax:.3g} (light): dark is a small gradient, whichever "
        "panel. " + tail(study, "")
    )
    title = f"The profile over training{title_suffix(study, '')}"
    return [Figure(f"profile_training{study.suffix}", title, fig, caption)]
