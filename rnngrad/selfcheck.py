"""The self-check: the engine's own backward held against the reference, and every example's
per-step factor against Pascanu's bound. Run at every profile evaluation; it fails loudly
when the engine's backward is wrong (docs/derivations.md §12).

1. Agreement. For every step t and example b where the reference's ‖∂J_b/∂h_t‖ is above the
   floor (1e-280 in float64, so that the engine's float64 value exists), the engine's vector
   must match: ‖dh_engine − dh_ref‖ <= RTOL ‖dh_ref‖. Below the floor the engine's norm must
   stay below it too (it may underflow to 0, it may not be large); above 1e300 (an exploding
   network) the engine may overflow and is not compared. Steps behind a unit whose
   f'(a) is itself below the dtype's range (|a| > 345 for tanh in float64: only a network
   blowing up has such units; relu's f' = 0 is exact and does not count) are not compared:
   the engine's f' is 0 there, by design of its dtype, not by a mistake in its backward. Checked for the total,
   ∂J_b/∂h_t from `loss_and_grads` as training calls it, and for the long-range part, from
   `loss_and_grads` with the loss at the last step alone. The parameter gradients of the
   same call must match the reference's sums of the same terms, within RTOL of a bound on the
   terms' sizes (the scale of their rounding). Attention: ∂J_b/∂e_t, likewise.
2. The bound (RNN). For every example and every step,
   ‖∂ℓ_T/∂h_{t-1}‖ <= (γ σ_max(W_r) [+ 1 with the skip]; (1 − α) + α γ σ_max(W_r) with
   leak α) ‖∂ℓ_T/∂h_t‖ · (1 + BOUND_RTOL),
   from the reference at any depth and from the engine wherever its dtype holds both values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .logspace import LN10, Scaled, norm

RTOL = {"float64": 1e-6, "float32": 1e-3}  # agreement, relative to the reference's norm
FLOOR = {"float64": -280.0, "float32": -30.0}  # log10 of the smallest norm compared
CEILING = {"float64": 300.0, "float32": 36.0}  # log10 of the largest: beyond, the engine overflows
FPRIME_FLOOR = {"float64": -300.0, "float32": -35.0}  # log10 of the smallest f' the engine holds
BOUND_RTOL = {"float64": 1e-9, "float32": 1e-5}  # rounding allowance at the bound exactly


@dataclass
class SelfCheck:
    rel_err: float  # largest relative disagreement (vectors and parameter gradients)
    compared: int  # vectors (t, b) compared
    bound_ratio: float  # largest per-example per-step factor / bound (NaN: no bound applies)
    worst: str  # where the largest disagreement or factor is, in words
    rtol: float
    bound_rtol: float = BOUND_RTOL["float64"]

    @property
    def bound_ok(self) -> bool:
        return not (self.bound_ratio > 1.0 + self.bound_rtol)  # NaN: attention, no bound

    @property
    def ok(self) -> bool:
        return self.rel_err <= self.rtol and self.bound_ok

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
        if not self.bound_ok:
            excess = self.bound_ratio - 1.0
            parts.append(f"a per-step factor exceeds Pascanu's bound by {excess:.3g} (relative)")
        return "self-check FAILED: " + " and ".join(parts) + f" ({self.worst})"


@dataclass
class Disagreement:
    """One comparison: its error relative to its tolerance decides which one is reported."""

    err: float
    tolerance: float
    compared: int
    place: str


def agreement(engine: np.ndarray, ref: Scaled, dtype: str, reach=None):
    """Largest relative disagreement of engine vectors (T, B, n) with the reference, the
    number compared, and the (t index, b) of the worst. `reach` (T, B), if given, marks the
    vectors the engine's dtype can compute at all."""
    floor = FLOOR[dtype]
    reach = (ref.log < CEILING[dtype] * LN10) & (True if reach is None else reach)
    above = (ref.log > floor * LN10) & reach
    with np.errstate(all="ignore"):
        scaled = engine * np.exp(-np.where(above, ref.log, 0.0))[..., None]  # engine / ‖ref‖
        err = np.where(above, norm(scaled - ref.unit), 0.0)
        size = norm(np.asarray(engine, dtype=np.float64))
    err[above & (~np.isfinite(err) | ~np.isfinite(size))] = np.inf
    below = ~(ref.log > floor * LN10) & reach
    err[below & (size > 10.0 ** (floor + 1))] = np.inf  # the reference is below the floor
    worst = np.unravel_index(np.argmax(err), err.shape)
    return float(err[worst]), int(above.sum()), worst


