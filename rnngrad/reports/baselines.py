"""The no-learning baselines the runs recorded (what a model that learned nothing scores on
the same validation sets): along which axes they differ, their value over some runs, and
what a caption says of the dashed lines that rnngrad.reports.plot draws. A panel never
shows one baseline for runs whose baselines differ: the axes along which they do are made
panels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnngrad.reports.axes import name

BASELINE_RTOL = 0.05  # baselines closer than 5 % are drawn as one line (their range is given)
NONE = "No baseline was recorded for these runs."


def axes_apart(runs: pd.DataFrame, column: str, axes: list[str]) -> list[str]:
    """The axes along which the recorded baseline (`column`, e.g. baseline_accuracy) differs
    by more than BASELINE_RTOL."""
    if column not in runs or runs[column].isna().all():
        return []
    out = []
    for axis in axes:
        means = runs.groupby(axis, dropna=False)[column].mean()
        scale = max(abs(means).max(), 1e-12)
        if (means.max() - means.min()) > BASELINE_RTOL * scale:
            out.append(axis)
    return out


def of(runs: pd.DataFrame, column: str) -> tuple[float, float, float] | None:
    """(mean, min, max) of the recorded baselines of these runs, or None if none recorded."""
    if column not in runs:
        return None
    v = runs[column].dropna()
    return None if v.empty else (float(v.mean()), float(v.min()), float(v.max()))


def words(b: tuple[float, float, float]) -> str:
    mean, lo, hi = b
    return (
        f"{mean:.3g}" if np.isclose(lo, hi, rtol=1e-9) else f"{mean:.3g} (runs: {lo:.3g}–{hi:.3g})"
    )


def caption(shown: list[str]) -> str:
    if not shown:
        return NONE
    distinct = list(dict.fromkeys(shown))
    if len(distinct) == 1:
        return f"Dashed red: the no-learning baseline, {distinct[0]}."
    return "Dashed red: each panel's no-learning baseline (" + "; ".join(distinct) + ")."


def per_x_caption(drawn: list[str], x: str) -> str:
    if not drawn:
        return NONE
    return (
        f"Dashed red: the no-learning baseline at each {name(x)} (the mean of the runs' "
        f"recorded baselines: {'; '.join(dict.fromkeys(drawn))})."
    )
