"""The pure training loop (rnngrad/training.py): evaluations and profiles where promised,
early stop when solved, divergence as an outcome, determinism; Settings that check
themselves.

Run: .venv/bin/pytest tests/test_training.py
"""

import numpy as np
import pytest

from rnngrad import RNN
from rnngrad.checks import BadValue
from rnngrad.tasks import make_task
from rnngrad.training import Settings, train


def run(task, settings, **model):
    evals = []
    rnn = RNN(
        task.input_size, model.pop("hidden", 16), task.output_size, seed=settings.seed, **model
    )
    outcome = train(rnn, task, settings, on_eval=evals.append)
    return outcome, evals


def test_evaluations_profiles_and_a_finished_run():
    task = make_task("copy_memory", T=5)
    settings = Settings(
        steps=50,
        eval_every=20,
        profile_every=40,
        valid_size=64,
        probe_size=8,
        lr=0.1,
        clip=1.0,
        early_stop=False,
    )
    outcome, evals = run(task, settings)
    assert outcome.status == "finished" and outcome.steps == 50
    assert [e.step for e in evals] == [0, 20, 40, 50]
    assert [e.log10_long is not None for e in evals] == [True, False, True, True]
    first, last = evals[0], evals[-1]
    assert np.isnan(first.scalars["train_loss"])  # no update yet
    for key in (
        "valid_loss",
        "valid_accuracy",
        "valid_sequence_accuracy",
        "sigma_max",
        "rho",
        "bound",
        "saturation",
        "state_norm_last",
        "decay_factor",
        "log10_ratio",
        "train_loss",
        "grad_norm",
        "selfcheck_rel_err",
        "selfcheck_bound_ratio",
    ):
        assert np.isfinite(last.scalars[key]), key
    assert {"fall_1e6", "fall_1e16"} <= last.scalars.keys()  # NaN: never fell that far
    assert last.scalars["selfcheck_ok"] == 1.0 and last.check.ok
    assert last.scalars["selfcheck_bound_ratio"] <= 1.0  # every example, every step
    assert last.log10_long.shape == last.log10_total.shape == (task.seq_len,)
    assert last.state_norm.shape == last.saturation_t.shape == (task.seq_len,)
    assert outcome.final == last.scalars


def test_profiles_every_profile_every_steps_even_between_evaluations():
    task = make_task("temporal_order", T=10)
    settings = Settings(
        steps=100, eval_every=40, profile_every=25, valid_size=32, probe_size=4, early_stop=False
    )
    _, evals = run(task, settings)
    assert [e.step for e in evals if e.log10_long is not None] == [0, 25, 50, 75, 100]
    assert [e.step for e in evals] == [0, 25, 40, 50, 75, 80, 100]


def test_stops_early_when_solved():
    task = make_task("temporal_order", T=10)
    settings = Settings(steps=2000, eval_every=50, valid_size=200, lr=0.5, clip=1.0)
    outcome, evals = run(task, settings, hidden=32)
    assert outcome.status == "solved" and outcome.steps < 2000
    assert outcome.final["valid_error"] == 0.0
    assert evals[-1].log10_long is not None  # the final state always has a profile


def test_divergence_is_an_outcome():
    task = make_task("adding", T=20)
    settings = Settings(steps=200, eval_every=10, valid_size=50, lr=1e6)
    outcome, evals = run(task, settings, recurrent_init="singular_value", recurrent_scale=3.0)
    assert outcome.status == "diverged"
    assert outcome.diverged_at == evals[-1].step == outcome.steps + 1
    assert not np.isfinite(outcome.final["train_loss"]) or not np.isfinite(
        outcome.final["grad_norm"]
    )


class Forced(RNN):
    """An RNN whose step `at` has the loss `loss` (and its true gradient): a divergence made
    to happen where the test needs it."""

    def __init__(self, *args, at: int, loss: float, **kw):
        super().__init__(*args, **kw)
        self.at, self.forced, self.calls = at, loss, 0

    def loss_and_grads(self, *args, **kw):
        out = super().loss_and_grads(*args, **kw)
        self.calls += 1
        if self.calls == self.at:
            out.loss = self.forced
        return out


def test_a_non_finite_loss_diverges_with_its_gradients_norm_recorded_and_no_update():
    task = make_task("adding", T=10)
    rnn = Forced(task.input_size, 8, task.output_size, seed=0, at=3, loss=np.inf)
    params = {}
    outcome = train(
        rnn,
        task,
        Settings(steps=10, eval_every=1, valid_size=16, probe_size=4),
        on_eval=lambda ev: params.update({ev.step: {k: v.copy() for k, v in rnn.params.items()}}),
    )
    assert outcome.status == "diverged" and outcome.diverged_at == 3 and outcome.steps == 2
    assert np.isinf(outcome.final["train_loss"]) and np.isfinite(outcome.final["grad_norm"])
    for k, v in rnn.params.items():  # the step with the non-finite loss changed nothing
        np.testing.assert_array_equal(v, params[2][k])


