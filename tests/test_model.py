"""The model protocol (rnngrad/model.py): both models provide it, training never asks which
model it holds (a stand-in that is neither trains exactly like the model it wraps), each
model records exactly its own keys, its label and diagnostics; and the engine, the tasks and
the training loop import with NumPy alone.

Run: .venv/bin/pytest tests/test_model.py
"""

import subprocess
import sys

import numpy as np
import pytest

from rnngrad import RNN
from rnngrad.attention import Attention
from rnngrad.init import attention_params, sigma_max, spectral_radius
from rnngrad.model import Model
from rnngrad.tasks import make_task
from rnngrad.training import Settings, train

MODELS = {
    "rnn tanh": lambda d, c: RNN(d, 8, c, seed=0),
    "rnn sigmoid + skip": lambda d, c: RNN(d, 8, c, activation="sigmoid", skip=True, seed=0),
    "attention": lambda d, c: Attention(d, 8, c, seed=0),
}


@pytest.mark.parametrize("label", MODELS)
def test_both_models_provide_the_protocol_and_their_label(label):
    model = MODELS[label](6, 4)
    assert isinstance(model, Model)
    assert model.label == label
    assert (model.input_size, model.hidden_size, model.output_size) == (6, 8, 4)
    assert model.dtype == "float64"


def test_rnn_diagnostics_are_w_rs_spectrum_and_pascanus_bound():
    for activation, skip, gamma in (("tanh", False, 1.0), ("sigmoid", True, 0.25)):
        rnn = RNN(3, 10, 2, activation=activation, skip=skip, recurrent_scale=1.7, seed=2)
        d = rnn.diagnostics()
        assert list(d) == ["sigma_max", "rho", "bound"]
        assert d["sigma_max"] == sigma_max(rnn.params["W_r"])
        assert d["rho"] == pytest.approx(1.7, rel=1e-12)
        assert d["rho"] == spectral_radius(rnn.params["W_r"])
        assert d["bound"] == gamma * d["sigma_max"] + float(skip)
    assert Attention(3, 4, 2).diagnostics() == {}


def test_attention_parameters_come_from_init_in_their_documented_order():
    params = Attention(5, 6, 3, seed=7).params
    rng = np.random.default_rng(7)
    drawn = [rng.standard_normal(shape) for shape in [(6, 5), (6, 6), (6, 6), (6, 6), (3, 6)]]
    scales = [np.sqrt(5)] + [np.sqrt(6)] * 4
    for name, w, s in zip(["W_e", "W_q", "W_k", "W_v", "W_u"], drawn, scales, strict=True):
        np.testing.assert_array_equal(params[name], w / s)
    np.testing.assert_array_equal(params["c"], np.zeros(3))
    again = attention_params(5, 6, 3, np.random.default_rng(7), "float32")
    for name in params:
        np.testing.assert_array_equal(again[name], params[name].astype(np.float32))


# Every key of a profiled evaluation at step 0, in recording order (the pipeline's contract).
RNN_KEYS = ["valid_loss", "valid_accuracy", "valid_error", "solved", "sigma_max", "rho", "bound"]
PROFILE_KEYS = ["decay_factor", "log10_ratio", "fall_1e6", "fall_1e16"]
STATE_KEYS = ["saturation", "state_norm_last", "selfcheck_bound_ratio"]
CHECK_KEYS = ["selfcheck_rel_err", "selfcheck_ok"]
BASELINE_KEYS = ["baseline_loss", "baseline_accuracy", "baseline_error", "train_loss", "grad_norm"]


@pytest.mark.parametrize("label", MODELS)
def test_each_model_records_exactly_its_keys(label):
    task = make_task("temporal_order", T=10)
    model = MODELS[label](task.input_size, task.output_size)
    evals = []
    train(model, task, Settings(steps=2, eval_every=1, valid_size=16, probe_size=4), evals.append)
    if label == "attention":
        expected = RNN_KEYS[:4] + PROFILE_KEYS + CHECK_KEYS + BASELINE_KEYS
    else:
        expected = RNN_KEYS + PROFILE_KEYS + STATE_KEYS + CHECK_KEYS + BASELINE_KEYS
    assert list(evals[0].scalars) == expected
    p = model.probe(*task.validation_set(np.random.default_rng(0), 4), task.loss, task.loss_at)
    assert list(p.scalars()) == [k for k in expected if k in PROFILE_KEYS + STATE_KEYS + CHECK_KEYS]


class Wrapped:
    """A model that is neither an RNN nor an Attention: it forwards the protocol."""

    def __init__(self, inner):
        self.inner = inner
        self.params = inner.params
        self.input_size, self.hidden_size = inner.input_size, inner.hidden_size
        self.output_size, self.dtype, self.label = inner.output_size, inner.dtype, inner.label

    def loss_and_grads(self, *args, **kwargs):
        return self.inner.loss_and_grads(*args, **kwargs)

    def scores(self, *args, **kwargs):
        return self.inner.scores(*args, **kwargs)

    def probe(self, *args):
        return self.inner.probe(*args)

    def diagnostics(self):
        return self.inner.diagnostics()


@pytest.mark.parametrize("label", MODELS)
def test_training_does_not_ask_which_model_it_holds(label):
    task = make_task("adding", T=10)
    settings = Settings(steps=6, eval_every=3, valid_size=16, probe_size=4)
    runs = []
    for wrap in (lambda m: m, Wrapped):
        model = wrap(MODELS[label](task.input_size, task.output_size))
        assert isinstance(model, Model)
        evals = []
        train(model, task, settings, evals.append)
        runs.append([e.scalars for e in evals])
    np.testing.assert_equal(runs[1], runs[0])  # the same numbers (NaN where NaN)
    assert [list(s) for s in runs[1]] == [list(s) for s in runs[0]]


def test_the_engine_tasks_and_training_run_with_numpy_alone():
    """Imported, and a run on the digits (whose data ship with the package) trained."""
    heavy = ["hydra", "mlflow", "pandas", "matplotlib", "seaborn", "sklearn", "omegaconf"]
    code = (
        "import sys; import rnngrad, rnngrad.tasks, rnngrad.training, rnngrad.profile; "
        "task = rnngrad.tasks.make_task('digits'); "
        "rnngrad.training.train(rnngrad.RNN(8, 4, 10), task, "
        "rnngrad.training.Settings(steps=1, valid_size=8, probe_size=2)); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout
