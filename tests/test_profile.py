"""The gradient profiles and their summaries (rnngrad/profile.py).

- The long-range profile log10 (1/B) Σ_b ‖∂ℓ_T/∂h_t‖, computed in log space, equals the
  engine's ∂J/∂h_t norms whenever only the last step has a loss, for every variant; and
  equals a direct backward pass of ℓ_T alone when every step has a loss.
- It stays exact far below float64's range (a profile down to 1e-600).
- Pascanu's bound holds step by step: p_{t-1}/p_t <= γ σ_max(W_r) (1 + γ σ_max with skip).
- decay_factor, log10_ratio and horizon on profiles whose answer is known.

Run: .venv/bin/pytest tests/test_profile.py
"""

import itertools

import numpy as np
import pytest

from rnngrad import RNN, sigma_max
from rnngrad.functional import cross_entropy, norms
from rnngrad.profile import GAMMA, probe, summarise
from rnngrad.rnn import backward, forward, output_scores

VARIANTS = list(itertools.product(["tanh", "sigmoid"], [False, True], ["cross_entropy", "mse"]))


def batch(rng, steps, size, loss, loss_at, classes=3, inputs=4):
    x = rng.integers(0, inputs, size=(steps, size))
    lead = (steps, size) if loss_at == "all" else (size,)
    y = (
        rng.integers(0, classes, size=lead)
        if loss == "cross_entropy"
        else rng.random((*lead, classes))
    )
    return x, y


@pytest.mark.parametrize("activation,skip,loss", VARIANTS)
def test_long_range_equals_the_total_when_only_the_last_step_has_a_loss(activation, skip, loss):
    rnn = RNN(4, 16, 3, activation=activation, skip=skip, seed=1, recurrent_scale=0.9)
    x, y = batch(np.random.default_rng(0), 25, 6, loss, "last")
    p = probe(rnn, x, y, loss, "last")
    np.testing.assert_allclose(p.log10_long, p.log10_total, rtol=0, atol=1e-12)
    expected = np.log10(rnn.loss_and_grads(x, y, loss=loss, loss_at="last").dh_norms)
    np.testing.assert_allclose(p.log10_total, expected, atol=1e-12)


@pytest.mark.parametrize("activation,skip", [("tanh", False), ("sigmoid", True)])
def test_long_range_is_the_last_steps_loss_alone_when_every_step_has_a_loss(activation, skip):
    rnn = RNN(4, 16, 3, activation=activation, skip=skip, seed=2)
    x, y = batch(np.random.default_rng(1), 20, 5, "cross_entropy", "all")
    p = probe(rnn, x, y, "cross_entropy", "all")
    trace = forward(rnn.params, x, activation, skip)
    _, ds = cross_entropy(output_scores(rnn.params, trace, "all"), y)
    ds[:-1] = 0.0  # keep ℓ_T only
    _, dh = backward(rnn.params, trace, ds, activation, skip)
    np.testing.assert_allclose(p.log10_long, np.log10(norms(dh).mean(axis=1)), atol=1e-12)
    assert not np.allclose(p.log10_long, p.log10_total)  # the local terms do matter here


def test_long_range_profile_is_exact_down_to_1e_minus_600():
    """W_e = b = 0 keeps every h_t = 0 (f'(0) = 1 for tanh) and W_r = r·Q, Q orthogonal, so
    ‖∂ℓ_T/∂h_t‖ = r^(T-t) ‖∂ℓ_T/∂h_T‖ exactly; with r = 0.1 and T = 601, 1e-600 at t = 1."""
    steps, r = 601, 0.1
    rnn = RNN(2, 8, 3, recurrent_init="orthogonal", recurrent_scale=r, seed=3)
    rnn.params["W_e"][:] = 0.0
    x, y = np.zeros((steps, 4), dtype=int), np.array([0, 1, 2, 0])
    p = probe(rnn, x, y, "cross_entropy", "last")
    expected = p.log10_long[-1] + np.arange(steps - 1, -1, -1) * np.log10(r)
    np.testing.assert_allclose(p.log10_long, expected, atol=1e-9)
    assert p.log10_long[0] < -599
    assert np.isneginf(p.log10_total[0])  # the plain float64 profile has underflowed to 0


def test_a_sigmoid_rnn_at_T_1000_goes_far_below_float64():
    rnn = RNN(6, 32, 4, activation="sigmoid", seed=0)
    x, y = batch(np.random.default_rng(2), 1000, 8, "cross_entropy", "last", classes=4, inputs=6)
    p = probe(rnn, x, y, "cross_entropy", "last")
    assert np.all(np.isfinite(p.log10_long))
    assert p.log10_long[0] < -400  # far below 1e-308, where the total is 0
    assert np.isneginf(p.log10_total[0])
    assert np.all(np.diff(p.log10_long) > 0)  # monotone: every step back loses


@pytest.mark.parametrize(
    "activation,skip", list(itertools.product(["tanh", "sigmoid"], [False, True]))
)
@pytest.mark.parametrize("scale", [0.5, 2.0, 6.0])
def test_pascanus_bound_holds_at_every_step(activation, skip, scale):
    rnn = RNN(
        5,
        24,
        3,
        activation=activation,
        skip=skip,
        seed=4,
        recurrent_init="singular_value",
        recurrent_scale=scale,
    )
    x, y = batch(np.random.default_rng(3), 40, 16, "cross_entropy", "last", inputs=5)
    p = probe(rnn, x, y, "cross_entropy", "last")
    bound = GAMMA[activation] * sigma_max(rnn.params["W_r"]) + (1.0 if skip else 0.0)
    assert summarise(p.log10_long)["max_step_factor"] <= bound * (1 + 1e-12)


def test_summaries_of_a_geometric_profile():
    steps, r = 50, 0.5
    log10_p = np.arange(steps - 1, -1, -1) * np.log10(r)  # p_t = r^(T-t), p_T = 1
    s = summarise(log10_p)
    assert s["decay_factor"] == pytest.approx(r, rel=1e-12)
    assert s["max_step_factor"] == pytest.approx(r, rel=1e-12)
    assert s["log10_ratio"] == pytest.approx((steps - 1) * np.log10(r), rel=1e-12)
    assert s["horizon"] == 19  # 0.5^19 = 1.9e-6 >= 1e-6 > 0.5^20
    assert summarise(np.zeros(10))["horizon"] == 9  # never drops: the whole sequence
    flat_then_zero = np.r_[np.full(3, -np.inf), np.zeros(4)]
    assert summarise(flat_then_zero)["horizon"] == 3


def test_saturation_fraction():
    x, y = batch(np.random.default_rng(5), 10, 4, "cross_entropy", "last", inputs=4)
    calm = RNN(4, 16, 3, seed=0, recurrent_scale=0.1)
    calm.params["W_e"] *= 0.01
    assert probe(calm, x, y, "cross_entropy", "last").saturation == 0.0
    wild = RNN(4, 16, 3, seed=0, recurrent_scale=50.0)
    wild.params["W_e"] *= 100.0
    assert probe(wild, x, y, "cross_entropy", "last").saturation > 0.9
