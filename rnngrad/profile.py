"""The gradient profile of a network on a fixed batch, and the numbers that summarise it.

Two profiles over t = 1..T (docs/derivations.md §8):

- total:      (1/B) Σ_b ‖∂J_b/∂h_{t,b}‖, every loss term and every path (RNN.loss_and_grads);
- long-range: (1/B) Σ_b ‖∂ℓ_{T,b}/∂h_{t,b}‖, only what reaches h_t from the last step's loss.
  With the loss at every step, local terms mask vanishing in the total; the long-range part
  shows it. It is computed in log space — the backward vector is renormalised at every step
  and the log of the scale accumulated — so it stays exact far below float64's 1e-308.

Summaries, all from the long-range profile p_t, with distance d = T - t from the loss step:

- decay_factor: 10^slope of the least-squares line of log10 p_t against d (per-step factor);
- max_step_factor: max_t p_{t-1}/p_t, which Pascanu's bound caps at γ σ_max(W_r)
  (1 + γ σ_max with the skip connection) for every t, exactly;
- log10_ratio: log10(p_1 / p_T);
- horizon: the largest d such that p_{T-d'} >= 1e-6 p_T for every d' <= d.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .functional import activation_grad, cross_entropy, norms, squared_error
from .rnn import RNN, backward, forward, output_scores

LN10 = np.log(10.0)
SATURATION = 0.1  # a unit is saturated where f'(a) < 10 % of max f' (tanh: |h| > 0.95)
GAMMA = {"tanh": 1.0, "sigmoid": 0.25}  # max f'


@dataclass
class Probe:
    """The profiles of one batch, without any parameter update."""

    loss: float
    log10_total: np.ndarray  # (T,) log10 of the total profile (-inf where it underflows)
    log10_long: np.ndarray  # (T,) log10 of the long-range profile, exact in log space
    saturation: float  # fraction of (t, b, unit) with f'(a_t) < 0.1 max f'
    log10_dx: np.ndarray | None = None  # (T,) log10 (1/B) Σ_b ‖∂J_b/∂(W_e x_t)‖ (or ∂J_b/∂e_t)


def long_range_log10(params, trace, ds_last, activation: str, skip: bool) -> np.ndarray:
    """log10 (1/B) Σ_b ‖∂ℓ_{T,b}/∂h_{t,b}‖ for t = 1..T, from ds_last = ∂ℓ_T/∂s_T (B, C).

    v_T = W_uᵀ ds_T;  v_{t-1} = W_rᵀ (f'(a_t) ∘ v_t) [+ v_t with skip]; each v_t is scaled to
    unit norm per example and log ‖v_t‖ accumulated, so nothing underflows.
    """
    w_r = params["W_r"]
    a = trace.a  # (T, B, H)
    steps, batch, _ = a.shape
    v = (ds_last @ params["W_u"]).astype(np.float64)  # (B, H)
    log_scale = np.zeros(batch)
    log_norm = np.empty((steps, batch))  # natural log of ‖∂ℓ_T/∂h_t‖ per example
    for t in range(steps, 0, -1):
        n = norms(v)
        with np.errstate(divide="ignore"):
            log_norm[t - 1] = log_scale + np.log(n)  # -inf once the vector is exactly 0
        safe = np.where(n > 0, n, 1.0)
        v /= safe[:, None]
        log_scale += np.log(safe)
        if t > 1:
            fp = activation_grad(a[t - 1].astype(np.float64), activation)
            v = (fp * v) @ w_r.astype(np.float64) + (v if skip else 0.0)
    return log_mean_exp(log_norm, axis=1) / LN10


def log_mean_exp(x: np.ndarray, axis: int) -> np.ndarray:
    """log (1/n) Σ e^x along `axis`, without overflow; -inf where every term is -inf."""
    m = np.max(x, axis=axis, keepdims=True)
    finite_m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.mean(np.exp(x - finite_m), axis=axis, keepdims=True)) + finite_m
    return np.squeeze(out, axis=axis)


def probe(rnn: RNN, inputs, targets, loss: str, loss_at: str) -> Probe:
    """Both profiles and the saturation of one batch (the parameters are not changed)."""
    params, x, y = rnn.check_batch(inputs, targets, loss, loss_at)
    trace = forward(params, x, rnn.activation, rnn.skip)
    s = output_scores(params, trace, loss_at)
    loss_fn = cross_entropy if loss == "cross_entropy" else squared_error
    total, ds = loss_fn(s, y)
    _, dh = backward(params, trace, ds, rnn.activation, rnn.skip)
    with np.errstate(divide="ignore"):
        log10_total = np.log10(norms(dh).mean(axis=1, dtype=np.float64))
    ds_last = ds[-1] if loss_at == "all" else ds  # ∂ℓ_T/∂s_T per example
    log10_long = long_range_log10(params, trace, ds_last, rnn.activation, rnn.skip)
    fp = activation_grad(trace.a, rnn.activation)
    saturation = float((fp < SATURATION * GAMMA[rnn.activation]).mean())
    with np.errstate(divide="ignore"):
        log10_dx = np.log10(norms(fp * dh).mean(axis=1, dtype=np.float64))  # da_t = f' ∘ dh_t
    return Probe(total / x.shape[1], log10_total, log10_long, saturation, log10_dx)


def probe_attention(model, inputs, targets, loss: str, loss_at: str) -> Probe:
    """The attention model's profiles over positions: total ∂J/∂e_t, and long-range, the part
    from the last step's loss alone (the same when the loss is at the last step only)."""
    from .attention import backward as attn_backward
    from .attention import forward as attn_forward
    from .attention import output_scores as attn_scores

    params, x, y = model.check_batch(inputs, targets, loss, loss_at)
    trace = attn_forward(params, x)
    loss_fn = cross_entropy if loss == "cross_entropy" else squared_error
    total, ds = loss_fn(attn_scores(params, trace, loss_at), y)
    _, de = attn_backward(params, trace, ds)
    with np.errstate(divide="ignore"):
        log10_total = np.log10(norms(de).mean(axis=0, dtype=np.float64))
        log10_long = log10_total
        if loss_at == "all":
            only_last = np.zeros_like(ds)
            only_last[-1] = ds[-1]
            _, de_last = attn_backward(params, trace, only_last)
            log10_long = np.log10(norms(de_last).mean(axis=0, dtype=np.float64))
    return Probe(total / x.shape[1], log10_total, log10_long, float("nan"), log10_total)


def summarise(log10_profile: np.ndarray) -> dict[str, float]:
    """decay_factor, max_step_factor, log10_ratio and horizon of a log10 profile (module doc)."""
    p = np.asarray(log10_profile, dtype=np.float64)
    steps = len(p)
    distance = steps - 1 - np.arange(steps)  # d = T - t
    ok = np.isfinite(p)
    out = {"decay_factor": np.nan, "max_step_factor": np.nan, "log10_ratio": np.nan}
    if ok.sum() >= 2:
        slope = np.polyfit(distance[ok], p[ok], 1)[0]
        out["decay_factor"] = float(10.0**slope)
    if steps >= 2:
        with np.errstate(invalid="ignore"):
            step = p[:-1] - p[1:]  # log10 p_{t-1}/p_t
        out["max_step_factor"] = float(10.0 ** np.nanmax(step)) if np.isfinite(step).any() else 0.0
        out["log10_ratio"] = float(p[0] - p[-1])
    out["horizon"] = np.nan
    if np.isfinite(p[-1]):
        below = np.flatnonzero(~(p[::-1] >= p[-1] - 6.0))  # distances d where p < 1e-6 p_T
        out["horizon"] = float(below[0] - 1 if len(below) else steps - 1)
    return out
