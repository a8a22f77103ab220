"""The gradient profiles, the state, and their summaries (rnngrad/profile.py, reference.py).

- Every profile (total, long-range, input; RNN and attention) is exact at any depth: it
  matches an explicit Jacobian-product computation in extended precision (tests/oracle.py)
  within 1e-9 decades, also for a sigmoid RNN at T = 1000 whose profile reaches ~1e-640,
  and for attention whose weights underflow float64.
- The long-range profile equals the engine's ∂J/∂h_t norms whenever only the last step has
  a loss, and a backward pass of ℓ_T alone when every step has one.
- Pascanu's bound holds for every example at every step (the reference's factors).
- decay_factor, log10_ratio, fall_1e6 and fall_1e16 on profiles whose answer is known.
- ‖h_t‖ and the saturation per step.

Run: .venv/bin/pytest tests/test_profile.py
"""

import itertools
import math

import numpy as np
import pytest
from oracle import attention_profiles, extended_precision_available, rnn_profiles

from rnngrad import RNN
from rnngrad.attention import Attention, positions
from rnngrad.bptt import backward, forward, output_scores
from rnngrad.functional import cross_entropy, norms
from rnngrad.profile import probe, summarise

VARIANTS = list(itertools.product(["tanh", "sigmoid"], [False, True], ["cross_entropy", "mse"]))
needs_longdouble = pytest.mark.skipif(
    not extended_precision_available(), reason="np.longdouble is not 80-bit on this machine"
)


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
    dx = np.log10(rnn.loss_and_grads(x, y, loss=loss, loss_at="last").dx_norms)
    np.testing.assert_allclose(p.log10_dx, dx, atol=1e-12)


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
    total = np.log10(rnn.loss_and_grads(x, y, loss_at="all").dh_norms)
    np.testing.assert_allclose(p.log10_total, total, atol=1e-12)
    assert not np.allclose(p.log10_long, p.log10_total)  # the local terms do matter here


def test_every_profile_is_exact_down_to_1e_minus_600():
    """W_e = b = 0 keeps every h_t = 0 (f'(0) = 1 for tanh) and W_r = r·Q, Q orthogonal, so
    ‖∂ℓ_T/∂h_t‖ = r^(T-t) ‖∂ℓ_T/∂h_T‖ exactly; with r = 0.1 and T = 601, 1e-600 at t = 1.
    The engine's own float64 profile has underflowed to 0 there."""
    steps, r = 601, 0.1
    rnn = RNN(2, 8, 3, recurrent_init="orthogonal", recurrent_scale=r, seed=3)
    rnn.params["W_e"][:] = 0.0
    x, y = np.zeros((steps, 4), dtype=int), np.array([0, 1, 2, 0])
    p = probe(rnn, x, y, "cross_entropy", "last")
    expected = p.log10_long[-1] + np.arange(steps - 1, -1, -1) * np.log10(r)
    for profile in (p.log10_long, p.log10_total, p.log10_dx):  # f'(0) = 1: dx = dh here
        np.testing.assert_allclose(profile, expected, atol=1e-9)
    assert p.log10_total[0] < -599
    assert rnn.loss_and_grads(x, y, loss_at="last").dh_norms[0] == 0.0  # linear float64


@needs_longdouble
@pytest.mark.parametrize("loss_at", ["last", "all"])
def test_a_sigmoid_rnn_at_T_1000_matches_explicit_jacobians_far_below_float64(loss_at):
    """Total, long-range and input profiles of a sigmoid RNN at T = 1000, reaching ~1e-640,
    against explicit Jacobian products in extended precision: within 1e-9 decades."""
    steps = 1000
    rnn = RNN(6, 32, 4, activation="sigmoid", seed=0)
    x, y = batch(np.random.default_rng(2), steps, 8, "cross_entropy", loss_at, classes=4, inputs=6)
    p = probe(rnn, x, y, "cross_entropy", loss_at)
    total, long, dx = rnn_profiles(rnn.params, x, y, "cross_entropy", loss_at, "sigmoid", False)
    for got, want in ((p.log10_total, total), (p.log10_long, long), (p.log10_dx, dx)):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, np.asarray(want, dtype=float), rtol=0, atol=1e-9)
    assert p.log10_long[0] < -600  # ~1e-640, far below float64's smallest number
    assert np.all(np.diff(p.log10_long) > 0)  # every step back loses
    assert p.check.ok, p.check.message()


@needs_longdouble
@pytest.mark.parametrize(
    "activation,skip,leak",
    [
        *itertools.product(["tanh", "sigmoid", "relu"], [False, True], [1.0]),
        *itertools.product(["tanh", "sigmoid", "relu"], [False], [0.4]),
    ],
)
def test_every_rnn_variant_matches_explicit_jacobians(activation, skip, leak):
    scale = 0.6 if (activation, skip) == ("relu", True) else 1.3  # relu + skip grows fast
    rnn = RNN(5, 12, 3, activation, skip, seed=7, recurrent_scale=scale, leak=leak)
    for loss, loss_at in itertools.product(["cross_entropy", "mse"], ["last", "all"]):
        x, y = batch(np.random.default_rng(3), 30, 4, loss, loss_at, inputs=5)
        p = probe(rnn, x, y, loss, loss_at)
        want = rnn_profiles(rnn.params, x, y, loss, loss_at, activation, skip, leak)
        for got, expected in zip((p.log10_total, p.log10_long, p.log10_dx), want, strict=True):
            np.testing.assert_allclose(got, np.asarray(expected, float), rtol=0, atol=1e-9)


