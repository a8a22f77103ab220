"""What the runs of one model variant show, a sentence each, every number computed from the
recorded runs: the per-step decay factor against Pascanu's bound, the distances at which the
gradient falls below 1e-6 and 1e-16, the state's size and saturation, the final metric and
loss against their baselines, the largest length at which the task was solved, and (with the
skip connection) the state against the same activation without it."""

from __future__ import annotations

import pandas as pd

from rnngrad.reports import baselines
from rnngrad.reports.axes import LENGTHS, SEED, groups, labelled, runs_per_key, text, varies
from rnngrad.reports.frames import MODEL
from rnngrad.reports.wording import num, span


def variant_sentences(exp, runs: pd.DataFrame, axes: list[str]) -> list[str]:
    """What the runs of one model variant show, a sentence each."""
    out = [decay_sentence(runs)] if has(runs, "decay_factor") else []
    out += fall_sentences(runs)
    dx = exp.profiles[exp.profiles["run_id"].isin(runs["run_id"])]
    if "model" in axes and not dx.empty:
        final = dx[dx["step"] == dx.groupby("run_id")["step"].transform("max")]
        spread = final.groupby("run_id")["log10_dx"].agg(lambda v: v.max() - v.min())
        out.append(f"Across the input steps, its input gradient spans {span(spread)} decades.")
    if has(runs, "state_norm_last"):
        start = dx[(dx["step"] == 0) & (dx["distance"] == 0)]["state_norm"]
        out.append(
            f"‖h_T‖ is {span(runs['state_norm_last'])} at the end"
            + (f" ({span(start)} at step 0)" if len(start) else "")
            + f"; {saturated(runs)} {span(runs['saturation'])}."
        )
    metric = runs["metric"].dropna().unique()
    if len(metric) == 1:
        out.append(learning_sentence(runs, metric[0], axes))
    solved = solved_sentence(runs, axes)
    return out + ([solved] if solved else [])


def saturated(runs: pd.DataFrame) -> str:
    """What `saturation` (the fraction of units with f'(a) < 0.1 max f') means for these runs:
    for relu units, f' = 0, the inactive ones."""
    relu = runs["activation"].eq("relu") if "activation" in runs else pd.Series(False)
    if relu.all():
        return "inactive fraction (relu units with f' = 0)"
    return "saturated (relu: inactive) fraction" if relu.any() else "saturated fraction"


def has(runs: pd.DataFrame, column: str) -> bool:
    return column in runs and runs[column].notna().any()


def decay_sentence(runs: pd.DataFrame) -> str:
    """The fitted per-step decay factor, Pascanu's bound at the same step, and whether the
    gradient shrinks."""
    decay = runs["decay_factor"].dropna()
    if (runs["model"] == "attention").all():  # no chain of steps: a line fitted over positions
        text = (
            f"Fitted over the positions back from the last step, its gradient at e_t "
            f"changes by a factor {span(decay)} per position (median {num(decay.median())}"
        )
    else:
        text = (
            f"The long-range gradient is multiplied by {span(decay)} per step back "
            f"(fitted; median {num(decay.median())}"
        )
    if has(runs, "bound"):
        text += f"; Pascanu's bound at the same step: {span(runs['bound'])}"
    below = int((decay < 1).sum())
    if below == len(decay):
        return text + "): it shrinks in every run."
    if below == 0:
        return text + "): it does not shrink in any run."
    return text + f"): less than 1, so it shrinks, in {below} of {len(decay)} runs."


def fall_sentences(runs: pd.DataFrame) -> list[str]:
    """How far back the gradient falls below 1e-6 and 1e-16 of its value at the loss step."""
    out = []
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
    return out


def learning_sentence(runs: pd.DataFrame, metric: str, axes: list[str]) -> str:
    """Final metric and loss against their baselines, apart for each value of the axes along
    which a baseline differs (the task, copy_memory's T): ranges never span unlike baselines."""
    vary = [a for a in axes if varies(runs, a)]
    apart = sorted(
        set(baselines.axes_apart(runs, f"baseline_{metric}", vary))
        | set(baselines.axes_apart(runs, "baseline_loss", vary)),
        key=vary.index,
    )
    parts = []
    for key, g in groups(runs, apart):
        label = labelled(zip(apart, key, strict=True))
        said = (
            f"{span(g[f'valid_{metric}'])} (no-learning baseline {span(g[f'baseline_{metric}'])})"
        )
        if "valid_loss" in g:
            said += f", loss {span(g['valid_loss'])} (baseline {span(g['baseline_loss'])})"
        parts.append((f"{label}: " if label else "") + said)
    return f"Final validation {metric}: " + "; ".join(parts) + "."


def solved_sentence(runs: pd.DataFrame, axes: list[str]) -> str | None:
    """The largest length at which most seeds solved the task, per value of the other axes."""
    if "solved" not in runs or runs["solved"].isna().all():
        return None
    length = next((a for a in LENGTHS if a in axes), None)
    if length is None:
        k = int((runs["solved"] == 1).sum())
        return f"Solved by {k} of {len(runs)} runs."
    others = [a for a in axes if a not in (*MODEL, length) and varies(runs, a)]
    parts = []
    for key, g in groups(runs, others):
        rate = g.groupby(length)["solved"].apply(lambda s: (s == 1).mean())
        best = rate[rate > 0.5]
        value = text(best.index.max()) if len(best) else None
        parts.append((value, labelled(zip(others, key, strict=True))))
    _, most, _ = runs_per_key(runs, [a for a in axes if a != SEED])
    who = "the task was solved" if most == 1 else "most seeds solved the task"
    if all(value is None for value, _ in parts):
        did = "was the task solved" if most == 1 else "did most seeds solve the task"
        k = int((runs["solved"] == 1).sum())
        return f"At no {length} {did} ({k} of {len(runs)} runs solved it)."
    listed = "; ".join(
        (f"{length} = {value}" if value else f"no {length}") + (f" ({label})" if label else "")
        for value, label in parts
    )
    return f"Largest {length} at which {who}: {listed}."


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
