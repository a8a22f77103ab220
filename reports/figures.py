"""The report's figures (seaborn), each built from the tidy frames of one experiment.

    python reports/figures.py --experiment vanishing [--tracking-uri URI] [--out reports]

writes reports/figures/<experiment>/<name>.png and .svg. Every function returns Figure
objects: a matplotlib figure with its caption (what it shows, which runs and how many
seeds, what differs between panels).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, or imported
from reports import frames

PALETTE = "viridis"
plt.rcParams["svg.hashsalt"] = "rnngrad"  # SVG ids that do not change between builds


@dataclass
class Figure:
    name: str
    title: str
    fig: plt.Figure
    caption: str


def panels(runs: pd.DataFrame) -> tuple[str | None, str | None]:
    """Facet rows and columns: activation × skip where they vary."""
    vary = frames.varying(runs)
    row = "activation" if "activation" in vary else None
    col = "skip" if "skip" in vary else None
    return row, col


def lines(runs: pd.DataFrame, row, col) -> tuple[str | None, str | None]:
    """hue and style for the lines in a panel: the other swept axes (length first)."""
    rest = [c for c in frames.varying(runs) if c not in (row, col, "task")]
    length = next((c for c in ("T", "delay", "recurrent_scale", "clip", "lr") if c in rest), None)
    other = next((c for c in rest if c != length), None)
    return other, length  # hue = e.g. hidden_size, style = T


def facet_lines(data, x: str, y: str, row, col, hue, style):
    """Lines in a grid of panels, seeds aggregated: the band spans their range."""
    return sns.relplot(
        data=data,
        x=x,
        y=y,
        row=row,
        col=col,
        hue=hue,
        style=style,
        kind="line",
        errorbar=("pi", 100),
        palette=PALETTE if hue else None,
        height=2.8,
        aspect=1.35,
        facet_kws={"margin_titles": True},
    )


def who(runs: pd.DataFrame, used: pd.DataFrame | None = None) -> str:
    used = runs if used is None else used
    seeds = used["seed"].nunique() if "seed" in used else 1
    text = f"{len(used)} of {len(runs)} runs, {seeds} seed{'s' if seeds != 1 else ''} each"
    bad = runs[runs["outcome"].isin(["failed", "killed", "running"])]
    if len(bad):
        text += f"; {len(bad)} failed/killed run(s) have no profile and are left out"
    div = used[used["outcome"] == "diverged"]
    if len(div):
        text += f"; {len(div)} diverged run(s) show their last state before diverging"
    return text


def profile_figures(exp) -> list[Figure]:
    """1. ‖∂ℓ_T/∂h_t‖ against the distance from the loss, at initialisation and at the end."""
    runs, prof = exp.runs, exp.profiles
    if prof.empty:
        return []
    row, col = panels(runs)
    hue, style = lines(runs, row, col)
    last = prof.groupby("run_id")["step"].transform("max")
    out = []
    for when, mask in (("initial", prof["step"] == 0), ("final", prof["step"] == last)):
        data = prof[mask].merge(runs, on="run_id")
        g = facet_lines(data, "distance", "log10_long", row, col, hue, style)
        g.set_axis_labels("distance from the loss step, T − t (steps)", "log10 ‖∂ℓ_T/∂h_t‖")
        g.figure.suptitle(f"Gradient reaching h_t from the last step's loss, {when}", y=1.02)
        when_text = (
            "before any update (step 0)"
            if when == "initial"
            else "at the end of training (last recorded step)"
        )
        caption = (
            f"The long-range gradient ‖∂ℓ_T/∂h_t‖ (mean over a fixed probe batch, log10: it can "
            f"go far below float64's 1e-308) against the distance from the loss step, "
            f"{when_text}. A straight line is geometric decay; its slope is log10 of the decay "
            f"factor. Panels: {row or '—'} (rows) × {col or '—'} (columns); colour: {hue}; "
            f"line style: {style}; band: the range over seeds. {who(runs, data.drop_duplicates('run_id'))}."
            f" Fixed: {frames.describe_fixed(runs)}."
        )
        out.append(Figure(f"profile_{when}", f"The vanishing gradient, {when}", g.figure, caption))
    return out


def theory_figure(exp) -> list[Figure]:
    """2. Measured per-step decay factor against Pascanu's bound."""
    runs = frames.with_theory(exp.runs).dropna(subset=["decay_factor", "sigma_max"])
    if runs.empty:
        return []
    has_skip = "skip" in runs and runs["skip"].astype(bool).any()
    groups = [("plain", runs[~runs["skip"].astype(bool)])] if "skip" in runs else [("plain", runs)]
    if has_skip:
        groups.append(("skip", runs[runs["skip"].astype(bool)]))
    fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 4.2), squeeze=False)
    for ax, (kind, data) in zip(axes[0], groups, strict=True):
        if data.empty:
            ax.set_visible(False)
            continue
        x = data["gamma_sigma"] + (1.0 if kind == "skip" else 0.0)
        plot = data.assign(
            bound=x, run=data["outcome"].where(data["outcome"] == "diverged", "trained")
        )
        sns.scatterplot(
            data=plot,
            x="bound",
            y="decay_factor",
            hue="activation",
            style="run",
            ax=ax,
            s=45,
            palette="Set1",
        )
        hi = float(max(plot["bound"].max(), plot["decay_factor"].max(), 1.2)) * 1.05
        ax.plot([0, hi], [0, hi], color="0.3", lw=1, ls="--", label="y = x (the bound)")
        ax.axvline(
            1.0 if kind == "plain" else 2.0,
            color="crimson",
            lw=1,
            ls=":",
            label="σ_max = 1/γ" + (" (1 + γσ_max = 2)" if kind == "skip" else ""),
        )
        ax.set_xlim(0, hi)
        ax.set_ylim(0, hi)
        ax.set_xlabel(
            "Pascanu's bound per step: "
            + ("1 + γ·σ_max(W_r)" if kind == "skip" else "γ·σ_max(W_r)")
        )
        ax.set_ylabel("measured decay factor per step")
        ax.set_title("h_t = f(a_t) + h_{t−1}" if kind == "skip" else "h_t = f(a_t)")
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    bad = frames.violations(exp)
    caption = (
        "Each point is a run at the end of training: its fitted per-step decay factor (10^slope "
        "of log10 ‖∂ℓ_T/∂h_t‖ against distance) against the bound Pascanu et al. prove for it, "
        "γ·σ_max(W_r) with γ = 1 (tanh) or 1/4 (sigmoid), or 1 + γ·σ_max with the skip "
        "connection. Left of the dotted line σ_max < 1/γ, where vanishing is guaranteed. "
        "The bound caps every single step (checked on every recorded profile: "
        + ("NO violation" if bad.empty else f"{len(bad)} VIOLATIONS, see the page's warning")
        + "); the fitted factor is a typical step, so it lies below the line. "
        f"{who(exp.runs, runs)}."
    )
    return [Figure("theory", "Decay against Pascanu's bound", fig, caption)]


