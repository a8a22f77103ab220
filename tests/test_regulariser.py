"""Pascanu et al. 2013's regulariser Ω (rnngrad/regulariser.py), checked against a direct
computation from explicit step Jacobians, and its gradient against finite differences of Ω
with δ, a and h frozen, in every combination of activation × units × loss × loss_at × input.

Run: .venv/bin/pytest tests/test_regulariser.py
"""

import numpy as np
import pytest
from fd import numeric_grad, rel_err
from test_gradcheck import VARIANTS, away_from_kinks, make_batch, model

from rnngrad import RNN
from rnngrad.bptt import forward
from rnngrad.functional import activation_grad
from rnngrad.regulariser import FLOOR, vanishing_omega

LAMBDA = 0.7
COMBOS = [(*v, tb) for v in VARIANTS for tb in [(4, 2), (3, 1), (5, 3)]]  # tb: (T, B)


def frozen_omega(w_r, delta, fprime, skip, leak):
    """Ω of the definition, from the explicit Jacobian J_t = α diag(f'(a_t)) W_r + c I and the
    frozen δ_t (T, B, H), f'(a_t) (T, B, H): u = J_tᵀ δ_t for t = 2..T."""
    hidden = w_r.shape[0]
    carry = 1.0 if skip else 1.0 - leak
    terms = []
    for t in range(1, delta.shape[0]):  # 0-based t = 1..T-1 is the step t = 2..T
        for b in range(delta.shape[1]):
            jac = leak * fprime[t, b][:, None] * w_r + carry * np.eye(hidden)
            u = jac.T @ delta[t, b]
            size = delta[t, b] @ delta[t, b]
            if size >= 1e-20:
                terms.append((u @ u / size - 1.0) ** 2)
    return float(np.mean(terms)) if terms else 0.0


@pytest.mark.parametrize("activation,units,loss,loss_at,kind,tb", COMBOS)
def test_omega_and_its_gradient(activation, units, loss, loss_at, kind, tb):
    rnn = model(activation, units, seed=5)
    x, y = make_batch(np.random.default_rng(13), *tb, loss, loss_at, kind)
    away_from_kinks(rnn, x)
    plain = rnn.loss_and_grads(x, y, loss=loss, loss_at=loss_at, per_example=True)
    out = rnn.loss_and_grads(x, y, loss=loss, loss_at=loss_at, vanishing_reg=LAMBDA)
    assert plain.omega is None
    a = forward(rnn.params, x, activation, rnn.skip, leak=rnn.leak).a
    fprime = activation_grad(a, activation)
    w_r = rnn.params["W_r"].copy()

    def omega():
        return frozen_omega(w_r, plain.dh, fprime, rnn.skip, rnn.leak)

    assert out.omega == pytest.approx(omega(), rel=1e-10)
    assert out.omega > 1e-6  # a live check: this network does not preserve norms
    assert out.loss == plain.loss  # Ω changes the gradient, not J
    for name in ("W_e", "b", "W_u", "c"):
        np.testing.assert_array_equal(out.grads[name], plain.grads[name])
    reg_grad = (out.grads["W_r"] - plain.grads["W_r"]) / LAMBDA
    num = numeric_grad(omega, w_r)  # δ, a, h held constant: only the explicit W_r varies
    assert np.linalg.norm(num) > 0
    assert rel_err(num, reg_grad) < 1e-6


def test_one_step_has_no_pair_and_a_zero_omega():
    rnn = RNN(3, 4, 3)
    out = rnn.loss_and_grads(np.array([[0, 1]]), np.array([[0, 2]]), vanishing_reg=1.0)
    plain = rnn.loss_and_grads(np.array([[0, 1]]), np.array([[0, 2]]))
    assert out.omega == 0.0
    np.testing.assert_array_equal(out.grads["W_r"], plain.grads["W_r"])


@pytest.mark.parametrize("skip", [False, True])
def test_a_norm_preserving_step_has_omega_zero(skip):
    """W_e = b = 0 keeps every h_t = 0 where tanh' = 1: with W_r orthogonal, J_t = W_r and
    every ratio is exactly 1 (plain). With the skip connection J_t = W_r + I does not preserve
    norms, and Ω > 0."""
    rnn = RNN(2, 6, 3, recurrent_init="orthogonal", skip=skip, seed=2)
    rnn.params["W_e"][:] = 0.0
    x = np.zeros((8, 3), dtype=int)
    out = rnn.loss_and_grads(x, np.array([0, 1, 2]), loss_at="last", vanishing_reg=1.0)
    if skip:
        assert out.omega > 0.1
    else:
        assert out.omega == pytest.approx(0.0, abs=1e-24)


def test_pairs_below_the_floor_are_left_out():
    """‖δ‖² < 1e-20: the pair counts neither in the sum nor in |K| (its ratio, scale-free, would
    otherwise count like any other)."""
    rng = np.random.default_rng(0)
    w_r = rng.standard_normal((5, 5))
    dh = rng.standard_normal((4, 2, 5))
    dh[2, 1] *= 1e-11  # ‖δ‖² ~ 5e-22
    assert dh[2, 1] @ dh[2, 1] < FLOOR
    g = 0.5 * dh  # f' = 0.5 everywhere
    omega, _ = vanishing_omega(w_r, dh, g, carry=0.0)
    u = g[1:] @ w_r  # W_rᵀ g as rows, t = 2..4
    ratios = (u * u).sum(-1) / (dh[1:] * dh[1:]).sum(-1)  # (3, 2)
    kept = np.ones((3, 2), dtype=bool)
    kept[1, 1] = False  # dh[2, 1] is step t = 3: index 1 of t = 2..4
    assert omega == pytest.approx(np.mean((ratios[kept] - 1.0) ** 2), rel=1e-12)
    assert omega != pytest.approx(np.mean((ratios - 1.0) ** 2), rel=1e-3)  # it would differ
