"""What every report figure shares: the Figure record, seaborn grids of lines and of points
with seeds averaged and of one point per run, the panels of a grid with their runs, the
dashed no-learning baseline drawn per panel, and the words every caption and title ends
with."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from rnngrad.reports import baselines
from rnngrad.reports.axes import LENGTHS, name, seeds, text
from rnngrad.reports.frames import Study
from rnngrad.reports.layout import Layout

PALETTE = "viridis"
plt.rcParams["svg.hashsalt"] = "rnngrad"  # SVG ids that do not change between builds
plt.rcParams["figure.max_open_warning"] = 0  # a report builds many figures, then saves and closes
PREFER = {  # which axis each channel takes first
    "row": ("activation", "task", "mode"),
    "col": ("skip",),
    "hue": ("hidden_size",),
    "style": (*LENGTHS, "recurrent_scale", "clip", "lr"),
}
MODEL_ORDER = ["attention", "rnn tanh", "rnn sigmoid", "rnn tanh + skip", "rnn sigmoid + skip"]
MODEL_COLOURS = dict(
    zip(MODEL_ORDER, sns.color_palette("colorblind", len(MODEL_ORDER)), strict=True)
)
SEED_RANGE = ("pi", 100)
BASELINE_STYLE = {
    "color": "crimson",
    "ls": "--",
    "lw": 1,
}  # a band or bars spanning the seeds' values


@dataclass
class Figure:
    name: str  # the file name, without extension
    title: str
    fig: plt.Figure
    caption: str


def models_in(runs: pd.DataFrame) -> list[str]:
    """The model variants of these runs, in the order (and colours) every figure uses."""
    return [m for m in MODEL_ORDER if m in set(runs["variant"])]


def display(data: pd.DataFrame, layout: Layout) -> tuple[pd.DataFrame, Layout]:
    """The data and layout with axes under their display names (legends, panel titles)."""
    names = {a: name(a) for a in layout.used if name(a) != a}
    shown = Layout({s: names.get(a, a) for s, a in layout.slots.items()}, layout.split)
    return data.rename(columns=names), shown


def lines(data: pd.DataFrame, x: str, y: str, layout: Layout, **kw):
    """Lines in a grid of panels; seeds averaged (mean), the band spans their range. Keywords
    override the layout's colour (hue, hue_order, palette), the size and facet_kws."""
    return relplot("line", data, x, y, layout, errorbar=SEED_RANGE, **kw)


def scatter(data: pd.DataFrame, x: str, y: str, layout: Layout, **kw):
    """A point per row (a run: nothing averaged) in a grid of panels, the layout's line style
    as the marker. Keywords as for `lines`."""
    return relplot("scatter", data, x, y, layout, **kw)


def relplot(kind: str, data: pd.DataFrame, x: str, y: str, layout: Layout, **kw):
    """seaborn's relplot of `kind` with the layout's channels under their display names."""
    data, layout = display(data, layout)
    hue = layout.get("hue")
    numeric = hue is not None and pd.api.types.is_numeric_dtype(data[hue])
    options = {
        "row": layout.get("row"),
        "col": layout.get("col"),
        "hue": hue,
        "style": layout.get("style"),
        "palette": (PALETTE if numeric else "colorblind") if hue else None,
        "height": 2.8,
        "aspect": 1.35,
        **kw,
        "facet_kws": {"margin_titles": True, **kw.get("facet_kws", {})},
    }
    return sns.relplot(data=data, x=x, y=y, kind=kind, **options)


def points(data: pd.DataFrame, x: str, y: str, layout: Layout, **kw):
    """A point per x in a grid of panels; seeds averaged (mean), the bars span their range.
    Keywords override the layout's colour, the size, dodge, margin_titles and the bars
    (errorbar: a callable maps the values behind a point to its bar's ends)."""
    data, layout = display(data, layout)
    hue = layout.get("hue")
    options = {
        "row": layout.get("row"),
        "col": layout.get("col"),
        "hue": hue,
        "palette": PALETTE if hue else None,
        "height": 2.8,
        "aspect": 1.35,
        "dodge": 0.2 if hue else False,
        "margin_titles": True,
        "errorbar": SEED_RANGE,
        **kw,
    }
    return sns.catplot(data=data, x=x, y=y, kind="point", **options)


def panel_grid(n: int, width: float, height: float):
    """A figure with n panels, two per row (one if n == 1); the panels not needed are hidden."""
    ncols = 2 if n > 1 else 1
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def panels(grid, runs: pd.DataFrame, layout: Layout):
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
            mask &= runs[axis].map(text) == text(value)
        yield ax, runs[mask]


def draw_baselines(grid, runs: pd.DataFrame, layout: Layout, column: str) -> list[str]:
    """A dashed baseline per panel: the mean of its runs' recorded baselines. Returns the
    panel texts for the caption."""
    shown = []
    for ax, inside in panels(grid, runs, layout):
        b = baselines.of(inside, column)
        if b is not None:
            ax.axhline(b[0], **BASELINE_STYLE)
            shown.append(baselines.words(b))
    return shown


def draw_baselines_per_x(
    grid, runs: pd.DataFrame, layout: Layout, x: str, column: str
) -> list[str]:
    """A dashed baseline per panel through each x's mean recorded baseline, for a grid of
    points (seaborn's catplot puts the x levels at 0, 1, ...). Returns the panel texts."""
    drawn = []
    for ax, inside in panels(grid, runs, layout):
        per_x = inside.groupby(x)[column].mean() if column in inside else None
        if per_x is None or per_x.isna().all():
            continue
        ax.plot(list(range(len(per_x))), per_x.values, marker="_", ms=14, **BASELINE_STYLE)
        values = {f"{b:.3g}" for b in per_x}
        drawn.append(
            values.pop()
            if len(values) == 1
            else ", ".join(f"{name(x)} = {text(v)}: {b:.3g}" for v, b in per_x.items())
        )
    return drawn


def averaged(runs: pd.DataFrame, layout: Layout) -> str:
    return f"Lines: {seeds(runs, layout.used, 'line', 'the band')}."


def tail(study: Study, part: str) -> str:
    """The end of every caption: which part of the experiment, and what is fixed."""
    bits = []
    if study.label or part:
        bits.append("Only the runs with " + ", ".join(b for b in (study.label, part) if b) + ".")
    fixed = study.fixed_text()
    if fixed:
        bits.append(f"Fixed: {fixed}.")
    return " ".join(bits)


def title_suffix(study: Study, part: str) -> str:
    words = ", ".join(b for b in (study.label, part) if b)
    return f" ({words})" if words else ""