def heatmap_figure(exp) -> list[Figure]:
    """3. Final decay factor over hidden size × T, one panel per activation × skip."""
    runs = exp.runs.dropna(subset=["decay_factor"])
    row, col = panels(runs)
    hue, style = lines(runs, row, col)
    if runs.empty or style is None:
        return []
    y = hue if hue else None
    keys = [k for k in (row, col) if k]
    facets = list(runs.groupby(keys)) if keys else [("all", runs)]
    n = len(facets)
    ncols = 2 if n > 1 else 1
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.4 * nrows), squeeze=False)
    lo, hi = runs["decay_factor"].min(), runs["decay_factor"].max()
    span = max(abs(1 - lo), abs(hi - 1), 0.05)
    for ax, (key, data) in zip(axes.ravel(), facets, strict=False):
        table = (
            data.pivot_table(index=y, columns=style, values="decay_factor", aggfunc="mean")
            if y
            else data.pivot_table(columns=style, values="decay_factor", aggfunc="mean")
        )
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
        ax.set_title(
            ", ".join(f"{k}={v}" for k, v in zip(keys, np.atleast_1d(key), strict=True))
            if keys
            else "all runs"
        )
        ax.set_xlabel(f"{style} (steps)" if style in ("T", "delay") else style)
        ax.set_ylabel(y or "")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    caption = (
        f"Mean final decay factor per step (over seeds) for each {y or 'run'} × {style}, one "
        f"panel per {' × '.join(keys) or 'experiment'}. Red: below 1, the gradient vanishes "
        f"geometrically; blue: above 1, it grows. {who(exp.runs, runs)}."
    )
    return [Figure("decay_heatmap", "Decay factor across the sweep", fig, caption)]


