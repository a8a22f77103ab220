"""The gradient and state figures of a study: profiles against distance, the bound, the decay
across the sweep, the profile over training, the state, and the RNN-attention comparison.
Every value comes from the run record; nothing is recomputed."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from rnngrad.reports import frames
from rnngrad.reports.plot import (
    MODEL_COLOURS,
    MODEL_ORDER,
    PREFER,
    Figure,
    averaged,
    lines,
    tail,
    title_suffix,
)

LINES = ("row", "col", "hue", "style")
ACTIVATION_COLOURS = {"tanh": "tab:blue", "sigmoid": "tab:red"}  # the same in every panel
DISTANCE = "steps back from the last step, (T − t)"  # T: the sequence's length
LOG_NOTE = (
    "log10 of the batch mean over the probe batch, computed in log space: exact far below "
    "float64's 1e-308"
)


def at_step(exp, when: str) -> pd.DataFrame:
    """Each run's profile at step 0 ("initial") or at its last recorded step ("final")."""
    prof = exp.profiles
    if when == "initial":
        return prof[prof["step"] == 0]
    return prof[prof["step"] == prof.groupby("run_id")["step"].transform("max")]


def profile_figures(exp, study: frames.Study) -> list[Figure]:
    """‖∂ℓ_T/∂h_t‖ against the distance from the loss, at initialisation and at the end."""
    if exp.profiles.empty:
        return []
    layout = frames.plan(study.axes, list(LINES), PREFER)
    out = []
    for when in ("initial", "final"):
        data = at_step(exp, when).merge(study.runs, on="run_id")
        for suffix, part, sub in frames.parts(data, layout.split):
            g = lines(sub, "distance", "log10_long", layout)
            g.set_axis_labels(DISTANCE, "log10 ‖∂ℓ_T/∂h_t‖")
            g.figure.suptitle(
                f"Gradient reaching h_t from the last step's loss, {when}"
                + title_suffix(study, part),
                y=1.02,
            )
            runs = sub.drop_duplicates("run_id")
            moment = (
                "before any update (step 0)" if when == "initial" else "at each run's last profile"
            )
            caption = (
                f"The long-range gradient ‖∂ℓ_T/∂h_t‖ ({LOG_NOTE}) against the distance from the "
                f"loss step, {moment}. A straight line is geometric decay; its slope is log10 "
                f"of the per-step factor. {layout.caption()} {averaged(runs, layout)} "
                f"{tail(study, part)}"
            )
            name = f"profile_{when}{study.suffix}{suffix}"
            out.append(
                Figure(
                    name,
                    f"The vanishing gradient, {when}{title_suffix(study, part)}",
                    g.figure,
                    caption,
                )
            )
    return out


def theory_figure(exp, study: frames.Study) -> list[Figure]:
    """Each run's fitted decay factor against Pascanu's bound at the same training step."""
    runs = study.runs.dropna(subset=["decay_factor", "bound"])
    if runs.empty:
        return []
    kinds = [k for k in (False, True) if (runs["skip"].astype(bool) == k).any()]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 4.2), squeeze=False)
    for ax, skip in zip(axes[0], kinds, strict=True):
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
            ax.set_title(
                "h_t = f(a_t): left of the dotted line vanishing is guaranteed", fontsize=9
            )
            ax.set_xlabel("Pascanu's bound per step, γ·σ_max(W_r), at the same step")
        else:
            ax.set_title(
                "h_t = f(a_t) + h_{t−1}: the bound is ≥ 1, it guarantees nothing", fontsize=9
            )
            ax.set_xlabel("Pascanu's bound per step, 1 + γ·σ_max(W_r), at the same step")
        ax.set_xlim(0, hi)
        ax.set_ylim(0, hi)
        ax.set_ylabel("fitted decay factor per step")
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    spans = [frames.listing(runs, a) for a in study.axes if a not in ("activation", "skip")]
    caption = (
        "Each point is one run at its last recorded profile: its fitted per-step decay factor "
        "(10^slope of log10 ‖∂ℓ_T/∂h_t‖ against distance) against the bound Pascanu et al. prove "
        "for every single step, γ·σ_max(W_r) with γ = 1 (tanh) or 1/4 (sigmoid), plus 1 with the "
        "skip connection, both recorded at that same training step. The fitted slope is a "
        "weighted mean of the per-step factors, so no point can lie above y = x; how far below "
        "it lies is how much the units' f'(a) < γ and the alignment of the gradient with W_r "
        "take off the bound. Only left of the dotted line (γ·σ_max < 1, plain RNN) does the "
        "bound force vanishing; with the skip connection the bound is at least 1 and forces "
        "nothing. Colour: activation; marker: trained or diverged. "
        + (f"Points cover {'; '.join(spans)} (not averaged). " if spans else "")
        + "The bound is checked for every example at every step by the self-check "
        "(see What this sweep shows). " + tail(study, "")
    )
    return [
        Figure(
            f"theory{study.suffix}",
            f"Decay against Pascanu's bound{title_suffix(study, '')}",
            fig,
            caption,
        )
    ]


