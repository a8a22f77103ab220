"""Never pool silently: which runs a figure may put together, and how every difference
between them is shown. Used by the figures, the tables and the findings.

- A *study* is a set of runs that differ only in what some sweep varied (the run record's
  `swept` keys) and in the seed. Runs that differ in anything else (task, step budget,
  learning rate, ... when no sweep varied it) are never averaged together: each study gets
  figures of its own.
- Within a study every varying setting (an *axis*) is shown: a facet, a colour, a line
  style, an x axis, its own table row. Axes beyond a figure's channels split it into
  several figures. Only seeds are averaged over, and captions say how many.
- A no-learning baseline is drawn per panel, as the mean of the recorded baselines of the
  runs in that panel; axes along which the baseline differs (by more than BASELINE_RTOL)
  are made facets, so a panel never shows one baseline for runs whose baselines differ.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnngrad.reports.load import RNN_ONLY

SEED = "seed"
LENGTHS = ("T", "delay")  # the sequence-length axes
ORDER = [  # display order of the axes; anything else follows
    "model",
    "activation",
    "skip",
    "task",
    "hidden_size",
    "T",
    "delay",
    "mode",
    "recurrent_init",
    "recurrent_scale",
    "clip",
    "lr",
    "batch_size",
    "steps",
]
NAMES = {"hidden_size": "hidden size H", "recurrent_scale": "recurrent scale", "lr": "lr"}
QUIET = ("eval_every", "profile_every", "valid_size", "probe_size", "early_stop")  # fixed: unsaid
BASELINE_RTOL = 0.05  # baselines closer than 5 % are drawn as one line (their range is given)


def name(column: str) -> str:
    return NAMES.get(column, column)


def text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def values_of(runs: pd.DataFrame, column: str) -> list:
    """The distinct values of a column, sorted, None/NaN last."""
    seen = runs[column].map(lambda v: None if v is None or v != v else v)
    present = sorted({v for v in seen if v is not None}, key=lambda v: (str(type(v)), v))
    return present + ([None] if seen.isna().any() else [])


def varying(runs: pd.DataFrame, columns) -> list[str]:
    """The columns with more than one value among the runs, in display order."""
    out = [c for c in columns if c in runs and runs[c].map(text).nunique() > 1]
    return sorted(out, key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER))


def listing(runs: pd.DataFrame, column: str) -> str:
    """ "T ∈ {10, 30, 100}" or "T = 10"."""
    vals = [text(v) for v in values_of(runs, column)]
    return (
        f"{name(column)} = {vals[0]}"
        if len(vals) == 1
        else f"{name(column)} ∈ {{{', '.join(vals)}}}"
    )


def seeds(runs: pd.DataFrame, keys: list[str], unit: str = "line", spread: str = "") -> str:
    """What one line (point, cell) of the given keys stands for: "one run per line (seed =
    0)", or "the mean over 2 seeds per line (seed ∈ {0, 1}); the band spans them" when
    `spread` names what shows their range ("the band"), or "1–3 seeds" where counts differ."""
    if runs.empty:
        return f"no run per {unit}"
    keys = [k for k in keys if k in runs]
    counts = runs.groupby(keys, dropna=False).size() if keys else pd.Series([len(runs)])
    lo, hi = int(counts.min()), int(counts.max())
    where = f" ({listing(runs, SEED)})" if SEED in runs else ""
    if hi == 1:
        return f"one run per {unit}{where}"
    n = f"{lo}" if lo == hi else f"{lo}–{hi}"
    return f"the mean over {n} seeds per {unit}{where}" + (
        f"; {spread} spans them" if spread else ""
    )


@dataclass
class Study:
    """Runs that may share a figure: they differ only in swept settings and the seed."""

    runs: pd.DataFrame
    axes: list[str]  # the swept settings that vary here, in display order
    fixed: dict  # the settings every run here shares
    split_by: dict = field(default_factory=dict)  # what sets it apart from the other studies

    @property
    def suffix(self) -> str:
        """'' or a file-name suffix such as '-steps_200-task_permutation'."""
        return "".join(f"-{k}_{text(v)}" for k, v in self.split_by.items())

    @property
    def label(self) -> str:
        return ", ".join(f"{name(k)} = {text(v)}" for k, v in self.split_by.items())

    def fixed_text(self) -> str:
        shown = {k: v for k, v in self.fixed.items() if k not in (SEED, *QUIET) and text(v) != "–"}
        return ", ".join(f"{name(k)} {text(v)}" for k, v in shown.items())


def studies(exp, runs: pd.DataFrame | None = None) -> list[Study]:
    """Split the runs by every setting that varies although no sweep varied it."""
    runs = exp.runs if runs is None else runs
    if runs.empty:
        return []
    settings = [c for c in exp.config if c in runs]
    vary = varying(runs, settings)
    apart = [c for c in vary if c not in exp.swept and c != SEED]
    groups = runs.groupby(apart, dropna=False, sort=True) if apart else [((), runs)]
    out = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        axes = [c for c in varying(group, settings) if c != SEED]
        fixed = {c: group[c].iloc[0] for c in settings if c not in axes and c != SEED}
        out.append(
            Study(group.reset_index(drop=True), axes, fixed, dict(zip(apart, key, strict=True)))
        )
    return out


MODEL = ("model", "activation", "skip")  # together: the model variant (rnn tanh, attention, ...)


def beside_models(study: Study) -> list[str]:
    """The axes of a study other than the model variant, for figures that compare models:
    an RNN-only setting counts only where it varies among the RNN runs themselves."""
    rnn = study.runs[study.runs["model"] != "attention"]
    return [
        a
        for a in study.axes
        if a not in MODEL and (a not in RNN_ONLY or rnn[a].map(text).nunique() > 1)
    ]


def restrict(study: Study, runs: pd.DataFrame) -> Study:
    """The same study on fewer runs: axes that no longer vary become fixed."""
    axes = varying(runs, study.axes)
    fixed = {**study.fixed, **{a: runs[a].iloc[0] for a in study.axes if a not in axes}}
    return Study(runs.reset_index(drop=True), axes, fixed, study.split_by)


@dataclass
class Layout:
    """Which axis goes to which channel of a figure (row, col, hue, style, x, y); `split` are
    the axes left over: one figure per combination of their values."""

    slots: dict[str, str]
    split: list[str]

    def get(self, slot: str) -> str | None:
        return self.slots.get(slot)

    @property
    def used(self) -> list[str]:
        return list(self.slots.values())

    def caption(self) -> str:
        words = {"row": "rows", "col": "columns", "hue": "colour", "style": "line style"}
        shown = "; ".join(
            f"{w}: {name(self.slots[s])}" for s, w in words.items() if s in self.slots
        )
        return f"{shown[0].upper()}{shown[1:]}." if shown else ""


def plan(
    axes: list[str],
    slots: list[str],
    prefer: dict[str, tuple] | None = None,
    facets: list[str] = (),
) -> Layout:
    """Assign axes to the figure's slots: `facets` (e.g. axes the baseline depends on) to the
    row and column slots first, then each slot's preferred axes, then the rest in order."""
    prefer = prefer or {}
    left = list(axes)
    chosen: dict[str, str] = {}
    for axis in facets:
        slot = next((s for s in ("row", "col") if s in slots and s not in chosen), None)
        if slot and axis in left:
            chosen[slot] = axis
            left.remove(axis)
    for slot in slots:
        if slot in chosen:
            continue
        pick = next((a for a in prefer.get(slot, ()) if a in left), None)
        if pick:
            chosen[slot] = pick
            left.remove(pick)
    for slot in slots:
        if slot not in chosen and left:
            chosen[slot] = left.pop(0)
    return Layout({s: chosen[s] for s in slots if s in chosen}, left)