def reachable(log_fprime: np.ndarray, dtype: str) -> np.ndarray:
    """(T, B): True where ∂J/∂h_t does not pass back through a unit whose f'(a) is below the
    dtype's range (the engine's f' is 0 there); δ_{t-1} is the first vector behind f'(a_t)."""
    # relu's f' = 0 is exactly 0 in every dtype (log -inf): only finite values can be extreme
    tiny = np.isfinite(log_fprime) & (log_fprime < FPRIME_FLOOR[dtype] * LN10)
    extreme = tiny.any(axis=-1)  # (T, B)
    steps = extreme.shape[0]
    index = np.arange(steps)[:, None]
    last = np.where(extreme, index, -1).max(axis=0)  # (B,) the latest such step, or -1
    return index >= last[None, :]


def step_ratio(log_norms: np.ndarray, log_bound: float) -> tuple[float, tuple | None]:
    """Largest (‖v_{t-1}‖ / ‖v_t‖) / bound over t and b, from natural-log norms (T, B)."""
    with np.errstate(invalid="ignore"):
        step = log_norms[:-1] - log_norms[1:]  # log of the factor from t to t-1
    step = np.where(np.isfinite(step), step, -np.inf)
    if step.size == 0 or not np.isfinite(step).any():
        return 0.0, None
    worst = np.unravel_index(np.argmax(step), step.shape)
    return float(np.exp(step[worst] - log_bound)), worst


def position(kind: str, index: tuple | None, steps: int) -> str:
    """ "total gradient at t = 37 of 100, example 5" for an index (t - 1, b)."""
    if index is None:
        return kind
    return f"{kind} at t = {index[0] + 1} of {steps}, example {index[1]}"


def vectors(kind: str, engine: np.ndarray, ref: Scaled, dtype: str, reach=None) -> Disagreement:
    err, n, idx = agreement(engine, ref, dtype, reach)
    return Disagreement(err, RTOL[dtype], n, position(kind, idx, engine.shape[0]))


def parameters(engine: dict, ref_grads: dict, sizes: dict, dtype: str) -> Disagreement:
    """The engine's ∂J/∂θ against the reference's, relative to the sum of the terms' sizes."""
    worst = Disagreement(0.0, RTOL[dtype], 0, "parameter gradients")
    for name, want in ref_grads.items():
        got = np.asarray(engine[name], dtype=np.float64)
        scale = float(sizes[name])
        if not 0.0 < scale < 10.0 ** CEILING[dtype]:  # nothing to compare, or beyond the dtype
            continue
        with np.errstate(all="ignore"):
            err = float(np.linalg.norm(got - want)) / scale
        err = err if np.isfinite(err) else np.inf
        if err > worst.err:
            worst = Disagreement(err, RTOL[dtype], 0, f"parameter gradient ∂J/∂{name}")
    return worst


def check_rnn(out, long: np.ndarray, ref, dtype: str, bound: float) -> SelfCheck:
    """The engine's pass `out` (`loss_and_grads` with per_example=True, as training calls
    it) and its long-range ∂ℓ_T/∂h_t (T, B, H) against the reference `ref`; every example's
    per-step factor against Pascanu's `bound` (reference.pascanu_bound)."""
    reach = reachable(ref.log_fprime, dtype)
    found = [
        vectors("total gradient", out.dh, ref.total, dtype, reach),
        vectors("long-range gradient", long, ref.long, dtype, reach),
        parameters(out.grads, ref.grads, ref.sizes, dtype),
    ]
    log_bound = np.log(bound) if bound > 0 else -np.inf
    steps = out.dh.shape[0]
    ratio, idx = step_ratio(ref.long.log, log_bound)
    worst_ratio = (ratio, position("reference per-step factor", idx, steps))
    with np.errstate(divide="ignore"):
        engine_log = np.log(norm(np.asarray(long, dtype=np.float64)))
    engine_log[engine_log < FLOOR[dtype] * LN10] = -np.inf  # the dtype does not hold these
    ratio, idx = step_ratio(engine_log, log_bound)
    if ratio > worst_ratio[0]:
        worst_ratio = (ratio, position("engine per-step factor", idx, steps))
    return combine(found, worst_ratio, dtype)


def check_attention(total: np.ndarray, long: np.ndarray, ref, dtype: str) -> SelfCheck:
    """The engine's ∂J_b/∂e_t (T, B, d) and its long-range part against the reference."""
    found = [
        vectors("total gradient at e_t", total, ref.total, dtype),
        vectors("long-range gradient at e_t", long, ref.long, dtype),
    ]
    return combine(found, (float("nan"), "no bound applies to attention"), dtype)


def combine(found: list[Disagreement], worst_ratio, dtype: str) -> SelfCheck:
    worst = max(found, key=lambda d: d.err / d.tolerance)
    ratio, ratio_place = worst_ratio
    check = SelfCheck(
        worst.err,
        sum(d.compared for d in found),
        ratio,
        worst.place,
        RTOL[dtype],
        BOUND_RTOL[dtype],
    )
    if not check.bound_ok:
        check.worst = ratio_place if worst.err <= check.rtol else f"{worst.place}; {ratio_place}"
    return check
