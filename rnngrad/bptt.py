"""The vanilla RNN's forward pass and its backpropagation through time, derived by hand
(docs/derivations.md): pure functions of the parameters, used by rnngrad.rnn.RNN.

For t = 1..T, with h_0 = 0 and f = tanh, the logistic sigmoid or relu:

    a_t = W_e x_t + W_r h_{t-1} + b               (1)
    h_t = f(a_t)                       plain      (2)
    h_t = f(a_t) + h_{t-1}             skip       (2')
    h_t = (1 - α) h_{t-1} + α f(a_t)   leak α     (2'')
    s_t = W_u h_t + c                             (3)

Loss of example b: J_b = Σ_{t∈S} ℓ(s_{t,b}, y_{t,b}), S = every step ("all") or {T} ("last");
the batch objective is J = (1/B) Σ_b J_b.

Arrays are time-major and batched, vectors are rows: inputs (T, B) ids or (T, B, D),
pre-activations a (T, B, H), states h (T+1, B, H) with h[0] = h_0, scores (T, B, C).
So W x for a column vector x is written x @ W.T here. Only the recurrence runs step by
step; every other product is one matrix multiplication over all steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .functional import activate, activation_grad, column_sums, input_grads
from .workspace import Workspace

PARAM_NAMES = ("W_e", "W_r", "b", "W_u", "c")


@dataclass
class Trace:
    """What the forward pass keeps for the backward pass."""

    inputs: np.ndarray  # (T, B) int ids or (T, B, D) floats
    a: np.ndarray  # (T, B, H) pre-activations a_1..a_T
    h: np.ndarray  # (T+1, B, H) states h_0..h_T


def forward(
    params: dict[str, np.ndarray],
    inputs: np.ndarray,
    activation: str,
    skip: bool,
    h_shift: np.ndarray | None = None,
    ws: Workspace | None = None,
    leak: float = 1.0,
) -> Trace:
    """Run (1)-(2) over all steps (with leak α < 1, (2'')). `h_shift` (T, B, H), if given, is
    added to each h_t as soon as it is computed: the derivative of J in that shift is ∂J/∂h_t."""
    w_e, w_r, b = params["W_e"], params["W_r"], params["b"]
    steps, batch = inputs.shape[:2]
    hidden = w_r.shape[0]
    if ws is None:
        ws = Workspace.new(steps, batch, hidden, w_r.dtype)
    a, h = ws.a, ws.h  # (T, B, H), (T+1, B, H)
    # a_t = W_e x_t + b for all steps at once; W_r h_{t-1} is added in the loop
    if inputs.ndim == 2:  # one-hot x_t: W_e x_t + b is column x_t of W_e + b1ᵀ (ids checked)
        np.take(w_e.T + b, inputs, axis=0, out=a, mode="clip")
    else:
        np.matmul(inputs.reshape(-1, w_e.shape[1]), w_e.T, out=a.reshape(-1, hidden))
        a += b
    h[0] = 0.0
    w_r_t = np.ascontiguousarray(w_r.T)  # h @ W_rᵀ without a transposed operand: ~8 % faster
    rec = np.empty_like(h[0])  # (B, H)
    # a_t, h_{t-1}, h_t as views made by iteration, not by indexing: 3 % less time at T = 1000
    for t, (a_t, h_prev, h_t) in enumerate(zip(a, h[:-1], h[1:], strict=True), start=1):
        if t > 1:  # h_0 = 0 contributes nothing
            np.matmul(h_prev, w_r_t, out=rec)
            a_t += rec  # (1)
        activate(a_t, activation, out=h_t)  # (2)
        if skip:
            h_t += h_prev  # (2')
        elif leak != 1.0:  # (2'')
            h_t *= leak
            h_t += np.multiply(h_prev, 1.0 - leak, out=rec)
        if h_shift is not None:
            h_t += h_shift[t - 1]
    return Trace(inputs=inputs, a=a, h=h)


def output_scores(params: dict[str, np.ndarray], trace: Trace, loss_at: str) -> np.ndarray:
    """(3): s_t = W_u h_t + c for every step (T, B, C), or for the last one (B, C)."""
    w_u, c = params["W_u"], params["c"]
    if loss_at == "last":
        return trace.h[-1] @ w_u.T + c
    steps, batch, hidden = trace.a.shape
    s = trace.h[1:].reshape(-1, hidden) @ w_u.T  # one (T·B, H) x (H, C) product
    s += c
    return s.reshape(steps, batch, -1)


def backward(
    params: dict[str, np.ndarray],
    trace: Trace,
    ds: np.ndarray,
    activation: str,
    skip: bool,
    ws: Workspace | None = None,
    leak: float = 1.0,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """BPTT for the objective Σ_b J_b, given ds = ∂(Σ_b J_b)/∂s ((T, B, C) or (B, C)).

    Returns the parameter gradients and dh (T, B, H), dh[t-1] = ∂(Σ_b J_b)/∂h_t, whose row b
    is ∂J_b/∂h_{t,b}. The recurrence (docs/derivations.md, §4-§5):

        ∂J/∂h_t     = W_uᵀ ∂ℓ_t/∂s_t  [t ∈ S]  +  W_rᵀ da_{t+1}  + c ∂J/∂h_{t+1}
        da_t        = α f'(a_t) ∘ ∂J/∂h_t

    with c = 1 for the skip connection, 1 − α for leak α, 0 for the plain RNN (α = 1).
    """
    w_r, w_u = params["W_r"], params["W_u"]
    a, h = trace.a, trace.h
    steps, batch, hidden = a.shape
    if ws is None:
        ws = Workspace.new(steps, batch, hidden, a.dtype)
    dh = ws.dh  # (T, B, H)
    grads = output_layer(ds, h, w_u, dh)
    da = activation_grad(a, activation, out=ws.da)  # (T, B, H) f'(a_t), made da_t in place
    if leak != 1.0:
        da *= leak  # ∂h_t/∂a_t = α diag f'(a_t)
    carry = 1.0 if skip else 1.0 - leak  # c
    rec = np.empty_like(h[0])  # (B, H)
    # t = T..2, with da_t, ∂J/∂h_t and ∂J/∂h_{t-1} as views made by iteration (see forward)
    for da_t, dh_t, dh_prev in zip(da[:0:-1], dh[:0:-1], dh[-2::-1], strict=True):
        da_t *= dh_t  # da_t = α f'(a_t) ∘ ∂J/∂h_t
        if ds.ndim == 3:
            np.matmul(da_t, w_r, out=rec)
            dh_prev += rec  # ∂J/∂h_{t-1} = local + W_rᵀ da_t
        else:
            np.matmul(da_t, w_r, out=dh_prev)  # ∂J/∂h_{t-1} = W_rᵀ da_t
        if carry == 1.0:
            dh_prev += dh_t  # ... + ∂J/∂h_t through h_t = f(a_t) + h_{t-1}
        elif carry:
            dh_prev += carry * dh_t  # ... + (1 − α) ∂J/∂h_t through the leak
    da[0] *= dh[0]  # da_1
    # Σ_t da_t h_{t-1}ᵀ; the t = 1 term has h_0 = 0
    grads["W_r"] = da[1:].reshape(-1, hidden).T @ h[1:-1].reshape(-1, hidden)
    # Σ_t da_t x_tᵀ and Σ_t da_t, in one product that reads da once
    grads["W_e"], grads["b"] = input_grads(trace.inputs, da, params["W_e"].shape[1])
    return {name: grads[name] for name in PARAM_NAMES}, dh


def output_layer(ds: np.ndarray, h: np.ndarray, w_u: np.ndarray, dh: np.ndarray) -> dict:
    """(3) backwards (docs/derivations.md §4): ∂J/∂W_u = Σ_t ds_t h_tᵀ and ∂J/∂c = Σ_t ds_t over
    the steps with a loss; writes the local terms W_uᵀ ds_t into dh (at step T only for a loss
    at the last step, whose earlier rows the recurrence then fills)."""
    hidden = h.shape[-1]
    if ds.ndim == 3:  # loss at every step
        ds2 = ds.reshape(-1, ds.shape[-1])  # (T·B, C)
        np.matmul(ds2, w_u, out=dh.reshape(-1, hidden))
        return {"W_u": ds2.T @ h[1:].reshape(-1, hidden), "c": column_sums(ds2)}
    np.matmul(ds, w_u, out=dh[-1])
    return {"W_u": ds.T @ h[-1], "c": ds.sum(axis=0)}