def heatmap_figure(exp, study: frames.Study) -> list[Figure]:
    """Final decay factor per cell of two axes, one panel per value of the others."""
    runs = study.runs.dropna(subset=["decay_factor"])
    layout = frames.plan(
        study.axes, ["row", "col", "y", "x"], {**PREFER, "x": frames.LENGTHS, "y": ("hidden_size",)}
    )
    x, y = layout.get("x"), layout.get("y")
    if runs.empty or x is None:
        return []
    lo, hi = runs["decay_factor"].min(), runs["decay_factor"].max()
    span = max(abs(1 - lo), abs(hi - 1), 0.05)
    out = []
    for suffix, part, sub in frames.parts(runs, layout.split):
        keys = [k for k in (layout.get("row"), layout.get("col")) if k]
        facets = list(sub.groupby(keys, dropna=False)) if keys else [((), sub)]
        ncols = 2 if len(facets) > 1 else 1
        nrows = int(np.ceil(len(facets) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.4 * nrows), squeeze=False)
        for ax, (key, data) in zip(axes.ravel(), facets, strict=False):
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
            key = key if isinstance(key, tuple) else (key,)
            ax.set_title(
                ", ".join(
                    f"{frames.name(k)} = {frames.text(v)}" for k, v in zip(keys, key, strict=True)
                )
                or "all runs"
            )
            ax.set_xlabel(f"{frames.name(x)} (steps)" if x in frames.LENGTHS else frames.name(x))
            ax.set_ylabel(frames.name(y) if y else "")
        for ax in axes.ravel()[len(facets) :]:
            ax.set_visible(False)
        fig.tight_layout()
        panel = " × ".join(frames.name(k) for k in keys) or "the study"
        caption = (
            f"Final per-step decay factor of the long-range gradient for each "
            f"{frames.name(y) + ' × ' if y else ''}{frames.name(x)}, one panel per {panel}; cells: "
            f"{frames.seeds(sub, [k for k in (*keys, x, y) if k], 'cell')}. One colour scale for all panels, centred "
            f"on 1: red below 1 (the gradient shrinks geometrically going back), blue above 1 "
            f"(it grows). {tail(study, part)}"
        )
        name = f"decay_heatmap{study.suffix}{suffix}"
        out.append(
            Figure(name, f"Decay factor across the sweep{title_suffix(study, part)}", fig, caption)
        )
    return out


def training_profile_figure(exp, study: frames.Study) -> list[Figure]:
    """Training step × t heatmaps of log10 ‖∂ℓ_T/∂h_t‖, one run per panel, one colour scale."""
    prof = exp.profiles
    if prof.empty:
        return []
    layout = frames.plan(study.axes, ["row", "col"], PREFER)
    keys = layout.used
    chosen = study.runs[study.runs["run_id"].isin(prof["run_id"].unique())]
    picked = {}
    for axis in [a for a in study.axes if a not in keys] + [frames.SEED]:
        if axis in chosen and chosen[axis].notna().any():
            value = chosen[axis].min() if axis == frames.SEED else chosen[axis].max()
            chosen = chosen[chosen[axis] == value]
            picked[axis] = value
    picks = chosen.groupby(keys, dropna=False).head(1) if keys else chosen.head(1)
    if picks.empty:
        return []
    shown = prof[prof["run_id"].isin(picks["run_id"])]
    vmin, vmax = float(shown["log10_long"].min()), float(shown["log10_long"].max())
    ncols = 2 if len(picks) > 1 else 1
    nrows = int(np.ceil(len(picks) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.2 * nrows), squeeze=False)
    for ax, (_, r) in zip(axes.ravel(), picks.iterrows(), strict=False):
        grid = shown[shown["run_id"] == r["run_id"]].pivot_table(
            index="step", columns="t", values="log10_long"
        )
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
        title = ", ".join(f"{frames.name(k)} = {frames.text(r[k])}" for k in keys) or "the run"
        ax.set_title(f"{title} ({r['outcome']})", fontsize=9)
    for ax in axes.ravel()[len(picks) :]:
        ax.set_visible(False)
    fig.tight_layout()
    which = ", ".join(f"{frames.name(k)} = {frames.text(v)}" for k, v in picked.items())
    caption = (
        "How the gradient flow changes as the network learns: log10 ‖∂ℓ_T/∂h_t‖ on the probe "
        "batch (colour) for every recorded training step (rows) and time step t (columns). "
        f"One run per panel: {which}. All panels share one colour scale, from "
        f"{vmin:.3g} (black) to {vmax:.3g} (light): dark is a small gradient, whichever panel. "
        + tail(study, "")
    )
    return [
        Figure(
            f"profile_training{study.suffix}",
            f"The profile over training{title_suffix(study, '')}",
            fig,
            caption,
        )
    ]


