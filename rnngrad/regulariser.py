"""Pascanu, Mikolov & Bengio 2013's regulariser against vanishing gradients (their eq. 9),
as rnngrad defines it (docs/derivations.md §15).

With δ_{t,b} = ∂J_b/∂h_{t,b} (the total derivative of example b's loss) and the step's
Jacobian J_t = ∂h_t/∂h_{t−1} = (1 − α) I + α diag(f'(a_t)) W_r (α = 1: the plain RNN; with
the skip connection J_t = diag(f'(a_t)) W_r + I), for t = 2..T:

    u_{t,b}     = J_tᵀ δ_{t,b} = α W_rᵀ g_{t,b} + c δ_{t,b},   g = f'(a_t) ∘ δ_t,
                  c = 1 − α (1 with the skip connection)
    ratio_{t,b} = ‖u_{t,b}‖² / ‖δ_{t,b}‖²
    Ω           = (1/|K|) Σ_{(t,b) ∈ K} (ratio_{t,b} − 1)²,   K = {(t,b): ‖δ_{t,b}‖² >= 1e-20}

Ω is 0 where every step carries the gradient back at unchanged norm. Its derivative is
taken with δ, a and h held constant (only the explicit W_r in u varies):

    ∂‖u‖²/∂W_r = 2 α g uᵀ   so   ∂Ω/∂W_r = (1/|K|) Σ_K 4 (ratio − 1) / ‖δ‖² · (α g) uᵀ
"""

from __future__ import annotations

import numpy as np

from .functional import norms

FLOOR = 1e-20  # ‖δ‖² below this: the pair is left out of Ω (the authors' `bound`)


def vanishing_omega(
    w_r: np.ndarray, dh: np.ndarray, da: np.ndarray, carry: float
) -> tuple[float, np.ndarray]:
    """Ω and ∂Ω/∂W_r from one backward pass.

    w_r   : (H, H) the recurrent weights.
    dh    : (T, B, H), dh[t-1] row b = δ_{t,b} = ∂J_b/∂h_{t,b}.
    da    : (T, B, H), da[t-1] = α f'(a_t) ∘ δ_t (= α g_t; the backward's ∂J_b/∂a_t).
    carry : c, the identity part of J_t: 0 plain, 1 − α leaky, 1 with the skip connection.
    """
    delta, ga = dh[1:], da[1:]  # t = 2..T
    hidden = w_r.shape[0]
    u = ga.reshape(-1, hidden) @ w_r  # α W_rᵀ g_t as rows, (N, H)
    if carry:
        u += carry * delta.reshape(-1, hidden)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        size = norms(delta.reshape(-1, hidden))  # ‖δ‖, without overflow
        kept = size * size >= FLOOR
        ratio = np.where(kept, (norms(u) / np.where(kept, size, 1.0)) ** 2, 1.0)
    count = int(kept.sum())
    if count == 0:
        return 0.0, np.zeros_like(w_r)
    excess = ratio - 1.0
    omega = float(np.sum(excess[kept] ** 2, dtype=np.float64)) / count
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        weight = np.where(kept, 4.0 * excess / (count * np.where(kept, size, 1.0) ** 2), 0.0)
    grad = (ga.reshape(-1, hidden) * weight[:, None].astype(w_r.dtype)).T @ u
    return omega, grad
