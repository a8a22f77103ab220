"""The self-check can fail (rnngrad/selfcheck.py): broken backwards patched into the engine —
the mistakes of the original handwritten notes among them — are each caught, for every
variant they apply to; a correct engine passes; the bound is checked per example.

Broken backwards injected (each a plausible slip in a hand derivation):
- W_r for W_rᵀ in ∂J/∂h_{t-1} = W_rᵀ da_t;
- 1 − tanh for 1 − tanh² (tanh');
- the skip connection's identity path dropped (∂h_t/∂h_{t-1} = I + diag(f') W_r);
- σ(1 + σ) for σ(1 − σ) (sigmoid');
- one example's gradient scaled at one step (what a batch mean hides);
- ∂J/∂W_r transposed (the state gradients right, the parameter gradient wrong);
- attention: the 1/√d of the scores forgotten in the backward pass.

Run: .venv/bin/pytest tests/test_selfcheck.py
"""

import itertools

import numpy as np
import pytest

import rnngrad.attention as attention_module
import rnngrad.bptt as rnn_module  # the backward and f' the RNN calls
from rnngrad import RNN
from rnngrad.attention import Attention
from rnngrad.profile import probe
from rnngrad.selfcheck import step_ratio
from rnngrad.tasks import make_task
from rnngrad.training import Settings, train

ORIGINAL_BACKWARD = rnn_module.backward
ORIGINAL_FPRIME = rnn_module.activation_grad


def w_for_w_transposed(params, trace, ds, activation, skip, ws=None, leak=1.0):
    w_t = {**params, "W_r": params["W_r"].T}
    return ORIGINAL_BACKWARD(w_t, trace, ds, activation, skip, ws, leak)


def skip_identity_dropped(params, trace, ds, activation, skip, ws=None, leak=1.0):
    return ORIGINAL_BACKWARD(params, trace, ds, activation, False, ws, leak)


def leak_left_out(params, trace, ds, activation, skip, ws=None, leak=1.0):
    """The backward of the plain RNN on a leaky forward pass: (1 − α) δ and α both missing."""
    return ORIGINAL_BACKWARD(params, trace, ds, activation, skip, ws, 1.0)


def relu_slope_everywhere(a, activation, out=None):
    if activation == "relu":
        return np.ones_like(a)
    return ORIGINAL_FPRIME(a, activation, out)


def one_minus_tanh(a, activation, out=None):
    if activation == "tanh":
        return 1.0 - np.tanh(a)
    return ORIGINAL_FPRIME(a, activation, out)


def sigma_one_plus_sigma(a, activation, out=None):
    if activation == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-a))
        return s * (1.0 + s)
    return ORIGINAL_FPRIME(a, activation, out)


FAULTS = {  # name: (module attribute patched, broken function, variants it applies to)
    "W for Wᵀ": ("backward", w_for_w_transposed, ["tanh", "sigmoid"], [False, True]),
    "1 − tanh": ("activation_grad", one_minus_tanh, ["tanh"], [False, True]),
    "skip identity dropped": ("backward", skip_identity_dropped, ["tanh", "sigmoid"], [True]),
    "σ(1 + σ)": ("activation_grad", sigma_one_plus_sigma, ["sigmoid"], [False, True]),
    "relu' = 1": ("activation_grad", relu_slope_everywhere, ["relu"], [False, True]),
}
CASES = [
    (name, activation, skip, loss_at)
    for name, (_, _, activations, skips) in FAULTS.items()
    for activation, skip, loss_at in itertools.product(activations, skips, ["last", "all"])
]


def batch(loss_at, steps=30, size=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=(steps, size))
    y = rng.integers(0, 4, size=(steps, size) if loss_at == "all" else size)
    return x, y


UNITS = [(False, 1.0), (True, 1.0), (False, 0.4)]  # (skip, leak): plain, skip, leaky


@pytest.mark.parametrize(
    "activation,units,loss_at",
    list(itertools.product(["tanh", "sigmoid", "relu"], UNITS, ["last", "all"])),
)
def test_the_correct_engine_passes(activation, units, loss_at):
    skip, leak = units
    # relu + skip at ρ(W_r) = 1 explodes (‖h_T‖ ~ 1e6): its softmax saturates and leaves some
    # examples with an exactly zero gradient, nothing to compare; ρ = 0.3 keeps ‖h_T‖ ~ 240
    scale = 0.3 if (activation, skip) == ("relu", True) else 1.0
    rnn = RNN(6, 24, 4, activation=activation, skip=skip, leak=leak, seed=1, recurrent_scale=scale)
    x, y = batch(loss_at)
    check = probe(rnn, x, y, "cross_entropy", loss_at).check
    assert check.ok, check.message()
    assert check.rel_err < 1e-10 and check.compared >= 2 * 30 * 16 * 0.9
    assert 0 < check.bound_ratio <= 1


