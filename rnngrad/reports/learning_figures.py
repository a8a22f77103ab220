"""The learning figures of a study: validation loss and the task's primary metric over
training (`learning_loss`, `learning_<metric>`), and the final metric against the sequence
length (`final_metric`), each with the no-learning baseline its runs recorded (per panel;
axes along which it differs are made panels)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnngrad.reports import baselines
from rnngrad.reports.axes import LENGTHS, name, seeds
from rnngrad.reports.frames import Study, restrict
from rnngrad.reports.layout import Layout, parts, plan
from rnngrad.reports.plot import (
    PREFER,
    Figure,
    averaged,
    draw_baselines,
    draw_baselines_per_x,
    lines,
    points,
    tail,
    title_suffix,
)

X_AXES = (*LENGTHS, "recurrent_scale", "clip", "lr", "hidden_size")  # final metric against
DECADES = 2  # a loss whose values span more than this many decades is drawn on a log axis


def spans_decades(values: pd.Series) -> bool:
    """Positive values whose largest is more than 10^DECADES times the smallest."""
    finite = values[np.isfinite(values)]
    return bool(len(finite)) and (finite > 0).all() and finite.max() > 10**DECADES * finite.min()


def primary(runs: pd.DataFrame) -> str | None:
    """The recorded primary metric of these runs, if they share one (one task's)."""
    metrics = runs["metric"].dropna().unique()
    return str(metrics[0]) if len(metrics) == 1 else None


def by_metric(study: Study):
    """(study, metric) pairs: runs of tasks with different primary metrics never share a plot."""
    if study.runs["metric"].nunique() <= 1:
        yield study, primary(study.runs)
        return
    for metric, runs in study.runs.groupby("metric"):
        sub = restrict(study, runs)
        sub.split_by = {**study.split_by, "metric": metric}
        yield sub, metric


def with_final_metric(study: Study, x_axes: tuple):
    """(study, metric, x, runs) per primary metric of the study that some runs recorded at the
    end: x is the first of x_axes the study varies, runs those with a final value."""
    for sub_study, metric in by_metric(study):
        x = next((a for a in x_axes if a in sub_study.axes), None)
        key, runs = f"valid_{metric}", sub_study.runs
        runs = runs.dropna(subset=[key]) if key in runs else runs.iloc[0:0]
        if metric is not None and x is not None and not runs.empty:
            yield sub_study, metric, x, runs


def curves(exp, study: Study) -> list[Figure]:
    """Validation loss and the primary metric over training, baseline per panel."""
    out = []
    for sub_study, metric in by_metric(study):
        if metric is not None:
            out += curves_of(exp, sub_study, "loss") + curves_of(exp, sub_study, metric)
    return out


def curves_of(exp, study: Study, what: str) -> list[Figure]:
    """Validation `what` (the loss or the primary metric) over training."""
    base = f"baseline_{what}"
    facets = baselines.axes_apart(study.runs, base, study.axes)
    layout = plan(study.axes, ["row", "col", "hue", "style"], PREFER, facets)
    data = exp.history[exp.history["metric"] == f"valid_{what}"].merge(study.runs, on="run_id")
    return [
        curve_figure(sub, study, layout, what, suffix, part)
        for suffix, part, sub in parts(data, layout.split)
    ]


def curve_figure(sub, study: Study, layout: Layout, what: str, suffix: str, part: str) -> Figure:
    shown = sub.drop_duplicates("run_id")
    g = lines(sub, "step", "value", layout)
    drawn = draw_baselines(g, shown, layout, f"baseline_{what}")
    logarithmic = what == "loss" and spans_decades(sub["value"])
    if logarithmic:  # a shared linear axis would flatten every panel but the largest
        for ax in g.axes.flat:
            ax.set_yscale("log")
    g.set_axis_labels(
        "training step", f"validation {what}" + (" (log scale)" if logarithmic else "")
    )
    g.figure.suptitle(
        f"Learning: validation {what} over training" + title_suffix(study, part), y=1.02
    )
    scale = f"The {what} axis is logarithmic: its values span more than {DECADES} decades. "
    caption = (
        f"Validation {what} on each run's fixed validation set over training. "
        f"{baselines.caption(drawn)} The baseline is what a model that learned "
        "nothing scores on the same validation sets (recorded by each run); lines "
        f"on it have not learned the long-range dependency. {layout.caption()} "
        f"{scale if logarithmic else ''}{averaged(shown, layout)} {tail(study, part)}"
    )
    title = f"Learning curves ({what}){title_suffix(study, part)}"
    return Figure(f"learning_{what}{study.suffix}{suffix}", title, g.figure, caption)


def final_metric(exp, study: Study) -> list[Figure]:
    """The final primary metric against the sequence length, the baseline drawn per x."""
    out = []
    for sub_study, metric, x, runs in with_final_metric(study, X_AXES):
        rest = [a for a in sub_study.axes if a != x]
        apart = baselines.axes_apart(sub_study.runs, f"baseline_{metric}", sub_study.axes)
        layout = plan(rest, ["row", "col", "hue"], PREFER, [a for a in apart if a != x])
        for suffix, part, sub in parts(runs, layout.split):
            out.append(final_metric_figure(sub, sub_study, layout, metric, x, suffix, part))
    return out


def final_metric_figure(
    sub, study: Study, layout: Layout, metric: str, x: str, suffix: str, part: str
) -> Figure:
    g = points(sub, x, f"valid_{metric}", layout)
    drawn = draw_baselines_per_x(g, sub, layout, x, f"baseline_{metric}")
    unit = " (steps)" if x in LENGTHS else ""
    g.set_axis_labels(f"{name(x)}{unit}", f"final validation {metric}")
    g.figure.suptitle(
        f"Final validation {metric} against {name(x)}" + title_suffix(study, part), y=1.02
    )
    caption = (
        f"Final validation {metric} of each configuration against {name(x)} "
        f"(points: {seeds(sub, [x, *layout.used], 'point', 'the bars')}). "
        f"{baselines.per_x_caption(drawn, x)} {layout.caption()} {tail(study, part)}"
    )
    title = f"Final {metric} against {name(x)}{title_suffix(study, part)}"
    return Figure(f"final_metric{study.suffix}{suffix}", title, g.figure, caption)
