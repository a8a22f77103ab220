"""The element-wise pieces of the model: activations, their derivatives, the two losses,
and Euclidean norms that neither underflow nor overflow.

Shapes: `s` are output scores (..., C); `y` class ids (...) or real targets (..., C).
All functions are pure and work in the dtype they are given.
"""

from __future__ import annotations

import numpy as np


def activate(a: np.ndarray, activation: str, out: np.ndarray) -> np.ndarray:
    """out = f(a): tanh, or the logistic sigmoid σ(a) = 1 / (1 + e^{-a})."""
    if activation == "tanh":
        return np.tanh(a, out=out)
    np.negative(a, out=out)
    with np.errstate(over="ignore"):  # e^{-a} = inf for a < -709 gives σ = 0, its limit
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def activation_grad(a: np.ndarray, activation: str, out: np.ndarray | None = None) -> np.ndarray:
    """f'(a), evaluated from the pre-activation a so that saturated units keep their value.

    tanh'(a) = 1 - tanh²(a) = 1 / cosh²(a)
    σ'(a)    = σ(a) - σ²(a) = σ(a) σ(-a) = 1 / (2 + 2 cosh a)

    The right-hand forms are the same functions without the cancellation of 1 - tanh²
    (which rounds to exactly 0 once |a| > 19 in float64, where the true value is ~1e-16).
    """
    with np.errstate(over="ignore"):  # cosh(a) = inf for |a| > 710 gives f' = 0, its limit
        c = np.cosh(a, out=out)
    if activation == "tanh":
        np.multiply(c, c, out=c)
    else:
        c += 1.0
        c *= 2.0
    return np.reciprocal(c, out=c)


def cross_entropy(s: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Σ over all leading positions of ℓ = -log softmax(s)[y], and ∂(Σℓ)/∂s = p - onehot(y).

    log p_y = (s_y - m) - log Σ_k e^{s_k - m} for any shift m. m = 0 (no pass for a row
    max, the slowest step here) wherever Σ_k e^{s_k} stays within float range; rows that
    leave it are redone with m = max_k s_k, so the result is exact for any scores.
    """
    c = s.shape[-1]
    s2 = s.reshape(-1, c)  # (N, C)
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(s2)
    total = e @ np.ones(c, dtype=s.dtype)  # (N,) Σ_k e^{s_k}, one matrix-vector product
    shift = np.zeros_like(total)
    info = np.finfo(s.dtype)
    redo = ~((total >= info.tiny / info.eps) & (total <= info.max))
    if redo.any():
        shift[redo] = s2[redo].max(axis=-1)
        e[redo] = np.exp(s2[redo] - shift[redo, None])
        total[redo] = e[redo].sum(axis=-1)
    flat = np.arange(len(s2)) * c + y.ravel()  # positions of s_y in s2.ravel()
    logp_y = s2.ravel()[flat] - shift - np.log(total)  # (N,)
    ds = np.divide(e, total[:, None], out=e)  # p
    ds.ravel()[flat] = np.expm1(logp_y)  # p_y - 1, exact even near p_y = 1
    return -float(logp_y.sum(dtype=np.float64)), ds.reshape(s.shape)


def squared_error(s: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Σ over all positions of ℓ = Σ_k (s_k - y_k)², and ∂(Σℓ)/∂s = 2 (s - y)."""
    diff = s - y
    loss = float(np.vdot(diff, diff))
    diff *= 2.0
    return loss, diff


def norms(v: np.ndarray) -> np.ndarray:
    """‖v‖₂ over the last axis, accurate over the whole range of the dtype.

    The plain sum of squares underflows once the entries fall below √tiny (1e-154 in
    float64) and overflows above 1e154. Rows whose sum of squares left the safe range
    are recomputed as m·‖v/m‖ with m = max|v|; the rest keep the one-pass result, whose
    lost squares are each below tiny, a relative error under machine epsilon.
    """
    if v.ndim == 1:
        return norms(v[None])[0]
    ss = np.einsum("...i,...i->...", v, v)
    info = np.finfo(v.dtype)
    out = np.sqrt(ss)
    redo = ~((ss >= info.tiny / info.eps) & (ss <= info.max))
    redo &= ~np.isnan(ss)
    if redo.any():
        rows = v[redo]
        m = np.abs(rows).max(axis=-1, keepdims=True)
        safe = np.where(m > 0, m, 1)
        out[redo] = m[..., 0] * np.sqrt(np.einsum("...i,...i->...", rows / safe, rows / safe))
    return out