def learning_figures(exp) -> list[Figure]:
    """4. Validation loss and the task's metric over training; final metric against T."""
    runs, hist = exp.runs, exp.history
    metric = frames.primary(runs)
    key = f"valid_{metric}"
    row, col = panels(runs)
    hue, style = lines(runs, row, col)
    data = hist[hist["metric"].isin(["valid_loss", key])].merge(runs, on="run_id")
    if data.empty:
        return []
    base = runs.apply(frames.baseline, axis=1)
    base_metric = float(np.mean([b[metric] for b in base]))
    base_loss = float(np.mean([b["loss"] for b in base]))
    out = []
    for name, y, base_value in (("loss", "valid_loss", base_loss), (metric, key, base_metric)):
        sub = data[data["metric"] == y]
        g = facet_lines(sub, "step", "value", row, col, hue=style, style=hue)
        for ax in g.axes.flat:
            ax.axhline(base_value, color="crimson", ls="--", lw=1, label="no-learning baseline")
        g.set_axis_labels("training step", f"validation {name}")
        g.figure.suptitle(f"Learning: validation {name} over training", y=1.02)
        caption = (
            f"Validation {name} on the fixed validation set over training; the dashed red line "
            f"is the no-learning baseline ({base_value:.3g}: what a model that learned nothing "
            f"scores; lines on it have not learned the long-range dependency). Colour: {style}; "
            f"line style: {hue}; band: range over seeds. {who(runs)}."
        )
        out.append(Figure(f"learning_{name}", f"Learning curves ({name})", g.figure, caption))
    final = runs.dropna(subset=[key]) if key in runs else runs.iloc[0:0]
    if style and not final.empty:
        g = sns.catplot(
            data=final,
            x=style,
            y=key,
            row=row,
            col=col,
            hue=hue,
            kind="point",
            errorbar=("pi", 100),
            palette=PALETTE if hue else None,
            height=2.8,
            aspect=1.35,
            dodge=0.2 if hue else False,
            margin_titles=True,
        )
        for ax in g.axes.flat:
            ax.axhline(base_metric, color="crimson", ls="--", lw=1)
        g.set_axis_labels(
            f"{style} (steps)" if style in ("T", "delay") else style, f"final validation {metric}"
        )
        g.figure.suptitle(f"Final validation {metric} against {style}", y=1.02)
        caption = (
            f"Final validation {metric} of each configuration against {style} (points: mean "
            f"over seeds, bars: range), with the no-learning baseline (dashed red, "
            f"{base_metric:.3g}). {who(runs, final)}."
        )
        out.append(Figure("final_metric", f"Final {metric} against {style}", g.figure, caption))
    return out


