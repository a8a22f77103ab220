"""The gradient profile of a network on a fixed batch, the state it runs through, the
self-check of its backward, and the numbers that summarise the profile.

Profiles over t = 1..T, batch means of per-example norms, log10, computed by the log-space
reference (reference.py), so they are exact at any depth (docs/derivations.md §8, §11):

- total:      (1/B) Σ_b ‖∂J_b/∂h_{t,b}‖, every loss term and every path;
- long-range: (1/B) Σ_b ‖∂ℓ_{T,b}/∂h_{t,b}‖, only what reaches h_t from the last step's loss
  (the same as the total when the loss is at the last step only);
- input:      (1/B) Σ_b ‖∂J_b/∂(W_e x_{t,b})‖ (attention: ‖∂J_b/∂e_{t,b}‖), the total gradient
  reaching each step's input.

The state (RNN): ‖h_t‖ (mean over the batch) and the saturation at step t, the fraction of
(example, unit) pairs with f'(a_t) < 0.1 max f' (tanh: |tanh a| > 0.949; sigmoid: |a| > 3.6).

Summaries, from the long-range profile p_t, with distance d = T - t from the loss step:

- decay_factor: 10^slope of the least-squares line of log10 p_t against d (a typical factor
  per step back; the slope is a weighted mean of the per-step log factors, so it can never
  exceed the largest of them);
- log10_ratio: log10(p_1 / p_T);
- fall_1e6, fall_1e16: the smallest d at which p_{T-d} < 1e-6 p_T (resp. 1e-16 p_T); NaN when
  the profile never falls that far within the sequence (the distance is then > T - 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import reference
from .logspace import LN10, log_mean_exp, norm
from .reference import GAMMA
from .selfcheck import SelfCheck

SATURATION = 0.1  # a unit is saturated where f'(a) < 10 % of max f' (tanh: |tanh a| > 0.949)
FALLS = {"fall_1e6": 6.0, "fall_1e16": 16.0}  # decades below the loss step's value


@dataclass
class Probe:
    """The profiles of one batch (the parameters are not changed)."""

    log10_total: np.ndarray  # (T,)
    log10_long: np.ndarray  # (T,)
    log10_dx: np.ndarray  # (T,)
    check: SelfCheck  # the engine's backward against the reference, and the bound
    state_norm: np.ndarray | None = None  # (T,) mean_b ‖h_t‖ (RNN only)
    saturation_t: np.ndarray | None = None  # (T,) saturated fraction at step t (RNN only)

    @classmethod
    def of_rnn(cls, ref: reference.RNNReference, check: SelfCheck, activation: str) -> Probe:
        """An RNN's profiles and state, from its reference (reference.rnn_reference)."""
        log10_dx = log_mean_exp(ref.log_dx, axis=1) / LN10
        state = norm(ref.h[1:]).mean(axis=1)  # (T,)
        threshold = np.log(SATURATION * GAMMA[activation])
        saturation_t = (ref.log_fprime < threshold).mean(axis=(1, 2))
        total, long = ref.total.log10_mean(), ref.long.log10_mean()
        return cls(total, long, log10_dx, check, state, saturation_t)

    @classmethod
    def of_attention(cls, ref: reference.AttentionReference, check: SelfCheck) -> Probe:
        """The attention model's profiles: its input gradient is its total one, at e_t."""
        total = ref.total.log10_mean()
        return cls(total, ref.long.log10_mean(), total, check)

    @property
    def saturation(self) -> float:
        """Saturated fraction over every (t, b, unit); NaN for attention."""
        return float(np.mean(self.saturation_t)) if self.saturation_t is not None else np.nan

    def scalars(self) -> dict[str, float]:
        """What this profile adds to an evaluation's scalars (rnngrad.training): the summaries
        of the long-range profile, the state and the bound's ratio where the model has a
        recurrent state, and the self-check's verdict."""
        out = summarise(self.log10_long)
        if self.state_norm is not None:  # a recurrent state, whose steps Pascanu's bound limits
            out["saturation"] = self.saturation
            out["state_norm_last"] = float(self.state_norm[-1])
            out["selfcheck_bound_ratio"] = self.check.bound_ratio
        out["selfcheck_rel_err"] = self.check.rel_err
        out["selfcheck_ok"] = float(self.check.ok)
        return out


def probe(model, inputs, targets, loss: str, loss_at: str) -> Probe:
    """Profiles, state and self-check of one batch: `model.probe` (rnngrad.model.Model)."""
    return model.probe(inputs, targets, loss, loss_at)


def summarise(log10_profile: np.ndarray) -> dict[str, float]:
    """decay_factor, log10_ratio, fall_1e6 and fall_1e16 of a log10 profile (module doc)."""
    p = np.asarray(log10_profile, dtype=np.float64)
    steps = len(p)
    distance = steps - 1 - np.arange(steps)  # d = T - t
    ok = np.isfinite(p)
    out = {"decay_factor": np.nan, "log10_ratio": np.nan}
    if ok.sum() >= 2:
        slope = np.polyfit(distance[ok], p[ok], 1)[0]
        out["decay_factor"] = float(10.0**slope)
    if steps >= 2 and np.isfinite(p[-1]):  # no gradient at the loss step: no ratio
        out["log10_ratio"] = float(p[0] - p[-1])
    for key, decades in FALLS.items():
        below = np.flatnonzero(~(p[::-1] >= p[-1] - decades))  # distances with p < 10^-k p_T
        out[key] = float(below[0]) if np.isfinite(p[-1]) and len(below) else np.nan
    return out
