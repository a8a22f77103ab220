"""What this sweep shows: short sentences whose every number is computed from the recorded
runs (the same frames as the figures and tables), written at the top of the report page and
as findings.md beside the tables.

Per study and per model variant: the per-step decay factor of the long-range gradient
against Pascanu's bound at the same step; the distances at which it falls below 1e-6 and
1e-16 of its value at the loss step; the final metric and loss against their no-learning
baselines and the largest sequence length at which most seeds solved the task; the state's
size and saturation; and, for the whole experiment, the self-check, runs that did not
finish, and anything the reader must know about the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnngrad.reports import frames

VARIANT_AXES = frames.MODEL


@dataclass
class Finding:
    text: str
    warning: bool = False
    heading: bool = False
    details: list[str] = field(default_factory=list)  # one sentence each, listed under it


def num(v: float) -> str:
    """3 significant digits; scientific outside [0.01, 1000); 4 decimals next to 1, so that a
    factor of 1.0003 does not read as 1."""
    if v is None or not np.isfinite(v):
        return "–"
    if v != 1 and abs(v - 1) < 0.005:
        return f"{v:.4f}"
    if v == 0 or 0.01 <= abs(v) < 1000:
        return f"{v:.3g}"
    return f"{v:.1e}"


def span(values: pd.Series) -> str:
    """ "a–b" over the values (or "a" when they agree to 3 digits)."""
    v = values.dropna()
    if v.empty:
        return "–"
    lo, hi = num(v.min()), num(v.max())
    return lo if lo == hi else f"{lo}–{hi}"


def covers(runs: pd.DataFrame, axes: list[str]) -> str:
    """ "24 runs: H ∈ {32, 128}, T ∈ {10, 30, 100}, 2 seeds each"."""
    parts = [
        frames.listing(runs, a)
        for a in axes
        if a in runs and runs[a].map(frames.text).nunique() > 1
    ]
    keys = [a for a in axes if a in runs]
    counts = runs.groupby(keys, dropna=False).size() if keys else pd.Series([len(runs)])
    lo, hi = int(counts.min()), int(counts.max())
    n = f"{lo}" if lo == hi else f"{lo}–{hi}"
    parts.append(f"{n} seed{'s' if hi > 1 else ''} each")
    return f"{len(runs)} run{'s' if len(runs) != 1 else ''}: " + ", ".join(parts)


def selfcheck(exp) -> list[Finding]:
    runs = exp.runs
    failed = runs[runs["selfcheck"].str.startswith("FAILED")]
    checked = runs[runs["selfcheck"].str.startswith(("passed", "FAILED"))]
    if not len(failed):
        hist = exp.history
        err = hist.loc[hist["metric"] == "selfcheck_rel_err", "value"]
        ratio = hist.loc[hist["metric"] == "selfcheck_bound_ratio", "value"]
        if checked.empty:
            return []
        text = (
            f"Self-check passed in all {len(checked)} runs: at every recorded profile the "
            f"engine's own backward ({checked_what(checked)}) agreed with an independent "
            "log-space computation of it"
            + (f" (largest relative difference {num(err.max())})" if len(err) else "")
        )
        if len(ratio):
            text += (
                ", and no example's gradient grew in one step back by more than Pascanu's bound "
                f"allows (largest factor/bound {num(ratio.max())})"
            )
        return [Finding(text + ".")]
    names = "; ".join(f"{r.run_name}: {r.selfcheck}" for r in failed.head(5).itertuples())
    more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
    return [
        Finding(
            f"SELF-CHECK FAILED in {len(failed)} of {len(checked)} runs: the engine's backward "
            "disagrees with the log-space reference, or an example's gradient broke Pascanu's "
            f"bound. Nothing below can be trusted for these runs. {names}{more}",
            warning=True,
        )
    ]


def checked_what(runs: pd.DataFrame) -> str:
    models = set(runs["model"])
    rnn, attention = "∂J/∂h_t and ∂J/∂θ", "∂J/∂e_t"
    if models == {"attention"}:
        return attention
    return f"RNN: {rnn}; attention: {attention}" if "attention" in models else rnn


def solved_sentence(runs: pd.DataFrame, axes: list[str]) -> str | None:
    """The largest length at which most seeds solved the task, per value of the other axes."""
    if "solved" not in runs or runs["solved"].isna().all():
        return None
    length = next((a for a in frames.LENGTHS if a in axes), None)
    if length is None:
        k = int((runs["solved"] == 1).sum())
        return f"Solved by {k} of {len(runs)} runs."
    others = [
        a
        for a in axes
        if a not in (*VARIANT_AXES, length) and runs[a].map(frames.text).nunique() > 1
    ]
    groups = runs.groupby(others, dropna=False) if others else [((), runs)]
    parts = []
    for key, g in groups:
        rate = g.groupby(length)["solved"].apply(lambda s: (s == 1).mean())
        best = rate[rate > 0.5]
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(
            f"{frames.name(a)} = {frames.text(v)}" for a, v in zip(others, key, strict=True)
        )
        parts.append((frames.text(best.index.max()) if len(best) else None, label))
    keys = [a for a in axes if a in runs and a != frames.SEED]
    one_seed = runs.groupby(keys, dropna=False).size().max() == 1 if keys else len(runs) == 1
    who = "the task was solved" if one_seed else "most seeds solved the task"
    if all(value is None for value, _ in parts):
        return f"{who[0].upper()}{who[1:]} at no {length}."
    listed = "; ".join(
        (f"{length} = {value}" if value else f"no {length}") + (f" ({label})" if label else "")
        for value, label in parts
    )
    return f"Largest {length} at which {who}: {listed}."


def learning_sentence(runs: pd.DataFrame, metric: str, axes: list[str]) -> str:
    """Final metric and loss against their baselines, apart for each value of the axes along
    which a baseline differs (the task, copy_memory's T): ranges never span unlike baselines."""
    varying = [a for a in axes if runs[a].map(frames.text).nunique() > 1]
    apart = sorted(
        set(frames.baseline_axes(runs, f"baseline_{metric}", varying))
        | set(frames.baseline_axes(runs, "baseline_loss", varying)),
        key=varying.index,
    )
    groups = runs.groupby(apart, dropna=False) if apart else [((), runs)]
    parts = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(
            f"{frames.name(a)} = {frames.text(v)}" for a, v in zip(apart, key, strict=True)
        )
        text = (
            f"{span(g[f'valid_{metric}'])} (no-learning baseline {span(g[f'baseline_{metric}'])})"
        )
        if "valid_loss" in g:
            text += f", loss {span(g['valid_loss'])} (baseline {span(g['baseline_loss'])})"
        parts.append((f"{label}: " if label else "") + text)
    return f"Final validation {metric}: " + "; ".join(parts) + "."


def variant_sentences(exp, runs: pd.DataFrame, axes: list[str]) -> list[str]:
    """What the runs of one model variant show, a sentence each."""
    out = []
    attention = (runs["model"] == "attention").all()
    if "decay_factor" in runs and runs["decay_factor"].notna().any():
        decay = runs["decay_factor"].dropna()
        if attention:  # no chain of steps: a line fitted over the positions
            text = (
                f"Fitted over the positions back from the last step, its gradient at e_t "
                f"changes by a factor {span(decay)} per position (median {num(decay.median())}"
            )
        else:
            text = (
                f"The long-range gradient is multiplied by {span(decay)} per step back "
                f"(fitted; median {num(decay.median())}"
            )
        if "bound" in runs and runs["bound"].notna().any():
            text += f"; Pascanu's bound at the same step: {span(runs['bound'])}"
        below = int((decay < 1).sum())
        if below == len(decay):
            text += "): it shrinks in every run."
        elif below == 0:
            text += "): it does not shrink in any run."
        else:
            text += f"): less than 1, so it shrinks, in {below} of {len(decay)} runs."
        out.append(text)
    for col, words in (("fall_1e6", "1e-6"), ("fall_1e16", "1e-16")):
        if col not in runs:
            continue
        fell, never = runs[col].dropna(), int(runs[col].isna().sum())
        if fell.empty:
            out.append(
                f"It never falls below {words} of its value at the loss step within the sequence."
            )
            break  # nor, then, below 1e-16
        text = f"It falls below {words} of its value at the loss step {span(fell)} steps back"
        out.append(
            text + (f" ({never} of {len(runs)} runs: never within the sequence)." if never else ".")
        )
    dx = exp.profiles[exp.profiles["run_id"].isin(runs["run_id"])]
    if "model" in axes and not dx.empty:
        final = dx[dx["step"] == dx.groupby("run_id")["step"].transform("max")]
        spread = final.groupby("run_id")["log10_dx"].agg(lambda v: v.max() - v.min())
        out.append(f"Across the input steps, its input gradient spans {span(spread)} decades.")
    if "state_norm_last" in runs and runs["state_norm_last"].notna().any():
        start = dx[(dx["step"] == 0) & (dx["distance"] == 0)]["state_norm"]
        out.append(
            f"‖h_T‖ is {span(runs['state_norm_last'])} at the end"
            + (f" ({span(start)} at step 0)" if len(start) else "")
            + f"; saturated fraction {span(runs['saturation'])}."
        )
    metric = runs["metric"].dropna().unique()
    if len(metric) == 1:
        out.append(learning_sentence(runs, metric[0], axes))
    solved = solved_sentence(runs, axes)
    if solved:
        out.append(solved)
    return out


def study_findings(exp, study: frames.Study) -> list[Finding]:
    runs = frames.usable(study.runs)
    out = []
    if study.label:
        out.append(Finding(f"Runs with {study.label} ({covers(runs, study.axes)}):", heading=True))
    variant_axes = [a for a in VARIANT_AXES if a in study.axes]
    rest = [a for a in study.axes if a not in variant_axes]
    groups = (
        runs.groupby("variant", sort=True) if variant_axes else [(runs["variant"].iloc[0], runs)]
    )
    by_variant = {variant: g for variant, g in groups}
    for variant, g in by_variant.items():
        g = g.dropna(subset=["decay_factor"]) if "decay_factor" in g else g
        if g.empty:
            continue
        details = variant_sentences(exp, g, [*rest, *(["model"] if "model" in study.axes else [])])
        plain = by_variant.get(variant.removesuffix(" + skip"))
        if variant.endswith(" + skip") and plain is not None:
            details.append(running_sum(g, plain, variant.removesuffix(" + skip")))
        out.append(
            Finding(f"**{variant}** ({covers(g, rest)}):", details=[d for d in details if d])
        )
    return out


def running_sum(skip: pd.DataFrame, plain: pd.DataFrame, name: str) -> str:
    """The skip connection's state against the same activation without it."""
    if "state_norm_last" not in skip or skip["state_norm_last"].isna().all():
        return ""
    ratio = skip["state_norm_last"].max() / plain["state_norm_last"].max()
    return (
        "With the skip connection the state is a running sum, h_t = f(a_t) + h_{t−1}: its "
        f"largest ‖h_T‖ is {num(ratio)}× the largest of {name} without it, and its largest "
        f"saturated fraction {num(skip['saturation'].max())} against "
        f"{num(plain['saturation'].max())}."
    )


def findings(exp) -> list[Finding]:
    out = selfcheck(exp)
    listed = exp.listed[exp.listed["analysed"]]
    bad = listed[listed["outcome"].isin(["failed", "killed", "running"])]
    diverged = exp.runs[exp.runs["outcome"] == "diverged"]
    if len(bad):
        out.append(
            Finding(
                f"{len(bad)} run(s) did not finish ({', '.join(sorted(set(bad['outcome'])))}): "
                "they have no profile and are left out of every figure and sentence below "
                "(the runs table lists them).",
                warning=True,
            )
        )
    if len(diverged):
        out.append(
            Finding(
                f"{len(diverged)} run(s) diverged; they are shown at their last state before "
                "diverging."
            )
        )
    out += [Finding(note) for note in exp.notes]
    studies = frames.studies(exp, frames.usable(exp.runs))
    if len(studies) > 1:
        apart = sorted({k for s in studies for k in s.split_by})
        out.append(
            Finding(
                f"These runs differ in {', '.join(frames.name(k) for k in apart)}, which no sweep "
                "varied: they are never averaged together; each group has figures of its own."
            )
        )
    for study in studies:
        out += study_findings(exp, study)
    return out


def markdown(exp, items: list[Finding]) -> str:
    lines = [f"# What the '{exp.name}' sweep shows", ""]
    for f in items:
        if f.heading:
            lines += ["", f"**{f.text}**", ""]
        else:
            lines.append(f"- {'**WARNING** ' if f.warning else ''}{f.text}")
            lines += [f"  - {d}" for d in f.details]
    lines += [
        "",
        f"Regenerate: `make report EXPERIMENT={exp.name}` (numbers computed from the runs).",
    ]
    return "\n".join(lines) + "\n"
