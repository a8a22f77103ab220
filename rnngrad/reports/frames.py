"""Never pool silently: which runs may share a figure, a table row or a sentence.

A *study* is a set of runs that differ only in what some sweep varied (the run record's
`swept` keys) and in the seed. Runs that differ in anything else (task, step budget, learning
rate, ... when no sweep varied it) are never averaged together: `studies` puts them apart,
and each study gets figures of its own. Within a study, the settings that vary are its axes
(rnngrad.reports.layout assigns each to a channel of a figure); only seeds are averaged over.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pandas as pd

from rnngrad.reports.axes import (
    QUIET,
    SEED,
    file_suffix,
    groups,
    labelled,
    name,
    text,
    varies,
    varying,
)
from rnngrad.reports.columns import RNN_ONLY

MODEL = ("model", "activation", "skip")  # together: the model variant (rnn tanh, attention, ...)


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
        return file_suffix(self.split_by.items())

    @property
    def label(self) -> str:
        """'' or what sets the study apart, e.g. 'steps = 200, task = permutation'."""
        return labelled(self.split_by.items())

    def fixed_text(self) -> str:
        shown = {k: v for k, v in self.fixed.items() if k not in (SEED, *QUIET) and text(v) != "–"}
        return ", ".join(f"{name(k)} {text(v)}" for k, v in shown.items())


def studies(exp, runs: pd.DataFrame | None = None) -> list[Study]:
    """Split the runs by every setting that varies although no sweep varied it."""
    runs = exp.runs if runs is None else runs
    if runs.empty:
        return []
    settings = [c for c in exp.config if c in runs]
    apart = [c for c in varying(runs, settings) if c not in exp.swept and c != SEED]
    out = []
    for key, group in groups(runs, apart):
        moving = [c for c in varying(group, settings) if c != SEED]
        axes = folded(group, moving)
        fixed = {c: group[c].iloc[0] for c in settings if c not in moving and c != SEED}
        out.append(
            Study(group.reset_index(drop=True), axes, fixed, dict(zip(apart, key, strict=True)))
        )
    return out


NAMING = ("remedy", "init")  # axes that name a combination of settings (conf/remedy/, ...)


def folded(runs: pd.DataFrame, axes: list[str]) -> list[str]:
    """The axes without those a naming axis (NAMING) determines: a sweep over named remedies
    (the remedies presets' `remedy`, an `init` that fixes the activation) varies the settings
    each name stands for in lockstep with it; drawn apart they would be channels that say
    nothing new. Only into a naming axis: a grid with missing cells must keep its axes."""

    def determines(a: str, b: str) -> bool:
        return bool((runs.groupby(a, dropna=False)[b].nunique(dropna=False) <= 1).all())

    def redundant(b: str) -> bool:
        return any(
            a != b
            and determines(a, b)
            and (b not in NAMING or (determines(b, a) and NAMING.index(a) < NAMING.index(b)))
            for a in axes
            if a in NAMING
        )

    return [b for b in axes if not redundant(b)]


def beside_models(study: Study) -> list[str]:
    """The axes of a study other than the model variant, for figures that compare models:
    an RNN-only setting counts only where it varies among the RNN runs themselves."""
    rnn = study.runs[study.runs["model"] != "attention"]
    return [a for a in study.axes if a not in MODEL and (a not in RNN_ONLY or varies(rnn, a))]


def restrict(study: Study, runs: pd.DataFrame) -> Study:
    """The same study on fewer runs: axes that no longer vary become fixed."""
    axes = varying(runs, study.axes)
    fixed = {**study.fixed, **{a: runs[a].iloc[0] for a in study.axes if a not in axes}}
    return Study(runs.reset_index(drop=True), axes, fixed, study.split_by)


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
