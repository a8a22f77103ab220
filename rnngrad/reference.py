"""The reference gradients: every gradient quantity rnngrad records, recomputed in log space
from the Jacobians, with code that shares nothing with the engine's backward
(docs/derivations.md §11).

The engine (rnn.py, attention.py) runs in linear float64: fast, exact where float64 can
hold the numbers, but a norm below ~1e-308 becomes 0. This module takes the engine's forward
pass as given (the states the model really ran through; recomputing them would let rounding
in a chaotic network drift onto another trajectory), derives ∂ℓ/∂s itself, and carries each
example's backward vector as a unit vector u times e^L, with L a float64 natural log: exact
at any depth. None of it calls the engine's backward. It serves twice: the profiles the
pipeline records come from here, and the self-check (selfcheck.py) holds the engine's own
backward, and the parameter gradients it yields, against it.

RNN, per example b (row vectors, as in rnn.py), with δ_t = ∂J_b/∂h_t:

    δ_T     = W_uᵀ ∂ℓ_T/∂s_T
    δ_{t-1} = [t-1 ∈ S] W_uᵀ ∂ℓ_{t-1}/∂s_{t-1} + J_tᵀ δ_t,
    J_t = α diag(f'(a_t)) W_r + c I      (c = 1 with skip, 1 − α with leak α, else 0)

f' is kept as log f' (log sech² a = log 4 − 2|a| − 2 log(1 + e^{−2|a|}) for tanh,
log σ'(a) = −|a| − 2 log(1 + e^{−|a|}) for the sigmoid, 0 or −inf for relu), so even a unit
with |a| = 1000 contributes its exact e^{-2000}. The long-range vector is the same recursion
with the loss at step T only; the input gradient is ∂J_b/∂a_t = α f'(a_t) ∘ δ_t.

Attention: see `attention_reference`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .logspace import Scaled, add, split

GAMMA = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0}  # max f', Pascanu's γ (log_fprime's source)


class Cell(NamedTuple):
    """What decides an RNN step's Jacobian besides its weights."""

    activation: str
    skip: bool
    leak: float = 1.0

    @property
    def carry(self) -> float:
        """c, the identity part of J_t: 1 with the skip connection, 1 − α with leak α."""
        return 1.0 if self.skip else 1.0 - self.leak


def pascanu_bound(sigma_max: float, activation: str, skip: bool, leak: float = 1.0) -> float:
    """Pascanu's bound on one step's factor ‖∂ℓ_T/∂h_{t-1}‖ / ‖∂ℓ_T/∂h_t‖, ‖J_t‖ <= c + α γ σ_max:
    γ σ_max(W_r), plus 1 with the skip connection (its identity path); (1 − α) + α γ σ_max(W_r)
    with leak α."""
    cell = Cell(activation, skip, leak)
    return cell.carry + cell.leak * GAMMA[activation] * sigma_max


@dataclass
class RNNReference:
    h: np.ndarray  # (T+1, B, H) states, h[0] = 0 (the engine's, as float64)
    log_fprime: np.ndarray  # (T, B, H) log f'(a_t)
    total: Scaled  # ∂J_b/∂h_t, every loss term
    long: Scaled  # ∂ℓ_{T,b}/∂h_t, the last step's loss alone
    log_dx: np.ndarray  # (T, B) log ‖∂J_b/∂a_t‖ = log ‖f'(a_t) ∘ δ_t‖ (the input projection's)
    grads: dict[str, np.ndarray]  # ∂J/∂θ, J = (1/B) Σ_b J_b, rebuilt from δ_t (linear float64)
    sizes: dict[str, float]  # a bound on the size of each gradient's terms: their rounding scale


@dataclass
class AttentionReference:
    total: Scaled  # ∂J_b/∂e_t
    long: Scaled  # ∂ℓ_{T,b}/∂e_t


# -- the loss derivative -----------------------------------------------------------------------


