"""The state figure of a study (`state`): ‖h_t‖ and the saturated fraction against t at the
end of training, one column per activation and skip connection: the state the gradient
travels through. Every value comes from the run record."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnngrad.reports.axes import SEED, seeds
from rnngrad.reports.frames import Study
from rnngrad.reports.layout import Layout, parts, plan
from rnngrad.reports.plot import PREFER, Figure, lines, tail, title_suffix
from rnngrad.reports.profile_figures import at_step

MEASURES = {"state_norm": "‖h_t‖", "saturation_t": "saturated fraction"}  # the two panel rows
CAPTION = (
    "Top: ‖h_t‖, the state's Euclidean norm averaged over the probe batch (log scale), "
    "against the time step t, at each run's last profile. Bottom: the saturated "
    "fraction at step t, the share of (example, unit) pairs with f'(a_t) < 0.1·max f' "
    "(tanh: |tanh a| > 0.949; sigmoid: |a| > 3.64). One column per activation and skip "
    "connection. Without the skip, h_t = f(a_t) is bounded (|h| < 1 for tanh, 0 < h < 1 for "
    "the sigmoid, so ‖h_t‖ ≤ √H); with it, h_t = f(a_t) + h_{t−1} is a running sum that can "
    "grow with t and push |a_t| up until the units saturate. Where the saturated "
    "fraction is near 1, f'(a_t) ≈ 0 in most units: a gradient that vanishes there is "
    "lost to saturation, not to the contraction of W_r; and a flat gradient profile "
    "with the skip connection then travels along the identity path alone, carried past "
    "units that no longer transmit anything. "
)


def state_by_step(exp, study: Study) -> pd.DataFrame:
    """Long: one row per run, t and measure (‖h_t‖ or the saturated fraction) at the end."""
    data = at_step(exp, "final").merge(study.runs, on="run_id")
    data = data.dropna(subset=["state_norm"])
    data = data.assign(
        variant_=data["activation"].astype(str) + np.where(data["skip"].astype(bool), " + skip", "")
    )
    long = data.melt(
        id_vars=["run_id", "t", "variant_", *study.axes, SEED],
        value_vars=list(MEASURES),
        var_name="measure",
        value_name="value",
    )
    long["measure"] = long["measure"].map(MEASURES)
    return long


def state(exp, study: Study) -> list[Figure]:
    """‖h_t‖ and the saturation against t at the end of training, one column per variant."""
    long = state_by_step(exp, study)
    if long.empty:
        return []
    rest = [a for a in study.axes if a not in ("activation", "skip")]
    layout = plan(rest, ["hue", "style"], PREFER)
    return [
        state_figure(sub, study, layout, suffix, part)
        for suffix, part, sub in parts(long, layout.split)
    ]


def state_figure(sub: pd.DataFrame, study: Study, layout: Layout, suffix: str, part: str):
    shown = Layout({"row": "measure", "col": "variant_", **layout.slots}, [])
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
        CAPTION
        + (layout.caption() + " " if layout.slots else "")
        + f"Lines: {seeds(runs, [*layout.used, 'variant_'], 'line', 'the band')}. "
        + tail(study, part)
    )
    title = f"State size and saturation{title_suffix(study, part)}"
    return Figure(f"state{study.suffix}{suffix}", title, g.figure, caption)
