"""What every report figure shares: the Figure record, the seaborn line grid with seeds
averaged, per-panel baselines, and the words every caption ends with."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from rnngrad.reports import frames

PALETTE = "viridis"
plt.rcParams["svg.hashsalt"] = "rnngrad"  # SVG ids that do not change between builds
plt.rcParams["figure.max_open_warning"] = 0  # a report builds many figures, then saves and closes
PREFER = {  # which axis each channel takes first
    "row": ("activation", "task", "mode"),
    "col": ("skip",),
    "hue": ("hidden_size",),
    "style": (*frames.LENGTHS, "recurrent_scale", "clip", "lr"),
}
MODEL_ORDER = ["attention", "rnn tanh", "rnn sigmoid", "rnn tanh + skip", "rnn sigmoid + skip"]
MODEL_COLOURS = dict(
    zip(MODEL_ORDER, sns.color_palette("colorblind", len(MODEL_ORDER)), strict=True)
)
BASELINE_STYLE = {"color": "crimson", "ls": "--", "lw": 1}


@dataclass
class Figure:
    name: str
    title: str
    fig: plt.Figure
    caption: str


def display(data: pd.DataFrame, layout: frames.Layout) -> tuple[pd.DataFrame, frames.Layout]:
    """The data and layout with axes under their display names (legends, panel titles)."""
    names = {a: frames.name(a) for a in layout.used if frames.name(a) != a}
    shown = frames.Layout({s: names.get(a, a) for s, a in layout.slots.items()}, layout.split)
    return data.rename(columns=names), shown


def lines(data: pd.DataFrame, x: str, y: str, layout: frames.Layout, **kw):
    """Lines in a grid of panels; seeds averaged (mean), the band spans their range."""
    data, layout = display(data, layout)
    hue = layout.get("hue")
    numeric = hue is not None and pd.api.types.is_numeric_dtype(data[hue])
    return sns.relplot(
        data=data,
        x=x,
        y=y,
        row=layout.get("row"),
        col=layout.get("col"),
        hue=hue,
        style=layout.get("style"),
        kind="line",
        errorbar=("pi", 100),
        palette=(PALETTE if numeric else "colorblind") if hue else None,
        height=kw.pop("height", 2.8),
        aspect=kw.pop("aspect", 1.35),
        facet_kws={"margin_titles": True, **kw.pop("facet_kws", {})},
        **kw,
    )


def panels(grid, runs: pd.DataFrame, layout: frames.Layout):
    """(axes, the runs shown in that panel) for every panel of a FacetGrid."""
    row, col = layout.get("row"), layout.get("col")
    if not row and not col:
        yield grid.ax if hasattr(grid, "ax") and grid.ax is not None else grid.axes.flat[0], runs
        return
    for key, ax in grid.axes_dict.items():
        mask = pd.Series(True, index=runs.index)
        for axis, value in zip(
            [a for a in (row, col) if a], key if row and col else (key,), strict=True
        ):
            mask &= runs[axis].map(frames.text) == frames.text(value)
        yield ax, runs[mask]


def draw_baselines(grid, runs: pd.DataFrame, layout: frames.Layout, column: str) -> list[str]:
    """A dashed baseline per panel: the mean of its runs' recorded baselines. Returns the
    panel texts for the caption."""
    shown = []
    for ax, inside in panels(grid, runs, layout):
        b = frames.baseline_of(inside, column)
        if b is not None:
            ax.axhline(b[0], **BASELINE_STYLE)
            shown.append(frames.baseline_text(b))
    return shown


def baseline_caption(shown: list[str]) -> str:
    if not shown:
        return "No baseline was recorded for these runs."
    distinct = list(dict.fromkeys(shown))
    if len(distinct) == 1:
        return f"Dashed red: the no-learning baseline, {distinct[0]}."
    return "Dashed red: each panel's no-learning baseline (" + "; ".join(distinct) + ")."


def averaged(runs: pd.DataFrame, layout: frames.Layout) -> str:
    return f"Lines: {frames.seeds(runs, layout.used, 'line', 'the band')}."


def tail(study: frames.Study, part: str, left_out: str = "") -> str:
    """The end of every caption: which part of the experiment, and what is fixed."""
    bits = []
    if study.label or part:
        bits.append("Only the runs with " + ", ".join(b for b in (study.label, part) if b) + ".")
    if left_out:
        bits.append(left_out)
    fixed = study.fixed_text()
    if fixed:
        bits.append(f"Fixed: {fixed}.")
    return " ".join(bits)


def title_suffix(study: frames.Study, part: str) -> str:
    words = ", ".join(b for b in (study.label, part) if b)
    return f" ({words})" if words else ""
