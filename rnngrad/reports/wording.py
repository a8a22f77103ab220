"""How the findings write numbers: 3 significant digits, ranges "a–b", and which runs a
sentence covers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnngrad.reports.axes import listing, runs_per_key, varies


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
    parts = [listing(runs, a) for a in axes if a in runs and varies(runs, a)]
    _, hi, n = runs_per_key(runs, axes)
    parts.append(f"{n} seed{'s' if hi > 1 else ''} each")
    return f"{len(runs)} run{'s' if len(runs) != 1 else ''}: " + ", ".join(parts)
