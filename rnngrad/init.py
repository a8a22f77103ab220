"""Initial parameters of the models, and the generator they are drawn from.

RNN (`init_params`; all drawn from one np.random.Generator, in the order W_e, W_r, W_u):

    W_e (H, D)  N(0, 1/D)        a one-hot input drives each unit with variance 1/D
    W_r (H, H)  see RECURRENT_INITS, default "spectral_radius" with scale 1.0
    b   (H,)    0
    W_u (C, H)  N(0, 1/H)        scores start with variance ≈ mean h²  (≤ 1)
    c   (C,)    0

The initialisations of Pascanu, Mikolov & Bengio 2013's code (`init` other than "scaled",
INITS; every bias 0, standard deviations, read in their RNN.py):

    sigmoid     W_e, W_r, W_u  N(0, 0.01²)
    basic_tanh  W_e, W_r, W_u  N(0, 0.1²)
    smart_tanh  W_e, W_u       N(0, 0.01²); W_r: N(0, 0.01²) entries, of which each unit keeps
                its outgoing weights to 15 random units (15 non-zero entries in each column of
                W_r, which is a row of their W_hh = W_rᵀ), rescaled so that ρ(W_r) = 0.95

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

from . import checks
from .checks import BadValue

RECURRENT_INITS = {
    "spectral_radius": "N(0, 1/H) entries, rescaled so that ρ(W_r) = scale",
    "singular_value": "N(0, 1/H) entries, rescaled so that σ_max(W_r) = scale",
    "orthogonal": "scale · Q, Q a Haar-random orthogonal matrix (every singular value = scale)",
    "identity": "scale · I (IRNN, Le et al. 2015, proposed for ReLU units; here a probe)",
}


INITS = {
    "scaled": "W_e N(0, 1/D), W_u N(0, 1/H), W_r by recurrent_init and recurrent_scale",
    "sigmoid": "every weight N(0, 0.01²) (Pascanu et al. 2013's code, for sigmoid units)",
    "basic_tanh": "every weight N(0, 0.1²) (Pascanu et al. 2013's code)",
    "smart_tanh": "W_e, W_u N(0, 0.01²); W_r sparse (15 per unit), ρ(W_r) = 0.95 (same code)",
}
SMART_TANH_FANOUT = 15  # non-zero outgoing recurrent weights per unit in smart_tanh
SMART_TANH_RADIUS = 0.95


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
    return rnn_params(w_e, w_r, w_u, dtype)


def draw_params(
    init: str,
    recurrent_init: str,
    recurrent_scale: float,
    sizes: tuple[int, int, int],
    rng: np.random.Generator,
    dtype: str,
) -> dict[str, np.ndarray]:
    """The RNN's initial parameters by `init` (INITS), its arguments checked by name."""
    checks.choice("init", init, tuple(INITS))
    checks.choice("recurrent_init", recurrent_init, tuple(RECURRENT_INITS))
    scale = checks.positive_float("recurrent_scale", recurrent_scale)
    if init == "scaled":
        return init_params(*sizes, rng, recurrent_init, scale, dtype)
    if recurrent_init != "spectral_radius" or scale != 1.0:
        value = recurrent_init if recurrent_init != "spectral_radius" else scale
        name = "recurrent_init" if recurrent_init != "spectral_radius" else "recurrent_scale"
        raise BadValue(name, value, f"expected its default with init={init!r}, which draws W_r")
    return pascanu_params(init, *sizes, rng, dtype)


def pascanu_params(
    kind: str,
    input_size: int,
    hidden_size: int,
    output_size: int,
    rng: np.random.Generator,
    dtype: str = "float64",
) -> dict[str, np.ndarray]:
    """A fresh parameter dict drawn as one of Pascanu et al.'s inits (module docstring), in
    their order: W_e, W_r (and its sparsity pattern), W_u."""
    d, h, c = input_size, hidden_size, output_size
    std = 0.1 if kind == "basic_tanh" else 0.01
    w_e = std * rng.standard_normal((h, d))
    w_hh = std * rng.standard_normal((h, h))  # their W_hh: row i holds unit i's outgoing weights
    if kind == "smart_tanh":
        for row in w_hh:
            row[rng.permutation(h)[SMART_TANH_FANOUT:]] = 0.0
        w_hh *= SMART_TANH_RADIUS / spectral_radius(w_hh)
    w_u = std * rng.standard_normal((c, h))
    return rnn_params(w_e, w_hh.T, w_u, dtype)


def rnn_params(w_e: np.ndarray, w_r: np.ndarray, w_u: np.ndarray, dtype: str) -> dict:
    """The RNN's parameter dict from its weights, with zero biases b and c, contiguous in
    `dtype`."""
    hidden, classes = w_r.shape[0], w_u.shape[0]
    params = {"W_e": w_e, "W_r": w_r, "b": np.zeros(hidden), "W_u": w_u, "c": np.zeros(classes)}
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
