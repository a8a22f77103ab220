"""Plain SGD and global-norm gradient clipping (Pascanu, Mikolov & Bengio 2013, Alg. 1).

Both are explicit: nothing is clipped unless `clip_grad_norm` is called, or `sgd_update` is
given a threshold. Each function checks its arguments (rnngrad.checks), then computes.
"""

from __future__ import annotations

import numpy as np

from . import checks
from .functional import joint_norm


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """‖g‖ = sqrt(Σ_θ ‖∂J/∂θ‖²) over all parameters, safe from overflow and underflow."""
    return joint_norm(checks.float_arrays("grads", grads).values())


def clip_grad_norm(
    grads: dict[str, np.ndarray], max_norm: float, norm: float | None = None
) -> float:
    """g ← g · θ/‖g‖ when ‖g‖ > θ, in place. Returns ‖g‖ before clipping (pass `norm` if it
    is already known, to save computing it again).

    A non-finite norm is returned unchanged and nothing is scaled: the caller decides
    what a diverged step means.
    """
    threshold = checks.positive_float("max_norm", max_norm)
    checks.float_arrays("grads", grads, writable=True)
    norm = joint_norm(grads.values()) if norm is None else norm
    if np.isfinite(norm) and norm > threshold:
        for g in grads.values():
            g *= threshold / norm
    return norm


def sgd_step(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
    """θ ← θ - lr · ∂J/∂θ, in place."""
    rate = checks.positive_float("lr", lr)
    checks.grads_of(params, grads)
    for name, p in params.items():
        p -= rate * grads[name]


def sgd_update(
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    lr: float,
    clip: float | None = None,
) -> float:
    """One SGD update as in Pascanu et al.'s Algorithm 1: ‖g‖; g ← g · θ/‖g‖ when `clip` = θ
    is given and ‖g‖ > θ; θ ← θ - lr · g, all in place. Returns ‖g‖ before clipping.

    A non-finite ‖g‖ is returned and nothing is changed: the caller decides what a diverged
    step means.
    """
    rate = checks.positive_float("lr", lr)
    threshold = None if clip is None else checks.positive_float("clip", clip)
    checks.grads_of(params, grads, writable=threshold is not None)
    norm = joint_norm(grads.values())
    if not np.isfinite(norm):
        return norm
    if threshold is not None and norm > threshold:
        for g in grads.values():
            g *= threshold / norm
    for name, p in params.items():
        p -= rate * grads[name]
    return norm
