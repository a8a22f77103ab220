"""Vectors in log space: a norm that neither underflows nor overflows, and vectors held as
e^{log} · unit, so that a gradient of 1e-5000 is an ordinary number (rnngrad.reference)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LN10 = np.log(10.0)


@dataclass
class Scaled:
    """Vectors v[t, b] = e^{log[t, b]} · unit[t, b]; unit rows have norm 1 (0 where v = 0)."""

    log: np.ndarray  # (T, B) natural log of ‖v‖, -inf where v = 0
    unit: np.ndarray  # (T, B, n)

    def log10_mean(self) -> np.ndarray:
        """(T,) log10 of the batch mean (1/B) Σ_b ‖v[t, b]‖, without leaving log space."""
        return log_mean_exp(self.log, axis=1) / LN10


def norm(v: np.ndarray) -> np.ndarray:
    """‖v‖ over the last axis for any float64 rows: one pass where the sum of squares is safely
    inside the float range, rows outside it rescaled by their largest entry first."""
    with np.errstate(over="ignore", under="ignore"):
        squares = np.einsum("...i,...i->...", v, v)
    out = np.sqrt(squares)
    redo = ~((squares > 1e-290) & (squares < 1e290))  # also 0, inf and NaN
    if redo.any():
        rows = v[redo]
        m = np.abs(rows).max(axis=-1)
        scaled = rows / np.where(m > 0, m, 1.0)[..., None]
        out[redo] = m * np.sqrt(np.einsum("...i,...i->...", scaled, scaled))
    return out


def split(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """v as (log ‖v‖, v / ‖v‖) row by row; (-inf, 0) for a zero row."""
    n = norm(v)
    with np.errstate(divide="ignore"):
        log = np.log(n)
    return log, v / np.where(n > 0, n, 1.0)[..., None]


def add(log1, unit1, log2, unit2) -> tuple[np.ndarray, np.ndarray]:
    """e^{log1} unit1 + e^{log2} unit2, scaled by the larger of the two before adding."""
    m = np.maximum(log1, log2)
    shift = np.where(np.isfinite(m), m, 0.0)
    v = unit1 * np.exp(log1 - shift)[..., None] + unit2 * np.exp(log2 - shift)[..., None]
    log, unit = split(v)
    return log + shift, unit


def log_mean_exp(x: np.ndarray, axis: int) -> np.ndarray:
    """log (1/n) Σ e^x along `axis`, without overflow; -inf where every term is -inf."""
    m = np.max(x, axis=axis, keepdims=True)
    finite_m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.mean(np.exp(x - finite_m), axis=axis, keepdims=True)) + finite_m
    return np.squeeze(out, axis=axis)
