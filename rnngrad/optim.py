"""Plain SGD and global-norm gradient clipping (Pascanu, Mikolov & Bengio 2013, Alg. 1).

Both are explicit: nothing is clipped unless `clip_grad_norm` is called.
"""

from __future__ import annotations

import numpy as np

from . import checks
from .functional import norms


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """‖g‖ = sqrt(Σ_θ ‖∂J/∂θ‖²) over all parameters, safe from overflow and underflow."""
    checks.float_arrays("grads", grads)
    if not grads:
        return 0.0
    with np.errstate(over="ignore", under="ignore"):
        flat = [np.ravel(g).astype(np.float64, copy=False) for g in grads.values()]
        squares = sum(float(np.dot(g, g)) for g in flat)  # one pass per array
    info = np.finfo(np.float64)
    if info.tiny / info.eps <= squares <= info.max:  # no square lost or overflowed
        return float(np.sqrt(squares))
    per_param = np.array([norms(np.ravel(g).astype(np.float64)) for g in grads.values()])
    return float(norms(per_param))


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
    norm = global_norm(grads) if norm is None else norm
    if np.isfinite(norm) and norm > threshold:
        for g in grads.values():
            g *= threshold / norm
    return norm


def sgd_step(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
    """θ ← θ - lr · ∂J/∂θ, in place."""
    rate = checks.positive_float("lr", lr)
    checks.float_arrays("params", params, writable=True)
    checks.float_arrays("grads", grads)
    missing = set(params) ^ set(grads)
    if missing:
        raise ValueError(
            f"grads: expected the keys of params {sorted(params)}; got {sorted(grads)}"
        )
    for name, p in params.items():
        g = grads[name]
        if np.shape(g) != np.shape(p):
            raise ValueError(f"grads[{name!r}]: expected shape {np.shape(p)}; got {np.shape(g)}")
        p -= rate * g
