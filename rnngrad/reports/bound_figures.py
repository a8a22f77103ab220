"""The figures of the decay factor: each run's fitted per-step factor against Pascanu's bound
at the same training step (`theory`), and its mean over seeds across the sweep
(`decay_heatmap`). Both values come from the run record; nothing is recomputed."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from rnngrad.reports.axes import LENGTHS, groups, labelled, listing, name, seeds
from rnngrad.reports.frames import Study
from rnngrad.reports.layout import Layout, parts, plan
from rnngrad.reports.plot import PREFER, Figure, panel_grid, tail, title_suffix

ACTIVATION_COLOURS = {"tanh": "tab:blue", "sigmoid": "tab:red"}  # the same in every panel
PLAIN, SKIP = "h_t = f(a_t)", "h_t = f(a_t) + h_{t−1}"
THEORY_CAPTION = (
    "Each point is one run at its last recorded profile: its fitted per-step decay factor "
    "(10^slope of log10 ‖∂ℓ_T/∂h_t‖ against distance) against the bound Pascanu et al. prove "
    "for every single step, γ·σ_max(W_r) with γ = 1 (tanh) or 1/4 (sigmoid), plus 1 with the "
    "skip connection, both recorded at that same training step. The fitted slope is a "
    "weighted mean of the per-step factors, so no point can lie above y = x; how far below "
    "it lies is how much the units' f'(a) < γ and the alignment of the gradient with W_r "
    "take off the bound. Only left of the dotted line (γ·σ_max < 1, plain RNN) does the "
    "bound force vanishing; with the skip connection the bound is at least 1 and forces "
    "nothing. Colour: activation; marker: trained or diverged. "
)


def theory(exp, study: Study) -> list[Figure]:
    """Each run's fitted decay factor against Pascanu's bound at the same training step."""
    runs = study.runs.dropna(subset=["decay_factor", "bound"])
    if runs.empty:
        return []
    kinds = [k for k in (False, True) if (runs["skip"].astype(bool) == k).any()]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 4.2), squeeze=False)
    for ax, skip in zip(axes[0], kinds, strict=True):
        theory_panel(ax, runs, skip)
    fig.tight_layout()
    spans = [listing(runs, a) for a in study.axes if a not in ("activation", "skip")]
    caption = (
        THEORY_CAPTION
        + (f"Points cover {'; '.join(spans)} (not averaged). " if spans else "")
        + "The bound is checked for every example at every step by the self-check "
        "(see What this sweep shows). " + tail(study, "")
    )
    title = f"Decay against Pascanu's bound{title_suffix(study, '')}"
    return [Figure(f"theory{study.suffix}", title, fig, caption)]


def theory_panel(ax, runs: pd.DataFrame, skip: bool) -> None:
    """The runs with (or without) the skip connection: decay factor against bound, y = x, and
    for the plain RNN the line γ·σ_max = 1 left of which vanishing is guaranteed."""
    data = runs[runs["skip"].astype(bool) == skip].assign(
        run=lambda d: d["outcome"].where(d["outcome"] == "diverged", "trained")
    )
    sns.scatterplot(
        data=data,
        x="bound",
        y="decay_factor",
        hue="activation",
        hue_order=[a for a in ACTIVATION_COLOURS if a in set(runs["activation"])],
        style="run",
        style_order=[r for r in ("trained", "diverged") if r in set(data["run"])],
        markers={"trained": "o", "diverged": "X"},
        ax=ax,
        s=45,
        palette=ACTIVATION_COLOURS,
    )
    hi = float(max(data["bound"].max(), data["decay_factor"].max(), 1.2)) * 1.05
    ax.plot([0, hi], [0, hi], color="0.3", lw=1, ls="--", label="y = x (the bound)")
    if not skip:
        ax.axvline(1.0, color="crimson", lw=1, ls=":", label="γ·σ_max = 1")
        ax.set_title(f"{PLAIN}: left of the dotted line vanishing is guaranteed", fontsize=9)
        ax.set_xlabel("Pascanu's bound per step, γ·σ_max(W_r), at the same step")
    else:
        ax.set_title(f"{SKIP}: the bound is ≥ 1, it guarantees nothing", fontsize=9)
        ax.set_xlabel("Pascanu's bound per step, 1 + γ·σ_max(W_r), at the same step")
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_ylabel("fitted decay factor per step")
    ax.legend(fontsize=7, loc="upper left")


def decay_heatmap(exp, study: Study) -> list[Figure]:
    """Final decay factor per cell of two axes, one panel per value of the others."""
    runs = study.runs.dropna(subset=["decay_factor"])
    layout = plan(
        study.axes, ["row", "col", "y", "x"], {**PREFER, "x": LENGTHS, "y": ("hidden_size",)}
    )
    if runs.empty or layout.get("x") is None:
        return []
    lo, hi = runs["decay_factor"].min(), runs["decay_factor"].max()
    span = max(abs(1 - lo), abs(hi - 1), 0.05)  # one colour scale, centred on 1
    return [
        heatmap_figure(sub, study, layout, span, suffix, part)
        for suffix, part, sub in parts(runs, layout.split)
    ]


def decay_cells(ax, data: pd.DataFrame, x: str, y: str | None, span: float) -> None:
    """The mean decay factor per (y, x) cell, annotated, on the colour scale 1 ± span."""
    if y:
        table = data.pivot_table(index=y, columns=x, values="decay_factor", aggfunc="mean")
    else:  # one row of cells
        table = data.groupby(x)["decay_factor"].mean().to_frame().T
    sns.heatmap(
        table,
        ax=ax,
        annot=True,
        fmt=".2f",
        cmap="RdBu",
        vmin=1 - span,
        vmax=1 + span,
        cbar_kws={"label": "decay factor per step"},
    )
    ax.set_xlabel(f"{name(x)} (steps)" if x in LENGTHS else name(x))
    ax.set_ylabel(name(y) if y else "")


def heatmap_figure(
    sub: pd.DataFrame, study: Study, layout: Layout, span: float, suffix: str, part: str
) -> Figure:
    x, y = layout.get("x"), layout.get("y")
    keys = [k for k in (layout.get("row"), layout.get("col")) if k]
    facets = groups(sub, keys)
    fig, axes = panel_grid(len(facets), 4.6, 3.4)
    for ax, (key, data) in zip(axes, facets, strict=True):
        decay_cells(ax, data, x, y, span)
        ax.set_title(labelled(zip(keys, key, strict=True)) or "all runs")
    fig.tight_layout()
    panel = " × ".join(name(k) for k in keys) or "the study"
    cells = seeds(sub, [k for k in (*keys, x, y) if k], "cell")
    caption = (
        f"Final per-step decay factor of the long-range gradient for each "
        f"{name(y) + ' × ' if y else ''}{name(x)}, one panel per {panel}; cells: {cells}. One "
        "colour scale for all panels, centred on 1: red below 1 (the gradient shrinks "
        f"geometrically going back), blue above 1 (it grows). {tail(study, part)}"
    )
    title = f"Decay factor across the sweep{title_suffix(study, part)}"
    return Figure(f"decay_heatmap{study.suffix}{suffix}", title, fig, caption)