def state_figure(exp, study: frames.Study) -> list[Figure]:
    """‖h_t‖ and the saturation against t at the end of training, one column per variant."""
    data = at_step(exp, "final").merge(study.runs, on="run_id")
    data = data.dropna(subset=["state_norm"])
    if data.empty:
        return []
    data = data.assign(
        variant_=data["activation"].astype(str) + np.where(data["skip"].astype(bool), " + skip", "")
    )
    rest = [a for a in study.axes if a not in ("activation", "skip")]
    layout = frames.plan(rest, ["hue", "style"], PREFER)
    long = data.melt(
        id_vars=["run_id", "t", "variant_", *study.axes, frames.SEED],
        value_vars=["state_norm", "saturation_t"],
        var_name="measure",
        value_name="value",
    )
    long["measure"] = long["measure"].map(
        {"state_norm": "‖h_t‖", "saturation_t": "saturated fraction"}
    )
    out = []
    for suffix, part, sub in frames.parts(long, layout.split):
        shown = frames.Layout({"row": "measure", "col": "variant_", **layout.slots}, [])
        g = lines(sub, "t", "value", shown, facet_kws={"sharey": "row"}, height=2.6, aspect=1.2)
        for ax in g.axes[0]:
            ax.set_yscale("log")
        for ax in g.axes[1]:
            ax.set_ylim(-0.03, 1.03)
        g.set_axis_labels("time step t", "")
        g.set_titles(row_template="{row_name}", col_template="{col_name}")
        g.figure.suptitle(
            f"The state the gradient travels through, at the end{title_suffix(study, part)}", y=1.03
        )
        runs = sub.drop_duplicates("run_id")
        caption = (
            "Top: ‖h_t‖, the state's Euclidean norm averaged over the probe batch (log scale), "
            "against the time step t, at each run's last profile. Bottom: the saturated "
            "fraction at step t, the share of (example, unit) pairs with f'(a_t) < 0.1·max f' "
            "(tanh: |tanh a| > 0.949; sigmoid: |a| > 3.64). One column per activation and skip connection. "
            "Without the skip, h_t = f(a_t) is bounded (|h| < 1 for tanh, 0 < h < 1 for the "
            "sigmoid, so ‖h_t‖ ≤ √H); with it, h_t = f(a_t) + h_{t−1} is a running sum that can "
            "grow with t and push |a_t| up until the units saturate. Where the saturated "
            "fraction is near 1, f'(a_t) ≈ 0 in most units: a gradient that vanishes there is "
            "lost to saturation, not to the contraction of W_r; and a flat gradient profile "
            "with the skip connection then travels along the identity path alone, carried past "
            "units that no longer transmit anything. "
            + (layout.caption() + " " if layout.slots else "")
            + f"Lines: {frames.seeds(runs, [*layout.used, 'variant_'], 'line', 'the band')}. "
            + tail(study, part)
        )
        name = f"state{study.suffix}{suffix}"
        out.append(
            Figure(name, f"State size and saturation{title_suffix(study, part)}", g.figure, caption)
        )
    return out


def model_comparison(exp, study: frames.Study) -> list[Figure]:
    """The gradient reaching each step's input, one line per model (RNN variants, attention)."""
    data = at_step(exp, "final").dropna(subset=["log10_dx"]).merge(study.runs, on="run_id")
    if data.empty:
        return []
    order = [m for m in MODEL_ORDER if m in set(data["variant"])]
    rest = frames.beside_models(study)
    layout = frames.plan(rest, ["row", "col"], {"row": ("task",), "col": frames.LENGTHS})
    out = []
    for suffix, part, sub in frames.parts(data, layout.split):
        g = sns.relplot(
            data=sub,
            x="distance",
            y="log10_dx",
            row=layout.get("row"),
            col=layout.get("col"),
            hue="variant",
            hue_order=order,
            palette=MODEL_COLOURS,
            kind="line",
            errorbar=("pi", 100),
            height=2.6,
            aspect=1.2,
            facet_kws={"sharex": False, "margin_titles": True},
        )
        g.set_axis_labels(DISTANCE, "log10 ‖∂J/∂(W_e x_t)‖, attention ‖∂J/∂e_t‖")
        g.figure.suptitle(
            "Gradient reaching each step's input: RNN variants against attention"
            + title_suffix(study, part),
            y=1.02,
        )
        runs = sub.drop_duplicates("run_id")
        caption = (
            "The gradient reaching the input of each step at the end of training, "
            "‖∂J/∂(W_e x_t)‖ for the RNNs and ‖∂J/∂e_t‖ for attention "
            f"({LOG_NOTE}), against the distance from the loss step. In an RNN it passes "
            "T − t Jacobians; in attention, one softmax. Colour: model. "
            f"{layout.caption()} Lines: "
            f"{frames.seeds(runs, [*layout.used, 'variant'], 'line', 'the band')}. {tail(study, part)}"
        )
        name = f"input_gradient{study.suffix}{suffix}"
        out.append(
            Figure(
                name,
                f"RNN against attention: gradient at the inputs{title_suffix(study, part)}",
                g.figure,
                caption,
            )
        )
    return out


BUILDERS = [profile_figures, theory_figure, heatmap_figure, training_profile_figure, state_figure]
