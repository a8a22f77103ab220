"""Initialisation of W_r (each documented scheme hits its scale) and the optimiser helpers:
global-norm clipping as in Pascanu et al. 2013, and plain SGD.

Run: .venv/bin/pytest tests/test_init_optim.py
"""

import numpy as np
import pytest

from rnngrad import (
    RNN,
    clip_grad_norm,
    global_norm,
    sgd_step,
    sgd_update,
    sigma_max,
    spectral_radius,
)


@pytest.mark.parametrize("scale", [0.5, 1.0, 4.0])
def test_recurrent_inits_hit_their_scale(scale):
    def w_r(kind):
        return RNN(3, 32, 2, recurrent_init=kind, recurrent_scale=scale, seed=1).params["W_r"]

    assert spectral_radius(w_r("spectral_radius")) == pytest.approx(scale, rel=1e-10)
    assert sigma_max(w_r("singular_value")) == pytest.approx(scale, rel=1e-10)
    q = w_r("orthogonal")
    np.testing.assert_allclose(q.T @ q, scale**2 * np.eye(32), atol=1e-12)
    np.testing.assert_array_equal(w_r("identity"), scale * np.eye(32))


def test_default_init_is_documented():
    rnn = RNN(4, 64, 3, seed=0)
    assert spectral_radius(rnn.params["W_r"]) == pytest.approx(1.0)
    np.testing.assert_array_equal(rnn.params["b"], 0.0)
    np.testing.assert_array_equal(rnn.params["c"], 0.0)
    assert np.std(rnn.params["W_e"]) == pytest.approx(1 / np.sqrt(4), rel=0.15)
    assert np.std(rnn.params["W_u"]) == pytest.approx(1 / np.sqrt(64), rel=0.15)


def test_global_norm_is_overflow_and_underflow_safe():
    assert global_norm({"a": np.array([3.0]), "b": np.array([[4.0]])}) == pytest.approx(5.0)
    assert global_norm({"a": np.array([3e200]), "b": np.array([4e200])}) == pytest.approx(5e200)
    assert global_norm({"a": np.array([3e-200]), "b": np.array([4e-200])}) == pytest.approx(5e-200)


def test_clip_grad_norm_rescales_only_above_threshold():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([4.0])}
    assert clip_grad_norm(grads, 10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(grads["a"], [3.0, 0.0])  # below θ: untouched
    assert clip_grad_norm(grads, 1.0) == pytest.approx(5.0)  # returns the norm before
    assert global_norm(grads) == pytest.approx(1.0)
    np.testing.assert_allclose(grads["a"], [0.6, 0.0])  # direction kept
    nan = {"a": np.array([np.nan])}
    assert np.isnan(clip_grad_norm(nan, 1.0))
    with pytest.raises(ValueError, match="max_norm: expected a positive finite number; got -1"):
        clip_grad_norm(grads, -1)


def test_sgd_step_lowers_the_loss_and_checks_its_arguments():
    rnn = RNN(4, 16, 4, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, size=(10, 8)), rng.integers(0, 4, size=(10, 8))
    first = rnn.loss_and_grads(x, y)
    w_r = rnn.params["W_r"].copy()
    sgd_step(rnn.params, first.grads, lr=0.1)
    np.testing.assert_allclose(rnn.params["W_r"], w_r - 0.1 * first.grads["W_r"])
    assert rnn.loss_and_grads(x, y).loss < first.loss
    with pytest.raises(ValueError, match="lr: expected a positive finite number; got 0"):
        sgd_step(rnn.params, first.grads, lr=0)
    with pytest.raises(ValueError, match="grads: expected the keys of params"):
        sgd_step(rnn.params, {"W_r": first.grads["W_r"]}, lr=0.1)


@pytest.mark.parametrize("clip", [None, 0.5, 1e6])
def test_sgd_update_is_clip_then_step_to_the_last_bit(clip):
    rnn = RNN(4, 16, 4, seed=0)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 4, size=(10, 8)), rng.integers(0, 4, size=(10, 8))
    out = rnn.loss_and_grads(x, y)
    params = {k: v.copy() for k, v in rnn.params.items()}
    grads = {k: v.copy() for k, v in out.grads.items()}
    norm = global_norm(out.grads)
    if clip is not None:
        clip_grad_norm(grads, clip)
    sgd_step(params, grads, lr=0.3)
    assert sgd_update(rnn.params, out.grads, 0.3, clip=clip) == norm  # the norm before clipping
    for k in params:
        np.testing.assert_array_equal(rnn.params[k], params[k])


def test_sgd_update_changes_nothing_on_a_non_finite_gradient_and_names_bad_values():
    params = {"a": np.array([1.0, 2.0])}
    assert np.isinf(sgd_update(params, {"a": np.array([np.inf, 0.0])}, 0.1, clip=1.0))
    assert np.isnan(sgd_update(params, {"a": np.array([np.nan, 0.0])}, 0.1))
    np.testing.assert_array_equal(params["a"], [1.0, 2.0])
    with pytest.raises(ValueError, match="clip: expected a positive finite number; got 0"):
        sgd_update(params, {"a": np.ones(2)}, 0.1, clip=0)
    with pytest.raises(ValueError, match=r"grads\['a'\]: expected shape \(2,\); got \(3,\)"):
        sgd_update(params, {"a": np.ones(3)}, 0.1)


@pytest.mark.parametrize("init,std", [("sigmoid", 0.01), ("basic_tanh", 0.1)])
def test_pascanu_dense_inits_draw_every_weight_with_their_standard_deviation(init, std):
    rnn = RNN(40, 50, 30, init=init, seed=3)
    for name in ("W_e", "W_r", "W_u"):
        w = rnn.params[name]
        assert np.std(w) == pytest.approx(std, rel=0.05), name  # 1,500-2,500 draws each
        assert abs(np.mean(w)) < 4 * std / np.sqrt(w.size), name
    assert not rnn.params["b"].any() and not rnn.params["c"].any()


def test_smart_tanh_keeps_15_outgoing_weights_per_unit_at_spectral_radius_095():
    """As in the authors' code: row i of their W_hh (= column i of W_r) keeps 15 entries."""
    rnn = RNN(6, 50, 4, init="smart_tanh", seed=4)
    w_r = rnn.params["W_r"]
    assert ((w_r != 0).sum(axis=0) == 15).all()  # unit i feeds 15 units
    assert not ((w_r != 0).sum(axis=1) == 15).all()  # rows are not restricted
    assert spectral_radius(w_r) == pytest.approx(0.95, rel=1e-12)
    assert np.std(rnn.params["W_e"]) == pytest.approx(0.01, rel=0.2)
    assert np.std(rnn.params["W_u"]) == pytest.approx(0.01, rel=0.2)


def test_smart_tanh_with_at_most_15_units_is_dense():
    w_r = RNN(3, 10, 2, init="smart_tanh", seed=0).params["W_r"]
    assert (w_r != 0).all() and spectral_radius(w_r) == pytest.approx(0.95, rel=1e-12)