@pytest.mark.parametrize(
    "dtype,steps,skip,activation,scale",
    [
        ("float64", 200, False, "tanh", 3.0),  # chaotic: rounding decides the trajectory
        ("float32", 100, True, "tanh", 1.0),
        ("float32", 300, True, "sigmoid", 1.0),
        ("float32", 300, False, "tanh", 1.0),
    ],
)
def test_the_correct_engine_passes_where_rounding_matters(dtype, steps, skip, activation, scale):
    """A chaotic network (σ = 3), whose trajectory a recomputation would not reproduce, and
    float32 networks with growing states: the check follows the engine's own forward pass,
    and its tolerances are its dtype's."""
    rnn = RNN(
        6, 32, 4, activation=activation, skip=skip, seed=1, recurrent_scale=scale, dtype=dtype
    )
    for loss_at in ("last", "all"):
        x, y = batch(loss_at, steps=steps, size=8, seed=2)
        check = probe(rnn, x, y, "cross_entropy", loss_at).check
        assert check.ok, check.message()


def test_a_correct_engine_blowing_up_is_never_flagged():
    """σ_max = 4, a huge learning rate, no clipping: the parameters grow to ~1e154 before the
    run diverges. Where float64 cannot hold a value (an f'(a) below 1e-300, a gradient above
    1e300) the engine is not compared, so a correct engine is never called wrong."""
    task = make_task("adding", T=50)
    evals = []
    settings = Settings(
        steps=100, eval_every=1, profile_every=1, valid_size=64, probe_size=16, lr=1e3, clip=None
    )
    rnn = RNN(2, 32, 1, recurrent_init="singular_value", recurrent_scale=4.0, seed=0)
    with np.errstate(all="ignore"):
        outcome = train(rnn, task, settings, on_eval=evals.append)
    assert outcome.status == "diverged"
    checked = [e.check for e in evals if e.check is not None]
    assert len(checked) > 20 and all(c.ok for c in checked), [
        c.message() for c in checked if not c.ok
    ]


def test_a_float32_factor_exactly_at_the_bound_passes():
    """W_e = 0 keeps h = 0, where tanh' = 1: with an orthogonal W_r every step meets the bound
    exactly, and float32 rounding must not count as breaking it."""
    for seed in range(10):
        rnn = RNN(2, 16, 3, recurrent_init="orthogonal", dtype="float32", seed=seed)
        rnn.params["W_e"][:] = 0.0
        x, y = np.zeros((20, 4), dtype=int), np.array([0, 1, 2, 0])
        check = probe(rnn, x, y, "cross_entropy", "last").check
        assert check.ok and check.bound_ratio == pytest.approx(1.0, abs=1e-5), check.message()


def test_a_wrong_parameter_gradient_is_caught(monkeypatch):
    """∂J/∂h_t right, ∂J/∂W_r transposed: the state gradients agree, the parameters do not."""

    def transposed_grad(params, trace, ds, activation, skip, ws=None, leak=1.0):
        grads, dh = ORIGINAL_BACKWARD(params, trace, ds, activation, skip, ws, leak)
        return {**grads, "W_r": grads["W_r"].T.copy()}, dh

    monkeypatch.setattr(rnn_module, "backward", transposed_grad)
    rnn = RNN(6, 24, 4, seed=1)
    x, y = batch("all")
    check = probe(rnn, x, y, "cross_entropy", "all").check
    assert not check.ok and "∂J/∂W_r" in check.message()


@pytest.mark.parametrize("fault,activation,skip,loss_at", CASES)
def test_every_broken_backward_is_caught(monkeypatch, fault, activation, skip, loss_at):
    attribute, broken, _, _ = FAULTS[fault]
    monkeypatch.setattr(rnn_module, attribute, broken)
    rnn = RNN(6, 24, 4, activation=activation, skip=skip, seed=1)
    x, y = batch(loss_at)
    check = probe(rnn, x, y, "cross_entropy", loss_at).check
    assert not check.ok
    assert check.message().startswith("self-check FAILED")


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("loss_at", ["last", "all"])
def test_a_backward_that_forgets_the_leak_is_caught(monkeypatch, activation, loss_at):
    monkeypatch.setattr(rnn_module, "backward", leak_left_out)
    rnn = RNN(6, 24, 4, activation=activation, leak=0.5, seed=1)
    x, y = batch(loss_at)
    check = probe(rnn, x, y, "cross_entropy", loss_at).check
    assert not check.ok and check.rel_err > 1e-3, check.message()


@pytest.mark.parametrize("fault", ["W for Wᵀ", "1 − tanh"])
def test_a_bound_check_alone_would_miss_these(monkeypatch, fault):
    """‖W_rᵀ‖ = ‖W_r‖, and 1 − tanh(a) > 1 only where a < 0: in this network every factor of
    the broken backward respects the bound. Only holding the engine against an independent
    computation catches it."""
    attribute, broken, _, _ = FAULTS[fault]
    monkeypatch.setattr(rnn_module, attribute, broken)
    rnn = RNN(6, 24, 4, activation="tanh", seed=0)
    x, y = batch("last")
    check = probe(rnn, x, y, "cross_entropy", "last").check
    engine = rnn.loss_and_grads(x, y, loss_at="last", per_example=True).dh
    factors = np.linalg.norm(engine[:-1], axis=-1) / np.linalg.norm(engine[1:], axis=-1)
    bound = np.linalg.svd(rnn.params["W_r"], compute_uv=False)[0]  # γ = 1
    assert factors.max() <= bound  # the bound is met by the broken engine ...
    assert check.rel_err > 1.0 and not check.ok  # ... and yet it is wrong


