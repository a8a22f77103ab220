"""An independent oracle for the gradient profiles: explicit Jacobian products in extended
precision (np.longdouble, 80-bit on x86-64: numbers down to ~1e-4951, so a profile at 1e-640
is an ordinary number here). Slow and simple on purpose; used by test_profile.py.

Every function returns log10 of batch means (1/B) Σ_b ‖·‖ over t = 1..T.
"""

from __future__ import annotations

import numpy as np

LD = np.longdouble


def extended_precision_available() -> bool:
    return np.finfo(LD).minexp < -16000


def _softmax_grad(s, y):
    """softmax(s) − onehot(y), with p_y − 1 = −Σ_{k≠y} p_k (exact for confident rows)."""
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    rows = p.reshape(-1, p.shape[-1])
    idx = np.arange(len(rows)), np.asarray(y).ravel()
    rows[idx] = 0
    rows[idx] = -rows.sum(axis=-1)
    return p


def _log10_mean_norm(v):  # (T, B, n) -> (T,)
    return np.log10(np.sqrt((v * v).sum(axis=-1)).mean(axis=1))


def rnn_profiles(params, x, y, loss, loss_at, activation, skip, leak=1.0):
    """(total, long-range, input) profiles of an RNN: δ_{t-1} = J_tᵀ δ_t (+ local), with
    J_t = α diag(f'(a_t)) W_r + c I (c = 1 with skip, 1 − α with leak α) built as an explicit
    (B, H, H) matrix at every step."""
    leak = LD(leak)
    carry = LD(1) if skip else 1 - leak
    p = {k: np.asarray(v, dtype=LD) for k, v in params.items()}
    steps, batch = x.shape[:2]
    hidden = p["W_r"].shape[0]
    drive = p["W_e"].T[x] if x.ndim == 2 else np.asarray(x, LD) @ p["W_e"].T
    a = np.empty((steps, batch, hidden), dtype=LD)
    h = np.zeros((steps + 1, batch, hidden), dtype=LD)
    for t in range(steps):
        a[t] = drive[t] + h[t] @ p["W_r"].T + p["b"]
        if activation == "relu":
            f = np.maximum(a[t], 0)
        else:
            f = np.tanh(a[t]) if activation == "tanh" else 1 / (1 + np.exp(-a[t]))
        h[t + 1] = leak * f + carry * h[t]
    e = np.exp(-np.abs(a))
    fprime = 4 * e * e / (1 + e * e) ** 2 if activation == "tanh" else e / (1 + e) ** 2
    if activation == "relu":
        fprime = (a > 0).astype(LD)
    s = (h[1:] if loss_at == "all" else h[-1]) @ p["W_u"].T + p["c"]
    ds = 2 * (s - np.asarray(y, LD)) if loss == "mse" else _softmax_grad(s, y)
    local = ds @ p["W_u"]
    eye = np.eye(hidden, dtype=LD)
    out = {}
    for kind in ("total", "long"):
        delta = np.empty((steps, batch, hidden), dtype=LD)
        delta[-1] = local[-1] if loss_at == "all" else local
        for t in range(steps - 1, 0, -1):
            jac = leak * fprime[t][:, :, None] * p["W_r"][None] + carry * eye  # (B, H, H)
            delta[t - 1] = np.einsum("bij,bi->bj", jac, delta[t])  # J_tᵀ δ_t
            if kind == "total" and loss_at == "all":
                delta[t - 1] += local[t - 1]
        out[kind] = delta
    return (
        _log10_mean_norm(out["total"]),
        _log10_mean_norm(out["long"]),
        _log10_mean_norm(leak * fprime * out["total"]),
    )


def attention_profiles(params, x, y, loss, loss_at, positions):
    """(total, long-range) profiles of ∂J/∂e_t for causal self-attention, from the plain
    matrix-form backward (dz, dV, dα, dS, dQ, dK) carried out in extended precision."""
    p = {k: np.asarray(v, dtype=LD) for k, v in params.items()}
    size = p["W_e"].shape[0]
    e = p["W_e"].T[x.T] if x.ndim == 2 else np.asarray(x, LD).transpose(1, 0, 2) @ p["W_e"].T
    e = e + np.asarray(positions(x.shape[0], size), LD)
    q, k, v = e @ p["W_q"].T, e @ p["W_k"].T, e @ p["W_v"].T
    steps = e.shape[1]
    score = q @ k.transpose(0, 2, 1) / np.sqrt(LD(size))
    score[:, np.triu(np.ones((steps, steps), dtype=bool), k=1)] = -np.inf
    alpha = np.exp(score - score.max(axis=-1, keepdims=True))
    alpha /= alpha.sum(axis=-1, keepdims=True)
    z = alpha @ v
    s = (z if loss_at == "all" else z[:, -1]) @ p["W_u"].T + p["c"]
    yy = np.asarray(y)
    if loss_at == "all":
        yy = yy.transpose(1, 0, 2) if loss == "mse" else yy.T
    ds = 2 * (s - np.asarray(yy, LD)) if loss == "mse" else _softmax_grad(s, yy)
    dz = np.zeros_like(z)
    if loss_at == "all":
        dz[:] = ds @ p["W_u"]
    else:
        dz[:, -1] = ds @ p["W_u"]
    long_dz = np.zeros_like(dz)
    long_dz[:, -1] = dz[:, -1]
    out = []
    for grad in (dz, long_dz):
        dv = alpha.transpose(0, 2, 1) @ grad
        dalpha = grad @ v.transpose(0, 2, 1)
        dscore = alpha * (dalpha - (alpha * dalpha).sum(axis=-1, keepdims=True)) / np.sqrt(LD(size))
        # at a row's largest α, dα_k − c = Σ_{j≠k} α_j (dα_k − dα_j) (as Σ_j α_j = 1): a sum of
        # small terms, where the plain difference cancels when α_k ≈ 1, even in this precision
        top = alpha.argmax(axis=-1)[..., None]
        top_alpha = np.take_along_axis(alpha, top, axis=-1)
        top_dalpha = np.take_along_axis(dalpha, top, axis=-1)
        rest = alpha.copy()
        np.put_along_axis(rest, top, 0, axis=-1)
        pairwise = (rest * (top_dalpha - dalpha)).sum(axis=-1, keepdims=True)
        np.put_along_axis(dscore, top, top_alpha * pairwise / np.sqrt(LD(size)), axis=-1)
        de = (dscore @ k) @ p["W_q"] + (dscore.transpose(0, 2, 1) @ q) @ p["W_k"] + dv @ p["W_v"]
        out.append(_log10_mean_norm(de.transpose(1, 0, 2)))
    return tuple(out)
