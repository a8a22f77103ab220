"""The public RNN API: shapes, determinism, float32 against float64, replacing parameters,
and a clear ValueError (naming the argument, expected and actual) for every bad input.

Run: .venv/bin/pytest tests/test_rnn_api.py
"""

import numpy as np
import pytest

from rnngrad import RNN, global_norm
from rnngrad.attention import Attention
from rnngrad.checks import BadValue

D, H, C, T, B = 5, 16, 4, 12, 3


def batch(rng=None):
    rng = rng or np.random.default_rng(0)
    return rng.integers(0, D, size=(T, B)), rng.integers(0, C, size=(T, B))


def test_output_shapes_and_types():
    rnn = RNN(D, H, C)
    x, y = batch()
    out = rnn.loss_and_grads(x, y)
    assert isinstance(out.loss, float) and out.loss > 0
    assert {k: v.shape for k, v in out.grads.items()} == {k: v.shape for k, v in rnn.params.items()}
    assert out.dh_norms.shape == (T,) and out.dh_norms.dtype == np.float64
    assert out.scores.shape == (T, B, C)
    assert rnn.loss_and_grads(x, y[-1], loss_at="last").scores.shape == (B, C)
    np.testing.assert_array_equal(rnn.scores(x), out.scores)


def test_same_seed_same_model_and_different_seed_different_model():
    a, b, c = RNN(D, H, C, seed=3), RNN(D, H, C, seed=3), RNN(D, H, C, seed=4)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["W_r"], c.params["W_r"])
    gen = RNN(D, H, C, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(gen.params["W_r"], a.params["W_r"])


def test_profile_does_not_depend_on_batch_size():
    """The same example repeated B times gives the same dh_norms and loss as B = 1."""
    rnn = RNN(D, H, C, seed=1)
    x, y = batch()
    one = rnn.loss_and_grads(x[:, :1], y[:, :1])
    many = rnn.loss_and_grads(np.repeat(x[:, :1], 7, axis=1), np.repeat(y[:, :1], 7, axis=1))
    np.testing.assert_allclose(many.dh_norms, one.dh_norms, rtol=1e-13)
    assert many.loss == pytest.approx(one.loss, rel=1e-13)
    for k in one.grads:
        np.testing.assert_allclose(many.grads[k], one.grads[k], rtol=1e-12, atol=1e-15)


def test_params_can_be_overwritten_in_place_and_replaced():
    rnn = RNN(D, H, C, seed=2)
    x, y = batch()
    before = rnn.loss_and_grads(x, y).loss
    rnn.params["W_u"][:] = 0.0  # in place: uniform predictions, J = T ln C
    assert rnn.loss_and_grads(x, y).loss == pytest.approx(T * np.log(C))
    rnn.params["W_u"] = np.random.default_rng(0).standard_normal((C, H))  # replaced
    assert rnn.loss_and_grads(x, y).loss != pytest.approx(before)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_float32_reproduces_float64(activation, skip, loss):
    kw = dict(activation=activation, skip=skip, seed=5)
    r64, r32 = RNN(D, H, C, **kw), RNN(D, H, C, dtype="float32", **kw)
    for k in r64.params:
        assert r32.params[k].dtype == np.float32
        np.testing.assert_array_equal(r32.params[k], r64.params[k].astype(np.float32))
        r64.params[k] = r32.params[k].astype(np.float64)  # identical starting point
    rng = np.random.default_rng(6)
    x = rng.standard_normal((T, B, D))
    y = (
        rng.integers(0, C, size=(T, B))
        if loss == "cross_entropy"
        else rng.standard_normal((T, B, C))
    )
    o64, o32 = r64.loss_and_grads(x, y, loss=loss), r32.loss_and_grads(x, y, loss=loss)
    assert o32.loss == pytest.approx(o64.loss, rel=1e-5)
    for k in o64.grads:
        assert o32.grads[k].dtype == np.float32
        err = np.linalg.norm(o32.grads[k] - o64.grads[k]) / np.linalg.norm(o64.grads[k])
        assert err < 1e-5, k
    np.testing.assert_allclose(o32.dh_norms, o64.dh_norms, rtol=1e-5)


# -- bad input -------------------------------------------------------------------------------

GOOD_X = np.zeros((T, B), dtype=int)
GOOD_Y = np.zeros((T, B), dtype=int)


def nan_at(shape, where):
    a = np.zeros(shape)
    a[where] = np.nan
    return a


BAD_CALLS = [
    # (description, kwargs for loss_and_grads, substring of the message)
    ("inputs rank", dict(inputs=np.zeros(T, dtype=int)), "inputs: expected int token ids (T, B)"),
    ("inputs id too big", dict(inputs=np.full((T, B), D)), "inputs: expected ids in [0, 5); got 5"),
    ("inputs id negative", dict(inputs=np.full((T, B), -1)), "got -1"),
    (
        "inputs D wrong",
        dict(inputs=np.zeros((T, B, D + 1))),
        "shape (?, ?, 5); got shape (12, 3, 6)",
    ),
    (
        "inputs NaN",
        dict(inputs=nan_at((T, B, D), (2, 1, 0))),
        "inputs: expected finite float64 values; got nan",
    ),
    (
        "inputs inf",
        dict(inputs=np.full((T, B, D), np.inf)),
        "expected finite float64 values; got inf",
    ),
    ("inputs empty", dict(inputs=np.zeros((0, B), dtype=int)), "inputs: expected int token ids"),
    ("inputs strings", dict(inputs=np.array([["a"]])), "inputs: expected an int or float array"),
    ("inputs ragged", dict(inputs=[[1, 2], [3]]), "inputs: expected an array"),
    ("targets float for CE", dict(targets=np.zeros((T, B))), "expected int class ids"),
    (
        "targets T wrong",
        dict(targets=np.zeros((T + 1, B), dtype=int)),
        "shape (12, 3); got shape (13, 3)",
    ),
    ("targets class", dict(targets=np.full((T, B), C)), "targets: expected ids in [0, 4); got 4"),
    ("targets last", dict(targets=GOOD_Y, loss_at="last"), "shape (3,); got shape (12, 3)"),
    ("mse targets shape", dict(targets=np.zeros((T, B)), loss="mse"), "shape (12, 3, 4)"),
    ("mse targets NaN", dict(targets=nan_at((T, B, C), (0, 0, 0)), loss="mse"), "finite"),
    (
        "loss unknown",
        dict(loss="hinge"),
        "loss: expected one of 'cross_entropy', 'mse'; got 'hinge'",
    ),
    ("loss_at unknown", dict(loss_at="first"), "loss_at: expected one of 'all', 'last'"),
    ("negative Ω weight", dict(vanishing_reg=-1.0), "vanishing_reg: expected a finite number >= 0"),
    ("NaN Ω weight", dict(vanishing_reg=np.nan), "vanishing_reg: expected a finite number >= 0"),
]


@pytest.mark.parametrize("case,kwargs,message", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_call_raises_value_error(case, kwargs, message):
    args = dict(inputs=GOOD_X, targets=GOOD_Y) | kwargs
    with pytest.raises(ValueError) as err:
        RNN(D, H, C).loss_and_grads(**args)
    assert message in str(err.value)


BAD_MODELS = [
    (dict(activation="gelu"), "activation: expected one of 'tanh', 'sigmoid', 'relu'; got 'gelu'"),
    (dict(leak=0.0), "leak: expected a number in (0, 1] (1: no leak); got 0.0"),
    (dict(leak=1.5), "leak: expected a number in (0, 1] (1: no leak); got 1.5"),
    (dict(leak="0.5"), "leak: expected a number in (0, 1]; got '0.5'"),
    (dict(init="xavier"), "init: expected one of 'scaled', 'sigmoid', 'basic_tanh', 'smart_tanh'"),
    (dict(dtype="float16"), "dtype: expected one of 'float64', 'float32'; got 'float16'"),
    (dict(hidden_size=0), "hidden_size: expected an integer >= 1; got 0"),
    (dict(input_size=2.5), "input_size: expected an integer >= 1; got 2.5"),
    (dict(skip="yes"), "skip: expected True or False; got 'yes'"),
    (dict(seed=-1), "seed: expected an int >= 0"),
    (dict(recurrent_init="xavier"), "recurrent_init: expected one of 'spectral_radius'"),
    (dict(recurrent_scale=0.0), "recurrent_scale: expected a positive finite number; got 0.0"),
    (dict(recurrent_scale=np.inf), "recurrent_scale: expected a positive finite number; got inf"),
]


@pytest.mark.parametrize("kwargs,message", BAD_MODELS)
def test_bad_model_raises_value_error(kwargs, message):
    """A BadValue (a ValueError) that carries the parameter's name, the value and the rule."""
    args = dict(input_size=D, hidden_size=H, output_size=C) | kwargs
    with pytest.raises(BadValue) as err:
        RNN(**args)
    assert message in str(err.value)
    [(name, value)] = kwargs.items()
    assert err.value.name == name and err.value.value is value
    assert str(err.value) == f"{name}: {err.value.allowed}; got {value!r}"


BAD_PAIRS = [  # values each allowed alone, not together: the error names the one that conflicts
    (dict(skip=True, leak=0.5), "leak", "expected 1 with skip=True"),
    (dict(init="smart_tanh", recurrent_init="orthogonal"), "recurrent_init", "init='smart_tanh'"),
    (dict(init="sigmoid", recurrent_scale=2.0), "recurrent_scale", "init='sigmoid', which draws"),
]


@pytest.mark.parametrize("kwargs,name,message", BAD_PAIRS)
def test_options_that_exclude_each_other_raise_naming_one(kwargs, name, message):
    with pytest.raises(BadValue) as err:
        RNN(D, H, C, **kwargs)
    assert err.value.name == name and message in str(err.value)


BAD_ATTENTION = [
    (dict(hidden_size=0), "hidden_size: expected an integer >= 1; got 0"),
    (dict(output_size="3"), "output_size: expected an integer >= 1; got '3'"),
    (dict(dtype="float16"), "dtype: expected one of 'float64', 'float32'; got 'float16'"),
    (dict(seed=-1), "seed: expected an int >= 0 or a np.random.Generator; got -1"),
]


@pytest.mark.parametrize("kwargs,message", BAD_ATTENTION)
def test_bad_attention_model_raises_bad_value(kwargs, message):
    args = dict(input_size=D, hidden_size=H, output_size=C) | kwargs
    with pytest.raises(BadValue) as err:
        Attention(**args)
    assert str(err.value) == message and err.value.name == next(iter(kwargs))


def test_bad_params_raise_value_error():
    rnn = RNN(D, H, C)
    rnn.params["W_r"] = np.zeros((H, H + 1))
    with pytest.raises(ValueError, match=r"params\['W_r'\]: expected an array of shape \(16, 16\)"):
        rnn.loss_and_grads(GOOD_X, GOOD_Y)
    rnn = RNN(D, H, C)
    del rnn.params["b"]
    with pytest.raises(ValueError, match="params: expected a dict with keys"):
        rnn.loss_and_grads(GOOD_X, GOOD_Y)


def test_gradients_are_not_clipped_unless_asked():
    rnn = RNN(D, H, C, recurrent_init="singular_value", recurrent_scale=8.0, seed=0)
    x, y = batch()
    out = rnn.loss_and_grads(x, y)
    assert global_norm(out.grads) > 10.0  # an exploding configuration keeps its raw gradient


def test_non_finite_params_and_float32_overflow_are_rejected():
    rnn = RNN(D, H, C)
    rnn.params["W_r"][0, 0] = np.nan
    with pytest.raises(
        ValueError, match=r"params\['W_r'\]: expected finite float64 values; got nan"
    ):
        rnn.loss_and_grads(GOOD_X, GOOD_Y)
    r32 = RNN(D, H, C, dtype="float32")
    with pytest.raises(ValueError, match="inputs: expected finite float32 values; got 1e"):
        r32.loss_and_grads(np.full((T, B, D), 1e300), GOOD_Y)
    with pytest.raises(ValueError, match="inputs: expected an int or float array; got None"):
        RNN(D, H, C).loss_and_grads(None, GOOD_Y)


def test_optimiser_helpers_reject_what_they_cannot_update():
    from rnngrad import clip_grad_norm, sgd_step

    params = {"a": np.zeros(3)}
    with pytest.raises(ValueError, match=r"params\['a'\]: expected a float ndarray; got list"):
        sgd_step({"a": [0.0, 0.0, 0.0]}, {"a": np.ones(3)}, lr=0.1)
    with pytest.raises(ValueError, match=r"grads\['a'\]: expected a float ndarray; got int64"):
        sgd_step(params, {"a": np.ones(3, dtype=np.int64)}, lr=0.1)
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\['a'\]: expected a writable array"):
        sgd_step({"a": frozen}, {"a": np.ones(3)}, lr=0.1)
    with pytest.raises(ValueError, match="grads: expected a dict of float arrays; got list"):
        clip_grad_norm([np.ones(3)], 1.0)
    assert global_norm({}) == 0.0
    assert global_norm({"a": np.array([np.inf, 1.0])}) == np.inf
