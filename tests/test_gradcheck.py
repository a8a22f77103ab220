"""Finite-difference checks of every gradient the engine computes.

For every combination of activation (tanh, sigmoid, relu) × units (plain, skip, leaky) × loss ×
loss_at × input kind, on small
shapes including T = 1 and B = 1, central differences in float64 must agree with the
hand-derived BPTT to a relative error below 1e-6: for each parameter, and for the total
derivative ∂J/∂h_t itself (obtained by perturbing h_t inside the forward pass).

Run: make test  (or .venv/bin/pytest tests/test_gradcheck.py)
"""

import itertools

import numpy as np
import pytest
from fd import numeric_grad, rel_err

from rnngrad import RNN
from rnngrad.bptt import backward, forward, output_scores
from rnngrad.functional import loss_and_grad, norms

D, H, C = 3, 4, 3
TOL = 1e-6

UNITS = {"plain": (False, 1.0), "skip": (True, 1.0), "leak 0.6": (False, 0.6)}  # (skip, leak)
VARIANTS = list(  # activation × units × loss × loss_at × input kind
    itertools.product(
        ["tanh", "sigmoid", "relu"],
        list(UNITS),
        ["cross_entropy", "mse"],
        ["all", "last"],
        ["ids", "dense"],
    )
)
COMBOS = [(*v, tb) for v in VARIANTS for tb in [(1, 1), (4, 2), (3, 1), (1, 3)]]  # tb: (T, B)


def make_batch(rng, steps, batch, loss, loss_at, kind):
    if kind == "ids":
        x = rng.integers(0, D, size=(steps, batch))
    else:
        x = rng.standard_normal((steps, batch, D))
    lead = (steps, batch) if loss_at == "all" else (batch,)
    if loss == "cross_entropy":
        y = rng.integers(0, C, size=lead)
    else:
        y = rng.standard_normal((*lead, C))
    return x, y


def objective(rnn, x, y, loss, loss_at, h_shift=None):
    """J computed by a forward pass only (what the differences differentiate)."""
    trace = forward(rnn.params, x, rnn.activation, rnn.skip, h_shift=h_shift, leak=rnn.leak)
    s = output_scores(rnn.params, trace, loss_at)
    total, _ = loss_and_grad(s, y, loss)
    return total / x.shape[1]


def model(activation, units, seed):
    skip, leak = UNITS[units]
    rnn = RNN(D, H, C, activation, skip, seed, recurrent_scale=1.2, leak=leak)
    rng = np.random.default_rng(seed + 100)
    rnn.params["b"][:] = 0.3 * rng.standard_normal(H)  # nonzero biases, so b is checked too
    rnn.params["c"][:] = 0.3 * rng.standard_normal(C)
    return rnn


def away_from_kinks(rnn, x):
    """relu is not differentiable at a = 0: central differences are valid only where no
    pre-activation lies within reach of the step (none closer than 1e-4 here)."""
    if rnn.activation == "relu":
        a = forward(rnn.params, x, "relu", rnn.skip, leak=rnn.leak).a
        assert np.abs(a).min() > 1e-4
        if a.size >= 8:  # both of relu's pieces checked (4 units at T = B = 1 may agree)
            assert (a < 0).any() and (a > 0).any()


@pytest.mark.parametrize("activation,units,loss,loss_at,kind,tb", COMBOS)
def test_parameter_gradients(activation, units, loss, loss_at, kind, tb):
    rnn = model(activation, units, seed=len(COMBOS))
    x, y = make_batch(np.random.default_rng(7), *tb, loss, loss_at, kind)
    away_from_kinks(rnn, x)
    out = rnn.loss_and_grads(x, y, loss=loss, loss_at=loss_at)
    assert out.loss == pytest.approx(objective(rnn, x, y, loss, loss_at), rel=1e-14)
    for name, p in rnn.params.items():
        num = numeric_grad(lambda: objective(rnn, x, y, loss, loss_at), p)
        assert rel_err(num, out.grads[name]) < TOL, name
        assert np.linalg.norm(num) > 0 or name in ("W_r",), name  # a live check, not 0 = 0