def loss_grad(s: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """∂ℓ/∂s for each position: 2 (s − y) for squared error; softmax(s) − onehot(y) for
    cross-entropy, with p_y − 1 written as −Σ_{k≠y} p_k so that it stays exact when p_y ≈ 1."""
    if loss == "mse":
        return 2.0 * (s - y)
    z = s - s.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    rows = p.reshape(-1, p.shape[-1])
    idx = np.arange(len(rows)), np.asarray(y).ravel()
    rows[idx] = 0.0
    rows[idx] = -rows.sum(axis=-1)
    return p


def targets_as(y, loss: str) -> np.ndarray:
    """Targets as ∂ℓ/∂s reads them: real (float64) for squared error, class ids otherwise."""
    return np.asarray(y, dtype=np.float64 if loss == "mse" else np.intp)


# -- the RNN -----------------------------------------------------------------------------------


def log_fprime(a: np.ndarray, activation: str) -> np.ndarray:
    """log f'(a), exact for any a (no underflow to -inf; relu: 0, or -inf where f' = 0)."""
    if activation == "relu":
        return np.where(a > 0, 0.0, -np.inf)
    if activation == "tanh":
        double = 2.0 * np.abs(a)
        return np.log(4.0) - double - 2.0 * np.log1p(np.exp(-double))
    size = np.abs(a)
    return -size - 2.0 * np.log1p(np.exp(-size))


def rnn_reference(params, x, y, loss: str, loss_at: str, cell: Cell, a, h):
    """Every profile of one batch, per example, in log space (module docstring), from the
    engine's pre-activations a (T, B, H) and states h (T+1, B, H)."""
    a, h = np.asarray(a, dtype=np.float64), np.asarray(h, dtype=np.float64)
    w_r, w_u, c = (np.asarray(params[k], dtype=np.float64) for k in ("W_r", "W_u", "c"))
    s = (h[1:] if loss_at == "all" else h[-1]) @ w_u.T + c  # (T, B, C) or (B, C)
    ds = loss_grad(s, targets_as(y, loss), loss)
    lf = log_fprime(a, cell.activation)
    local = ds @ w_u  # W_uᵀ ∂ℓ_t/∂s_t, (T, B, H) or (B, H) for the last step
    last = local[-1] if loss_at == "all" else local
    long = backward_scaled(w_r, lf, last, None, cell)
    total = long if loss_at == "last" else backward_scaled(w_r, lf, last, local, cell)
    m = finite_max(lf)  # (T, B)
    g_log, _ = split(np.exp(lf - m[..., None]) * total.unit)
    log_alpha = np.log(cell.leak)
    with np.errstate(under="ignore", over="ignore"):  # ∂J_b/∂a_t, 0 where it underflows
        da = np.exp(total.log[..., None] + lf + log_alpha) * total.unit
    grads, sizes = parameter_grads(x, h, ds, da, params["W_e"].shape[1])
    return RNNReference(h, lf, total, long, total.log + m + g_log + log_alpha, grads, sizes)


def finite_max(lf: np.ndarray) -> np.ndarray:
    """The largest log f' of each row, or 0 where every unit has f' = 0 (relu): the scale
    that f' is divided by before it leaves log space."""
    m = lf.max(axis=-1)
    return np.where(np.isfinite(m), m, 0.0)


def parameter_grads(x, h, ds, da, input_size: int):
    """∂J/∂θ as sums over steps and examples of da_t (and ds_t) times the inputs of each
    product (docs/derivations.md §7), divided by B, written here without the engine; and for
    each a bound on the size of its terms, Σ_n ‖u_n‖ ‖v_n‖ <= ‖U‖_F ‖V‖_F (Cauchy-Schwarz),
    the scale of its rounding."""
    batch, hidden = da.shape[1], da.shape[2]
    f = np.linalg.norm
    grads, sizes = {}, {}
    if ds.ndim == 3:  # a loss at every step
        grads["W_u"] = np.einsum("tbc,tbh->ch", ds, h[1:])
        grads["c"] = ds.sum(axis=(0, 1))
        sizes["W_u"] = f(ds) * f(h[1:])
    else:
        grads["W_u"] = ds.T @ h[-1]
        grads["c"] = ds.sum(axis=0)
        sizes["W_u"] = f(ds) * f(h[-1])
    sizes["c"] = f(ds) * np.sqrt(ds.size / ds.shape[-1])
    grads["W_r"] = np.einsum("tbh,tbk->hk", da[1:], h[1:-1])  # the t = 1 term has h_0 = 0
    sizes["W_r"] = f(da[1:]) * f(h[1:-1])
    grads["b"] = da.sum(axis=(0, 1))
    sizes["b"] = sizes_e = f(da) * np.sqrt(da.size / hidden)
    if x.ndim == 2:  # one-hot inputs: column x_t of ∂J/∂W_e collects da_t
        ids = x.ravel()
        order = np.argsort(ids, kind="stable")
        first = np.flatnonzero(np.r_[True, ids[order][1:] != ids[order][:-1]])
        w_e = np.zeros((input_size, hidden))
        w_e[ids[order][first]] = np.add.reduceat(da.reshape(-1, hidden)[order], first, axis=0)
        grads["W_e"] = w_e.T
    else:
        grads["W_e"] = np.einsum("tbh,tbd->hd", da, x)
        sizes_e = f(da) * f(x)
    sizes["W_e"] = sizes_e
    return {k: v / batch for k, v in grads.items()}, {k: v / batch for k, v in sizes.items()}


def backward_scaled(w_r, lf, last, local, cell: Cell) -> Scaled:
    """δ_t for t = T..1 from δ_T = `last`, through J_tᵀ (and the local terms, if given)."""
    steps, batch, hidden = lf.shape
    out = Scaled(np.empty((steps, batch)), np.empty((steps, batch, hidden)))
    log, unit = split(last)
    out.log[-1], out.unit[-1] = log, unit
    log_alpha = np.log(cell.leak)
    with np.errstate(divide="ignore"):
        log_carry = np.log(cell.carry)  # -inf: no identity path
    for t in range(steps - 1, 0, -1):  # 0-based: from δ at index t to index t-1
        m = finite_max(lf[t])  # scale f'(a) by its largest entry, so none underflows
        through_log, through_unit = split((np.exp(lf[t] - m[:, None]) * unit) @ w_r)
        through_log = through_log + m + log + log_alpha  # α W_rᵀ (f'(a_t) ∘ δ_t)
        if cell.carry:  # + c δ_t through the identity
            through_log, through_unit = add(through_log, through_unit, log + log_carry, unit)
        if local is not None:
            local_log, local_unit = split(local[t - 1])
            through_log, through_unit = add(through_log, through_unit, local_log, local_unit)
        log, unit = through_log, through_unit
        out.log[t - 1], out.unit[t - 1] = log, unit
    return out


# -- attention ---------------------------------------------------------------------------------


def attention_reference(params, x, y, loss: str, loss_at: str, q, k, v) -> AttentionReference:
    """∂J_b/∂e_t (total) and ∂ℓ_{T,b}/∂e_t (long-range) of causal self-attention, in log space,
    from the engine's projections q, k, v (B, T, d).

    With logα = S − logsumexp(S) row by row (exact, however small α is), dz_t = W_uᵀ ∂ℓ_t/∂s_t,
    dα_{tj} = dz_t·v_j and c_t = Σ_k α_{tk} dα_{tk}, the gradient reaching e_j is

        W_qᵀ Σ_k α_{jk} (dα_{jk} − c_j) k_k/√d  +  e^{m_j} [W_vᵀ Σ_t α̃_{tj} dz_t
                                                  + W_kᵀ Σ_t α̃_{tj} (dα_{tj} − c_t) q_t/√d]

    where α̃_{tj} = e^{logα_{tj} − m_j}, m_j = max_t logα_{tj} over the positions t whose loss
    is counted: the second part is exact even where every α_{tj} underflows float64. Each row
    of α ∘ (dα − c) sums to zero; its entry at the row's largest α, which cancels when α ≈ 1,
    is taken as minus the sum of the others (as the engine does), and the others are scaled
    by the row's second-largest weight e^{r_t}, so that the first part stays exact too when
    every other weight of the row underflows.
    """
    p = {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}
    q, k, v = (np.asarray(m, dtype=np.float64) for m in (q, k, v))
    batch, steps, size = q.shape
    score = q @ k.transpose(0, 2, 1) / np.sqrt(size)  # (B, T, T)
    score[:, np.triu(np.ones((steps, steps), dtype=bool), k=1)] = -np.inf
    top = score.max(axis=-1, keepdims=True)
    log_alpha = score - (top + np.log(np.exp(score - top).sum(axis=-1, keepdims=True)))
    z = np.exp(log_alpha) @ v
    s = (z if loss_at == "all" else z[:, -1]) @ p["W_u"].T + p["c"]
    yy = targets_as(y, loss)
    if loss_at == "all":  # time-major targets to batch-major
        yy = yy.transpose(1, 0, 2) if loss == "mse" else yy.T
    ds = loss_grad(s, yy, loss)
    dz = np.zeros((batch, steps, size))
    if loss_at == "all":
        dz[:] = ds @ p["W_u"]
    else:
        dz[:, -1] = ds @ p["W_u"]
    long_dz = np.zeros_like(dz)
    long_dz[:, -1] = dz[:, -1]
    long = _attention_backward(long_dz, q, k, v, log_alpha, p)
    total = long if loss_at == "last" else _attention_backward(dz, q, k, v, log_alpha, p)
    return AttentionReference(total, long)


def _attention_backward(dz, q, k, v, log_alpha, p) -> Scaled:
    """The gradient reaching every e_j from the losses whose dz_t is non-zero (see above)."""
    size = q.shape[-1]
    alpha = np.exp(log_alpha)  # (B, T, T); only for c_t, a sum dominated by the largest α
    dalpha = dz @ v.transpose(0, 2, 1)  # dα_{tj} = dz_t · v_j
    weight = dalpha - (alpha * dalpha).sum(axis=-1, keepdims=True)  # dα_{tj} − c_t
    top = log_alpha.argmax(axis=-1)  # (B, T): each row's largest α
    others = log_alpha.copy()
    np.put_along_axis(others, top[..., None], -np.inf, axis=-1)
    r = others.max(axis=-1)  # (B, T): log of the row's second-largest α (-inf: none)
    safe_r = np.where(np.isfinite(r), r, 0.0)
    row = np.exp(others - safe_r[..., None]) * weight  # e^{−r_t} √d ∂ℓ/∂S_{tj}, j ≠ top
    dominant = -row.sum(axis=-1)  # (B, T): the row sums to zero
    np.put_along_axis(row, top[..., None], dominant[..., None], axis=-1)
    near_log, near_unit = split((row @ k / np.sqrt(size)) @ p["W_q"])  # e^{−r_j} W_qᵀ dq_j
    near_log = np.where(np.isfinite(r), near_log + safe_r, -np.inf)
    counted = np.abs(dz).max(axis=-1) > 0  # (B, T): positions t whose loss is counted
    masked = np.where(counted[:, :, None], log_alpha, -np.inf)  # logα_{tj} over counted t
    m = masked.max(axis=1)  # (B, T): m_j
    safe_m = np.where(np.isfinite(m), m, 0.0)
    tilde = np.exp(masked - safe_m[:, None, :])  # α̃_{tj}: the largest in each column is 1
    column = tilde * weight  # α̃_{tj} (dα_{tj} − c_t); at each row's largest α instead
    m_top = np.take_along_axis(safe_m, top, axis=1)  # the m_j of that entry's column:
    scale = np.exp(
        np.where(counted & np.isfinite(r), safe_r - m_top, -np.inf)
    )  # e^{r_t − m_j} <= 1
    np.put_along_axis(column, top[..., None], (dominant * scale)[..., None], axis=-1)
    dv = tilde.transpose(0, 2, 1) @ dz  # Σ_t α̃_{tj} dz_t  (B, T, d)
    dk = column.transpose(0, 2, 1) @ q / np.sqrt(size)  # Σ_t α̃_{tj} (dα_{tj} − c_t) q_t/√d
    far_log, far_unit = split(dv @ p["W_v"] + dk @ p["W_k"])
    far_log = np.where(np.isfinite(m), far_log + safe_m, -np.inf)  # times e^{m_j}
    log, unit = add(near_log, near_unit, far_log, far_unit)
    return Scaled(log.T, unit.transpose(1, 0, 2))  # time-major (T, B), (T, B, d)
