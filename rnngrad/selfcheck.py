"""The self-check: the engine's own backward held against the reference, and every example's
per-step factor against Pascanu's bound. Run at every profile evaluation; either part fails
loudly when the engine is wrong (docs/derivations.md §11).

1. Agreement. For every step t and example b where the reference's ‖∂J_b/∂h_t‖ is above
   the floor (1e-280 in float64, so that the engine's float64 value exists), the engine's
   vector must match: ‖dh_engine − dh_ref‖ <= RTOL ‖dh_ref‖. Below the floor the engine's norm
   must stay below it too (it may underflow to 0, it may not be large). Checked for the
   total, ∂J_b/∂h_t from `loss_and_grads` as training calls it, and for the long-range part,
   from `loss_and_grads` with the loss at the last step alone. Attention: ∂J_b/∂e_t, likewise.
2. The bound (RNN). For every example and every step,
   ‖∂ℓ_T/∂h_{t-1}‖ <= (γ σ_max(W_r) [+ 1 with the skip]) ‖∂ℓ_T/∂h_t‖ · (1 + BOUND_RTOL),
   from the reference at any depth and from the engine wherever float64 holds both values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .init import sigma_max
from .reference import GAMMA, LN10, Scaled, norm

RTOL = {"float64": 1e-6, "float32": 1e-3}  # agreement, relative to the reference's norm
FLOOR = {"float64": -280.0, "float32": -30.0}  # log10 of the smallest norm compared
BOUND_RTOL = 1e-9  # rounding allowance on a factor that meets the bound exactly


@dataclass
class SelfCheck:
    rel_err: float  # largest ‖engine − reference‖ / ‖reference‖ over the compared vectors
    compared: int  # vectors (t, b) compared
    bound_ratio: float  # largest per-example per-step factor / bound (NaN: no bound applies)
    worst: str  # where the largest disagreement or factor is, in words
    rtol: float

    @property
    def ok(self) -> bool:
        bound_ok = not (self.bound_ratio > 1.0 + BOUND_RTOL)  # NaN: attention, no bound
        return self.rel_err <= self.rtol and bound_ok

    def message(self) -> str:
        if self.ok:
            return (
                f"self-check passed: engine and reference agree to {self.rel_err:.1e} "
                f"({self.compared} vectors), largest factor/bound {self.bound_ratio:.3g}"
            )
        parts = []
        if not self.rel_err <= self.rtol:
            parts.append(
                f"the engine's backward differs from the log-space reference by "
                f"{self.rel_err:.3g} (tolerance {self.rtol:g})"
            )
        if self.bound_ratio > 1.0 + BOUND_RTOL:
            parts.append(f"a per-step factor exceeds Pascanu's bound ×{self.bound_ratio:.6g}")
        return "self-check FAILED: " + " and ".join(parts) + f" ({self.worst})"


def agreement(engine: np.ndarray, ref: Scaled, floor: float) -> tuple[float, int, tuple | None]:
    """Largest relative disagreement of engine vectors (T, B, n) with the reference, the
    number compared, and the (t index, b) of the worst."""
    above = ref.log > floor * LN10
    with np.errstate(all="ignore"):
        scaled = engine * np.exp(-np.where(above, ref.log, 0.0))[..., None]  # engine / ‖ref‖
        err = np.where(above, norm(scaled - ref.unit), 0.0)
        size = norm(engine)
    err[~np.isfinite(err) | ~np.isfinite(size)] = np.inf
    err[~above & (size > 10.0 ** (floor + 1))] = np.inf  # the reference is below the floor
    worst = np.unravel_index(np.argmax(err), err.shape)
    return float(err[worst]), int(above.sum()), worst


def step_ratio(log_norms: np.ndarray, log_bound: float) -> tuple[float, tuple | None]:
    """Largest (‖v_{t-1}‖ / ‖v_t‖) / bound over t and b, from natural-log norms (T, B)."""
    with np.errstate(invalid="ignore"):
        step = log_norms[:-1] - log_norms[1:]  # log of the factor from t to t-1
    step = np.where(np.isfinite(step), step, -np.inf)
    if step.size == 0 or not np.isfinite(step).any():
        return 0.0, None
    worst = np.unravel_index(np.argmax(step), step.shape)
    return float(np.exp(step[worst] - log_bound)), worst


def where(kind: str, index: tuple | None, steps: int) -> str:
    if index is None:
        return kind
    return f"{kind} at t = {index[0] + 1} of {steps}, example {index[1]}"


def check_rnn(model, x, y, loss: str, loss_at: str, ref) -> SelfCheck:
    rtol, floor = RTOL[model.dtype], FLOOR[model.dtype]
    total = model.loss_and_grads(x, y, loss, loss_at, per_example=True).dh
    long = total
    if loss_at == "all":  # the same engine call, with the last step's loss alone
        long = model.loss_and_grads(x, y[-1], loss, "last", per_example=True).dh
    steps = total.shape[0]
    findings = []  # (value, description)
    for kind, engine, scaled in (("total", total, ref.total), ("long-range", long, ref.long)):
        err, n, idx = agreement(engine, scaled, floor)
        findings.append((err / rtol, err, n, where(f"{kind} gradient", idx, steps)))
    bound = GAMMA[model.activation] * sigma_max(model.params["W_r"]) + float(model.skip)
    log_bound = np.log(bound) if bound > 0 else -np.inf
    ratio, idx = step_ratio(ref.long.log, log_bound)
    worst_ratio = (ratio, where("reference per-step factor", idx, steps))
    with np.errstate(divide="ignore"):
        engine_log = np.log(norm(long))
    engine_log[engine_log < floor * LN10] = -np.inf  # float64 does not hold these
    ratio, idx = step_ratio(engine_log, log_bound)
    if ratio > worst_ratio[0]:
        worst_ratio = (ratio, where("engine per-step factor", idx, steps))
    return combine(findings, worst_ratio, rtol)


def check_attention(model, x, y, loss: str, loss_at: str, ref) -> SelfCheck:
    rtol, floor = RTOL[model.dtype], FLOOR[model.dtype]
    total = model.loss_and_grads(x, y, loss, loss_at, per_example=True).de
    long = total
    if loss_at == "all":
        long = model.loss_and_grads(x, y[-1], loss, "last", per_example=True).de
    steps = total.shape[0]
    findings = []
    for kind, engine, scaled in (("total", total, ref.total), ("long-range", long, ref.long)):
        err, n, idx = agreement(engine, scaled, floor)
        findings.append((err / rtol, err, n, where(f"{kind} gradient at e_t", idx, steps)))
    return combine(findings, (float("nan"), "no bound applies to attention"), rtol)


def combine(findings, worst_ratio, rtol: float) -> SelfCheck:
    _, err, _, text = max(findings, key=lambda f: f[0])
    compared = sum(f[2] for f in findings)
    ratio, ratio_text = worst_ratio
    if ratio > 1.0 + BOUND_RTOL and err <= rtol:
        text = ratio_text
    elif ratio > 1.0 + BOUND_RTOL:
        text = f"{text}; {ratio_text}"
    return SelfCheck(err, compared, ratio, text, rtol)