def parts(runs: pd.DataFrame, split: list[str]):
    """(suffix, label, runs) per combination of the split axes ('' and all runs if none)."""
    if not split:
        yield "", "", runs
        return
    for key, group in runs.groupby(split, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        pairs = list(zip(split, key, strict=True))
        suffix = "".join(f"-{k}_{text(v)}" for k, v in pairs)
        yield suffix, ", ".join(f"{name(k)} = {text(v)}" for k, v in pairs), group


# -- baselines ---------------------------------------------------------------------------------


def baseline_axes(runs: pd.DataFrame, column: str, axes: list[str]) -> list[str]:
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


def baseline_of(runs: pd.DataFrame, column: str) -> tuple[float, float, float] | None:
    """(mean, min, max) of the recorded baselines of these runs, or None if none recorded."""
    if column not in runs:
        return None
    v = runs[column].dropna()
    return None if v.empty else (float(v.mean()), float(v.min()), float(v.max()))


def baseline_text(b: tuple[float, float, float]) -> str:
    mean, lo, hi = b
    return (
        f"{mean:.3g}" if np.isclose(lo, hi, rtol=1e-9) else f"{mean:.3g} (runs: {lo:.3g}–{hi:.3g})"
    )


# -- subsets -----------------------------------------------------------------------------------


def subset(exp, runs: pd.DataFrame):
    """The same experiment restricted to some runs (their history and profiles too)."""
    keep = set(runs["run_id"])
    out = copy.copy(exp)
    out.runs = runs.reset_index(drop=True)
    out.history = exp.history[exp.history["run_id"].isin(keep)]
    out.profiles = exp.profiles[exp.profiles["run_id"].isin(keep)]
    return out


def usable(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs that ended with a record to analyse (not failed, killed or still running)."""
    return runs[~runs["outcome"].isin(["failed", "killed", "running"])]