def training_profile_figure(exp) -> list[Figure]:
    """5. The profile over training (training step × t) for one run per panel."""
    runs, prof = exp.runs, exp.profiles
    if prof.empty:
        return []
    row, col = panels(runs)
    keys = [k for k in (row, col) if k]
    _, length = lines(runs, row, col)
    chosen = runs[runs["run_id"].isin(prof["run_id"].unique())]
    if "seed" in chosen:
        chosen = chosen[chosen["seed"] == chosen["seed"].min()]
    if length:
        chosen = chosen[chosen[length] == chosen[length].max()]
    if "hidden_size" in chosen:
        chosen = chosen[chosen["hidden_size"] == chosen["hidden_size"].max()]
    picks = chosen.groupby(keys).head(1) if keys else chosen.head(1)
    n = len(picks)
    ncols = 2 if n > 1 else 1
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.2 * nrows), squeeze=False)
    for ax, (_, r) in zip(axes.ravel(), picks.iterrows(), strict=False):
        p = prof[prof["run_id"] == r["run_id"]]
        grid = p.pivot_table(index="step", columns="t", values="log10_long")
        sns.heatmap(
            grid,
            ax=ax,
            cmap="magma",
            cbar_kws={"label": "log10 ‖∂ℓ_T/∂h_t‖"},
            xticklabels=max(1, grid.shape[1] // 8),
            yticklabels=True,
        )
        ax.set_xlabel("time step t (loss at t = T)")
        ax.set_ylabel("training step")
        ax.set_title(", ".join(f"{k}={r[k]}" for k in keys) + f" ({r['outcome']})", fontsize=9)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    fixed = ", ".join(
        f"{c} {picks[c].iloc[0]}" for c in ("hidden_size", length, "seed") if c and c in picks
    )
    caption = (
        "How the gradient flow changes as the network learns: log10 ‖∂ℓ_T/∂h_t‖ on the probe "
        "batch (colour) for every recorded training step (rows) and time step (columns), one "
        f"run per panel ({fixed}). Dark columns far from t = T are where the gradient has "
        "vanished."
    )
    return [Figure("profile_training", "The profile over training", fig, caption)]


VARIANTS = ["attention", "rnn tanh", "rnn sigmoid", "rnn tanh + skip", "rnn sigmoid + skip"]
VARIANT_COLOURS = dict(zip(VARIANTS, sns.color_palette("colorblind", len(VARIANTS)), strict=True))


def model_comparison_figures(exp) -> list[Figure]:
    """RNN against attention: ‖∂J/∂x_t‖ against distance, one line per model, and the final
    metric of each model at each T against the baseline (one colour per model in both)."""
    runs = exp.runs.assign(variant=frames.variant(exp.runs))
    order = [v for v in VARIANTS if v in set(runs["variant"])]
    prof = exp.profiles.dropna(subset=["log10_dx"])
    if prof.empty:
        return []
    last = prof.groupby("run_id")["step"].transform("max")
    data = prof[prof["step"] == last].merge(runs, on="run_id")
    row = "task" if runs["task"].nunique() > 1 else None
    col = "T" if "T" in frames.varying(runs) else None
    g = sns.relplot(
        data=data,
        x="distance",
        y="log10_dx",
        row=row,
        col=col,
        hue="variant",
        hue_order=order,
        palette=VARIANT_COLOURS,
        kind="line",
        errorbar=("pi", 100),
        height=2.6,
        aspect=1.2,
        facet_kws={"sharex": False, "margin_titles": True},
    )
    g.set_axis_labels("distance from the loss step, T − t", "log10 ‖∂J/∂x_t‖")
    g.figure.suptitle("Gradient reaching each step's input: RNN variants against attention", y=1.02)
    out = [
        Figure(
            "input_gradient",
            "RNN against attention: gradient at the inputs",
            g.figure,
            "The gradient reaching the input of each step at the end of training, ‖∂J/∂(W_e x_t)‖ "
            "for the RNNs and ‖∂J/∂e_t‖ for attention (log10, mean over the probe batch), against "
            f"the distance from the loss step. Panels: {row or '—'} × {col or '—'}; colour: model; "
            "band: range over seeds. In an RNN it passes T − t Jacobians; in attention, one "
            f"softmax. {who(exp.runs, runs)}.",
        )
    ]
    metric = frames.primary(runs)
    key = f"valid_{metric}"
    final = runs.dropna(subset=[key]) if key in runs else runs.iloc[0:0]
    if col and not final.empty:
        g = sns.catplot(
            data=final,
            x="T",
            y=key,
            col=row,
            hue="variant",
            hue_order=order,
            palette=VARIANT_COLOURS,
            kind="point",
            errorbar=("pi", 100),
            height=3.0,
            aspect=1.2,
            dodge=0.3,
        )
        bases = {}
        panels_by_task = g.axes_dict.items() if row else [(None, g.ax)]
        for task, ax in panels_by_task:
            rows = final[final["task"] == task] if task else final
            bases[task] = frames.baseline(rows.iloc[0])[metric]
            ax.axhline(bases[task], color="crimson", ls="--", lw=1)
        g.set_axis_labels("T (steps)", f"final validation {metric}")
        g.figure.suptitle(f"Final {metric} of each model against T", y=1.03)
        shown = ", ".join(f"{t or 'all'} {b:.3g}" for t, b in bases.items())
        out.append(
            Figure(
                "model_metric",
                f"Final {metric} per model",
                g.figure,
                f"Final validation {metric} of each model at each T (points: mean over seeds, "
                f"bars: range), with each task's no-learning baseline (dashed red: {shown}). "
                f"{who(runs, final)}.",
            )
        )
    return out


BUILDERS = [
    profile_figures,
    theory_figure,
    heatmap_figure,
    learning_figures,
    training_profile_figure,
]


def build(exp) -> list[Figure]:
    """Every figure; with attention runs, the comparison first, then the RNN figures on the
    RNN runs only (their profiles are over h_t, which attention does not have)."""
    sns.set_theme(style="whitegrid", context="paper")
    figures = []
    if "model" in exp.runs and (exp.runs["model"] == "attention").any():
        figures.extend(model_comparison_figures(exp))
        exp = frames.subset(exp, exp.runs["model"] != "attention")
    if exp.runs.empty:
        return figures
    for builder in BUILDERS:
        figures.extend(builder(exp))
    return figures


def save(figures: list[Figure], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for f in figures:
        for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None})):
            path = folder / f"{f.name}.{ext}"
            f.fig.savefig(path, dpi=110, bbox_inches="tight", metadata=meta)
            written.append(path)
        plt.close(f.fig)
    return written


def main(argv: list[str] | None = None) -> int:
    from reports.build import cli

    return cli(argv, only="figures")


if __name__ == "__main__":
    sys.exit(main())