@pytest.mark.parametrize("activation,units,loss,loss_at,kind,tb", COMBOS)
def test_hidden_state_gradients(activation, units, loss, loss_at, kind, tb):
    """∂J/∂h_t (total derivative) by perturbing h_t; and dh_norms from it."""
    rnn = model(activation, units, seed=3)
    x, y = make_batch(np.random.default_rng(11), *tb, loss, loss_at, kind)
    away_from_kinks(rnn, x)
    steps, batch = tb
    trace = forward(rnn.params, x, activation, rnn.skip, leak=rnn.leak)
    s = output_scores(rnn.params, trace, loss_at)
    _, ds = loss_and_grad(s, y, loss)
    _, dh = backward(rnn.params, trace, ds, activation, rnn.skip, leak=rnn.leak)  # ∂(Σ_b J_b)/∂h_t
    shift = np.zeros((steps, batch, H))
    num = numeric_grad(lambda: objective(rnn, x, y, loss, loss_at, h_shift=shift), shift)
    num *= batch  # J = (1/B) Σ_b J_b, and h_{t,b} reaches only J_b
    assert rel_err(num, dh) < TOL
    expected = np.linalg.norm(num, axis=-1).mean(axis=1)
    got = rnn.loss_and_grads(x, y, loss=loss, loss_at=loss_at).dh_norms
    assert got.shape == (steps,)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_profile_is_accurate_down_to_1e_minus_200():
    """A profile that decays geometrically to ~1e-200: the plain sum of squares would give 0
    below 1e-154. With W_e = b = 0 every h_t = 0, f'(0) = 1 for tanh, and W_r = r·Q with Q
    orthogonal, so ‖∂J/∂h_t‖ = r^(T-t) ‖∂J/∂h_T‖ exactly (up to rounding)."""
    steps, r = 201, 0.1
    rnn = RNN(2, 8, 3, recurrent_init="orthogonal", recurrent_scale=r, seed=1)
    rnn.params["W_e"][:] = 0.0
    x = np.zeros((steps, 4), dtype=int)
    y = np.array([0, 1, 2, 0])
    prof = rnn.loss_and_grads(x, y, loss_at="last").dh_norms
    expected = prof[-1] * r ** np.arange(steps - 1, -1, -1, dtype=float)
    assert prof[0] < 1e-199 and prof[0] > 0
    np.testing.assert_allclose(prof, expected, rtol=1e-12)
    # the naive computation really does fail here
    assert np.sqrt(np.sum(np.full(8, 1e-200) ** 2)) == 0.0
    assert norms(np.full((1, 8), 1e-200))[0] == pytest.approx(np.sqrt(8) * 1e-200, rel=1e-15)


@pytest.mark.parametrize(
    "activation,skip,leak", [("tanh", False, 1.0), ("sigmoid", True, 1.0), ("relu", False, 0.6)]
)
@pytest.mark.parametrize("loss_at", ["all", "last"])
def test_input_projection_profile(activation, skip, leak, loss_at):
    """dx_norms = (1/B) Σ_b ‖∂J_b/∂(W_e x_t)‖: with W_e = I and dense inputs, W_e x_t = x_t,
    so it is the norm of ∂J_b/∂x_t, checked by perturbing the inputs."""
    rnn = RNN(H, H, C, activation=activation, skip=skip, seed=5, leak=leak)
    rnn.params["W_e"][:] = np.eye(H)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 2, H))
    y = rng.integers(0, C, size=(4, 2) if loss_at == "all" else (2,))
    out = rnn.loss_and_grads(x, y, loss_at=loss_at)
    num = numeric_grad(lambda: objective(rnn, x, y, "cross_entropy", loss_at), x) * 2  # × B
    np.testing.assert_allclose(out.dx_norms, np.linalg.norm(num, axis=-1).mean(axis=1), rtol=1e-6)