def test_sigmoid_derivative_above_a_quarter_also_breaks_the_bound(monkeypatch):
    monkeypatch.setattr(rnn_module, "activation_grad", sigma_one_plus_sigma)
    rnn = RNN(6, 24, 4, activation="sigmoid", seed=1)
    x, y = batch("last")
    check = probe(rnn, x, y, "cross_entropy", "last").check
    assert check.bound_ratio > 1 and "Pascanu's bound" in check.message()


def test_one_example_hidden_in_the_batch_mean_is_caught(monkeypatch):
    """Example 0's ∂J/∂h_t grown 5-fold at one step: the batch-mean profile still respects
    the bound at every step; the per-example check does not."""

    def one_example_grows(params, trace, ds, activation, skip, ws=None, leak=1.0):
        grads, dh = ORIGINAL_BACKWARD(params, trace, ds, activation, skip, ws, leak)
        dh[:15, 0] *= 5.0  # every step before t = 16, for example 0
        return grads, dh

    monkeypatch.setattr(rnn_module, "backward", one_example_grows)
    rnn = RNN(6, 24, 4, activation="sigmoid", seed=1)
    x, y = batch("last", size=64)
    out = rnn.loss_and_grads(x, y, loss_at="last", per_example=True)
    per_example = np.log(np.linalg.norm(out.dh, axis=-1))  # (T, B)
    bound = 0.25 * np.linalg.svd(rnn.params["W_r"], compute_uv=False)[0]
    mean_ratio, _ = step_ratio(np.log(out.dh_norms)[:, None], np.log(bound))
    example_ratio, where = step_ratio(per_example, np.log(bound))
    assert mean_ratio < 1 < example_ratio and where[1] == 0  # the mean hides it
    check = probe(rnn, x, y, "cross_entropy", "last").check
    assert not check.ok and check.bound_ratio > 1


def test_a_broken_attention_backward_is_caught(monkeypatch):
    """The 1/√d of the scores forgotten in the backward pass (dS too large by √d)."""
    original = attention_module.exact_dominant_entry

    def forgets_the_scale(dscore, alpha):
        original(dscore, alpha)
        dscore *= 4.0  # √d for d = 16: undoes the division that follows

    monkeypatch.setattr(attention_module, "exact_dominant_entry", forgets_the_scale)
    model = Attention(6, 16, 4, seed=2)
    for loss_at in ("last", "all"):
        x, y = batch(loss_at)
        check = probe(model, x, y, "cross_entropy", loss_at).check
        assert not check.ok and np.isnan(check.bound_ratio), check.message()
    monkeypatch.setattr(attention_module, "exact_dominant_entry", original)
    assert probe(model, x, y, "cross_entropy", "all").check.ok


def test_training_reports_a_failed_self_check_at_every_profile(monkeypatch):
    monkeypatch.setattr(rnn_module, "backward", w_for_w_transposed)
    task = make_task("temporal_order", T=10)
    evals = []
    settings = Settings(steps=20, eval_every=10, profile_every=10, valid_size=32, probe_size=8)
    train(RNN(6, 8, 4, seed=0), task, settings, on_eval=evals.append)
    profiled = [e for e in evals if e.check is not None]
    assert len(profiled) == 3
    assert all(not e.check.ok and e.scalars["selfcheck_ok"] == 0.0 for e in profiled)


@pytest.mark.parametrize("leak", [1.0, 0.3])
def test_the_bound_is_tight_where_every_step_is_the_same_linear_map(leak):
    """W_e = b = 0 keeps h_t = 0, where tanh' = 1: with W_r = s·I every step's Jacobian is
    ((1 − α) + α s) I, exactly the bound, so the largest factor/bound is 1 (a looser bound,
    say one that forgot the α, would show here as a ratio below 1)."""
    s = 0.5
    rnn = RNN(6, 8, 4, leak=leak, recurrent_init="identity", recurrent_scale=s, seed=1)
    rnn.params["W_e"][:] = 0.0
    assert rnn.diagnostics()["bound"] == pytest.approx((1 - leak) + leak * s, rel=1e-12)
    x, y = batch("last", steps=12, size=4)
    check = probe(rnn, x, y, "cross_entropy", "last").check
    assert check.ok and check.bound_ratio == pytest.approx(1.0, rel=1e-9)


def test_relu_has_gamma_one_in_the_bound():
    rnn = RNN(6, 8, 4, activation="relu", recurrent_init="orthogonal", recurrent_scale=0.7)
    assert rnn.diagnostics()["bound"] == pytest.approx(0.7, rel=1e-12)
