"""Initial parameters of the models, and the generator they are drawn from.

RNN (`init_params`; all drawn from one np.random.Generator, in the order W_e, W_r, W_u):

    W_e (H, D)  N(0, 1/D)        a one-hot input drives each unit with variance 1/D
    W_r (H, H)  see RECURRENT_INITS, default "spectral_radius" with scale 1.0
    b   (H,)    0
    W_u (C, H)  N(0, 1/H)        scores start with variance ≈ mean h²  (≤ 1)
    c   (C,)    0

The recurrent matrix decides whether gradients vanish (Pascanu et al. 2013: with
γ = 1 for tanh and 1/4 for sigmoid, σ_max(W_r) < 1/γ is sufficient for vanishing),
so its scale is explicit and can be set by spectral radius or by largest singular value.

Attention (`attention_params`; drawn in the order W_e, W_q, W_k, W_v, W_u):

    W_e (d, D)            N(0, 1/D)
    W_q, W_k, W_v (d, d)  N(0, 1/d)
    W_u (C, d)            N(0, 1/d)
    c   (C,)              0
"""

from __future__ import annotations

import numpy as np

from .checks import BadValue

RECURRENT_INITS = {
    "spectral_radius": "N(0, 1/H) entries, rescaled so that ρ(W_r) = scale",
    "singular_value": "N(0, 1/H) entries, rescaled so that σ_max(W_r) = scale",
    "orthogonal": "scale · Q, Q a Haar-random orthogonal matrix (every singular value = scale)",
    "identity": "scale · I (IRNN, Le et al. 2015, proposed for ReLU units; here a probe)",
}


def generator(seed: int | np.random.Generator) -> np.random.Generator:
    """`seed` itself if it is a Generator, else a fresh one seeded with the int `seed` >= 0."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise BadValue("seed", seed, "expected an int >= 0 or a np.random.Generator")
    return np.random.default_rng(int(seed))


def spectral_radius(w: np.ndarray) -> float:
    """ρ(W) = max |eigenvalue|."""
    return float(np.abs(np.linalg.eigvals(w)).max())


def sigma_max(w: np.ndarray) -> float:
    """Largest singular value σ_max(W) = ‖W‖₂."""
    return float(np.linalg.norm(w, 2))


def recurrent_matrix(h: int, kind: str, scale: float, rng: np.random.Generator) -> np.ndarray:
    """W_r (h, h) in float64, by one of RECURRENT_INITS."""
    if kind == "identity":
        return scale * np.eye(h)
    g = rng.standard_normal((h, h))
    if kind == "orthogonal":
        q, r = np.linalg.qr(g)
        return scale * q * np.sign(np.diag(r))  # sign fix makes Q Haar-distributed
    w = g / np.sqrt(h)
    measured = spectral_radius(w) if kind == "spectral_radius" else sigma_max(w)
    return w * (scale / measured)


def init_params(
    input_size: int,
    hidden_size: int,
    output_size: int,
    rng: np.random.Generator,
    recurrent_init: str = "spectral_radius",
    recurrent_scale: float = 1.0,
    dtype: str = "float64",
) -> dict[str, np.ndarray]:
    """A fresh parameter dict {W_e, W_r, b, W_u, c} (see the module docstring)."""
    d, h, c = input_size, hidden_size, output_size
    w_e = rng.standard_normal((h, d)) / np.sqrt(d)
    w_r = recurrent_matrix(h, recurrent_init, recurrent_scale, rng)
    w_u = rng.standard_normal((c, h)) / np.sqrt(h)
    params = {"W_e": w_e, "W_r": w_r, "b": np.zeros(h), "W_u": w_u, "c": np.zeros(c)}
    return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in params.items()}


def attention_params(
    input_size: int,
    size: int,
    output_size: int,
    rng: np.random.Generator,
    dtype: str = "float64",
) -> dict[str, np.ndarray]:
    """A fresh parameter dict {W_e, W_q, W_k, W_v, W_u, c} for model size d = `size`."""
    params = {"W_e": rng.standard_normal((size, input_size)) / np.sqrt(input_size)}
    for name in ("W_q", "W_k", "W_v"):
        params[name] = rng.standard_normal((size, size)) / np.sqrt(size)
    params["W_u"] = rng.standard_normal((output_size, size)) / np.sqrt(size)
    params["c"] = np.zeros(output_size)
    return {k: v.astype(dtype) for k, v in params.items()}