def test_an_update_that_overflows_the_parameters_diverges_without_a_warning():
    class Huge(RNN):  # finite gradients of ~1e300: their norm is finite, 1e10·g is not
        def loss_and_grads(self, *args, **kw):
            out = super().loss_and_grads(*args, **kw)
            out.grads = {k: g * 1e300 for k, g in out.grads.items()}
            return out

    task = make_task("adding", T=10)
    rnn = Huge(task.input_size, 8, task.output_size, seed=0)
    outcome = train(rnn, task, Settings(steps=5, eval_every=1, valid_size=16, lr=1e10))
    assert outcome.status == "diverged" and outcome.diverged_at == 1
    assert np.isfinite(outcome.final["grad_norm"])  # the gradient was fine; lr·g was not


def test_same_seed_same_run():
    task = make_task("permutation", T=8)
    settings = Settings(steps=30, eval_every=10, valid_size=40, seed=3)
    a, _ = run(task, settings)
    b, _ = run(task, settings)
    c, _ = run(task, Settings(**{**settings.__dict__, "seed": 4}))
    assert a.final == pytest.approx(b.final, nan_ok=True)
    assert a.final["valid_loss"] != c.final["valid_loss"]


BAD_SETTINGS = [
    ("steps", 0, "steps: expected an integer >= 1; got 0"),
    ("batch_size", 2.0, "batch_size: expected an integer >= 1; got 2.0"),
    ("eval_every", -1, "eval_every: expected an integer >= 1; got -1"),
    ("profile_every", None, "profile_every: expected an integer >= 1; got None"),
    ("valid_size", True, "valid_size: expected an integer >= 1; got True"),
    ("probe_size", 0, "probe_size: expected an integer >= 1; got 0"),
    ("lr", 0.0, "lr: expected a positive finite number; got 0.0"),
    ("lr", float("inf"), "lr: expected a positive finite number; got inf"),
    (
        "clip",
        0.0,
        "clip: expected a positive number, or None (null in a config) for no clipping; got 0.0",
    ),
    (
        "clip",
        -1,
        "clip: expected a positive number, or None (null in a config) for no clipping; got -1",
    ),
    (
        "clip",
        float("inf"),
        "clip: expected a positive number, or None (null in a config) for no clipping; got inf",
    ),
    ("seed", -1, "seed: expected an integer >= 0; got -1"),
    ("early_stop", "yes", "early_stop: expected True or False; got 'yes'"),
    ("vanishing_reg", -0.5, "vanishing_reg: expected a finite number >= 0; got -0.5"),
]


@pytest.mark.parametrize("field,value,message", BAD_SETTINGS)
def test_settings_reject_what_no_run_could_use(field, value, message):
    with pytest.raises(BadValue) as err:
        Settings(**{field: value})
    assert str(err.value) == message and err.value.name == field and err.value.value is value


def test_settings_defaults():
    """The documented defaults (the pipeline's configuration schema is built from them)."""
    assert Settings().__dict__ == dict(
        steps=1000,
        batch_size=32,
        lr=0.1,
        vanishing_reg=0.0,
        clip=None,
        eval_every=100,
        profile_every=100,
        valid_size=500,
        probe_size=64,
        early_stop=True,
        seed=0,
    )
    assert Settings(clip=0.5, lr=1, seed=np.int64(3)).clip == 0.5


@pytest.mark.parametrize(
    "model",
    [
        dict(activation="relu", recurrent_init="identity"),  # the IRNN
        dict(activation="tanh", leak=0.3),
        dict(activation="tanh", init="smart_tanh"),
    ],
    ids=["irnn", "leaky", "smart_tanh"],
)
def test_the_remedies_train_with_their_self_check_passing(model):
    task = make_task("temporal_order", T=12)
    settings = Settings(steps=40, eval_every=20, valid_size=64, probe_size=8, clip=1.0)
    outcome, evals = run(task, settings, **model)
    assert outcome.status in ("finished", "solved")
    assert all(e.check.ok for e in evals if e.check is not None), [e.check for e in evals]
    assert "omega" not in evals[-1].scalars  # recorded only where Ω is in the objective


def test_the_regulariser_is_recorded_and_changes_the_updates():
    task = make_task("temporal_order", T=12)
    base = dict(steps=20, eval_every=10, valid_size=64, probe_size=8, clip=None, lr=0.05)
    runs = {}
    for reg in (0.0, 2.0):
        rnn = RNN(task.input_size, 16, task.output_size, seed=0)
        evals = []
        train(rnn, task, Settings(**base, vanishing_reg=reg), on_eval=evals.append)
        runs[reg] = rnn.params, evals
    (plain, _), (regularised, evals) = runs[0.0], runs[2.0]
    assert [np.isfinite(e.scalars["omega"]) for e in evals[1:]] == [True, True]
    assert np.isnan(evals[0].scalars["omega"])  # no update before step 0
    assert not np.allclose(plain["W_r"], regularised["W_r"])
