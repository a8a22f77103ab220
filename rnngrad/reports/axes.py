"""The settings a sweep varies (the *axes* of a report): their display order and names, their
values as text, and the phrases every caption and finding uses to say which runs stand
behind a line, a point or a sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd

SEED = "seed"
LENGTHS = ("T", "delay")  # the sequence-length axes
ORDER = [  # display order of the axes; anything else follows
    "remedy",
    "init",
    "model",
    "activation",
    "skip",
    "leak",
    "task",
    "hidden_size",
    "T",
    "delay",
    "mode",
    "recurrent_init",
    "recurrent_scale",
    "clip",
    "vanishing_reg",
    "lr",
    "batch_size",
    "steps",
]
NAMES = {
    "hidden_size": "hidden size H",
    "recurrent_scale": "recurrent scale",
    "lr": "lr",
    "leak": "leak α",
    "vanishing_reg": "Ω weight λ",
}
QUIET = (  # fixed: unsaid
    "eval_every",
    "profile_every",
    "valid_size",
    "probe_size",
    "early_stop",
    "valid_fraction",
    "split_seed",
    "permutation_seed",
)


def name(column: str) -> str:
    return NAMES.get(column, column)


def text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def labelled(pairs) -> str:
    """ "hidden size H = 32, T = 10" for (axis, value) pairs."""
    return ", ".join(f"{name(k)} = {text(v)}" for k, v in pairs)


def file_suffix(pairs) -> str:
    """ "-steps_200-task_permutation" for (axis, value) pairs: part of a figure's file name."""
    return "".join(f"-{k}_{text(v)}" for k, v in pairs)


def groups(runs: pd.DataFrame, keys: list[str]) -> list[tuple[tuple, pd.DataFrame]]:
    """(values, runs) per combination of the keys' values, sorted; ((), runs) without keys."""
    if not keys:
        return [((), runs)]
    return [
        (key if isinstance(key, tuple) else (key,), group)
        for key, group in runs.groupby(keys, dropna=False, sort=True)
    ]


def values_of(runs: pd.DataFrame, column: str) -> list:
    """The distinct values of a column, sorted, None/NaN last."""
    seen = runs[column].map(lambda v: None if v is None or v != v else v)
    present = sorted({v for v in seen if v is not None}, key=lambda v: (str(type(v)), v))
    return present + ([None] if seen.isna().any() else [])


def varies(runs: pd.DataFrame, column: str) -> bool:
    return runs[column].map(text).nunique() > 1


def varying(runs: pd.DataFrame, columns) -> list[str]:
    """The columns with more than one value among the runs, in display order."""
    out = [c for c in columns if c in runs and varies(runs, c)]
    return sorted(out, key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER))


def listing(runs: pd.DataFrame, column: str) -> str:
    """ "T ∈ {10, 30, 100}" or "T = 10"."""
    vals = [text(v) for v in values_of(runs, column)]
    return (
        f"{name(column)} = {vals[0]}"
        if len(vals) == 1
        else f"{name(column)} ∈ {{{', '.join(vals)}}}"
    )


def runs_per_key(runs: pd.DataFrame, keys: list[str]) -> tuple[int, int, str]:
    """How many runs share each combination of the keys: (fewest, most, "2" or "1–3")."""
    keys = [k for k in keys if k in runs]
    counts = runs.groupby(keys, dropna=False).size() if keys else pd.Series([len(runs)])
    lo, hi = int(counts.min()), int(counts.max())
    return lo, hi, f"{lo}" if lo == hi else f"{lo}–{hi}"


def seeds(runs: pd.DataFrame, keys: list[str], unit: str = "line", spread: str = "") -> str:
    """What one line (point, cell) of the given keys stands for: "one run per line (seed =
    0)", or "the mean over 2 seeds per line (seed ∈ {0, 1}); the band spans them" when
    `spread` names what shows their range ("the band"), or "1–3 seeds" where counts differ."""
    if runs.empty:
        return f"no run per {unit}"
    _, hi, n = runs_per_key(runs, keys)
    where = f" ({listing(runs, SEED)})" if SEED in runs else ""
    if hi == 1:
        return f"one run per {unit}{where}"
    return f"the mean over {n} seeds per {unit}{where}" + (
        f"; {spread} spans them" if spread else ""
    )