@needs_longdouble
@pytest.mark.parametrize("loss_at", ["last", "all"])
@pytest.mark.parametrize("seed,scale,steps", [(5, 25.0, 24), (17, 40.0, 10), (3, 40.0, 16)])
def test_attention_profiles_stay_exact_where_its_weights_underflow_float64(
    loss_at, seed, scale, steps
):
    """Large query and key weights make softmax weights of 1e-300 and far less: float64 gives
    exactly 0 there, the log-space reference the value itself — also where every weight of a
    row but the largest underflows (seed 17: the second-largest weight of row T is 1e-349)."""
    model = Attention(4, 8, 3, seed=seed)
    model.params["W_q"] *= scale
    model.params["W_k"] *= scale
    batch_size = 1 if seed == 17 else 6
    x, y = batch(np.random.default_rng(seed), steps, batch_size, "cross_entropy", loss_at, inputs=4)
    p = probe(model, x, y, "cross_entropy", loss_at)
    total, long = attention_profiles(model.params, x, y, "cross_entropy", loss_at, positions)
    for got, want in ((p.log10_total, total), (p.log10_long, long)):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, np.asarray(want, dtype=float), rtol=0, atol=1e-9)
    assert p.log10_long.min() < -320  # below float64's smallest number
    last = y[-1] if loss_at == "all" else y  # the engine's long-range profile: ℓ_T alone
    engine = model.loss_and_grads(x, last, loss_at="last").dx_norms
    assert (engine == 0).any()  # where the linear float64 backward has underflowed
    assert p.check.ok, p.check.message()


@pytest.mark.parametrize(
    "activation,skip", list(itertools.product(["tanh", "sigmoid"], [False, True]))
)
@pytest.mark.parametrize("scale", [0.5, 2.0, 6.0])
def test_pascanus_bound_holds_for_every_example_at_every_step(activation, skip, scale):
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
    check = probe(rnn, x, y, "cross_entropy", "last").check
    assert check.ok, check.message()
    assert 0 < check.bound_ratio <= 1 + 1e-9


def test_summaries_of_a_geometric_profile():
    steps, r = 60, 0.5
    log10_p = np.arange(steps - 1, -1, -1) * np.log10(r)  # p_t = r^(T-t), p_T = 1
    s = summarise(log10_p)
    assert s["decay_factor"] == pytest.approx(r, rel=1e-12)
    assert s["log10_ratio"] == pytest.approx((steps - 1) * np.log10(r), rel=1e-12)
    assert s["fall_1e6"] == 20  # 0.5^19 = 1.9e-6 >= 1e-6 > 0.5^20
    assert s["fall_1e16"] == 54  # 0.5^53 = 1.1e-16 >= 1e-16 > 0.5^54
    flat = summarise(np.zeros(10))
    assert np.isnan(flat["fall_1e6"]) and np.isnan(flat["fall_1e16"])  # never within T - 1
    assert math.isnan(summarise(log10_p[-40:])["fall_1e16"])  # 0.5^39 > 1e-16: never


def test_a_profile_without_any_gradient_has_no_summary():
    """W_u = 0 makes every ∂J/∂h_t exactly 0 (log10 = -inf): nothing to summarise, and no
    RuntimeWarning (which this suite turns into an error) on the way."""
    summary = summarise(np.full(7, -np.inf))
    assert all(math.isnan(value) for value in summary.values()), summary


def test_state_norm_and_saturation_per_step():
    x, y = batch(np.random.default_rng(5), 10, 4, "cross_entropy", "last", inputs=4)
    calm = RNN(4, 16, 3, seed=0, recurrent_scale=0.1)
    calm.params["W_e"] *= 0.01
    p = probe(calm, x, y, "cross_entropy", "last")
    assert p.saturation == 0.0 and p.saturation_t.shape == (10,)
    wild = RNN(4, 16, 3, seed=0, recurrent_scale=50.0)
    wild.params["W_e"] *= 100.0
    assert probe(wild, x, y, "cross_entropy", "last").saturation > 0.9
    for skip in (False, True):
        rnn = RNN(4, 16, 3, seed=1, skip=skip, activation="sigmoid")
        p = probe(rnn, x, y, "cross_entropy", "last")
        h = forward(rnn.params, x, "sigmoid", skip).h[1:]
        np.testing.assert_allclose(p.state_norm, norms(h).mean(axis=1), rtol=1e-12)
    assert p.state_norm[-1] > 5 * p.state_norm[0]  # the skip's running sum of σ(a) > 0 grows
