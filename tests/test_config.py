"""The configuration: every default comes from the code that uses it, a config is built (and so
validated) once, and the checklists of docs/contributing.md work as written: a throwaway task,
model option and experiment, each added exactly as the checklist says, reach a run."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import open_dict

from rnngrad import RNN
from rnngrad.pipeline import config
from rnngrad.pipeline.job import run
from rnngrad.tasks import TASKS, Task
from rnngrad.tasks.base import classification_metrics, uniform_guess
from rnngrad.training import Settings

CONF = Path(__file__).resolve().parents[1] / "conf"
TINY = ["debug=default", "tracking.enabled=false", "train.steps=4", "train.eval_every=2"]


def composed(*overrides: str):
    config.register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    with open_dict(cfg):
        cfg.pop("hydra", None)
    return cfg


def test_every_default_is_the_engines_own():
    cfg = composed("experiment=vanishing")  # the preset changes optim.clip and eval_every only
    for field in dataclasses.fields(Settings):
        group = "optim" if field.name in config.OPTIM_KEYS else "train"
        if (group, field.name) not in (("optim", "clip"), ("train", "eval_every")):
            assert cfg[group][field.name] == field.default, field.name
    rnn_defaults = inspect.signature(RNN).parameters
    for key in ("activation", "skip", "dtype", "recurrent_init", "recurrent_scale"):
        assert cfg.model[key] == rnn_defaults[key].default, key
    assert cfg.model.hidden_size == config.HIDDEN_SIZE
    for name, cls in TASKS.items():
        task = composed(f"task={name}").task
        for param in inspect.signature(cls).parameters.values():
            assert task[param.name] == param.default, (name, param.name)


def test_a_model_or_task_has_only_its_own_keys():
    attention = composed("model=attention").model
    assert set(attention) == {"name", "hidden_size", "dtype"}
    assert "T" not in composed("task=digits").task and "delay" not in composed().task


def test_build_makes_the_task_model_and_settings_the_job_runs():
    plan = config.build(composed("task=adding", "task.T=20", "model.hidden_size=8"))
    assert plan.task.seq_len == 20 and plan.model.hidden_size == 8
    assert plan.model.input_size == plan.task.input_size and plan.settings.lr == 0.1
    with pytest.raises(config.ConfigError, match=r"^optim\.lr=-1\.0: expected a positive"):
        config.build(composed("optim.lr=-1"))
    with pytest.raises(config.ConfigError, match=r"^model\.recurrent_scale=inf: expected"):
        config.build(composed("model.recurrent_scale=inf"))


def test_a_task_or_model_is_chosen_by_its_option_not_by_its_name_key():
    for override, message in (
        (
            "task.name=digits",
            r"^task\.name=digits: set by choosing the option \(task=temporal_order",
        ),
        ("model.name=attention", r"^model\.name=attention: set by choosing the option"),
    ):
        with pytest.raises(config.ConfigError, match=message):
            config.build(composed(override))


def test_a_sweep_over_tasks_counts_the_keys_only_some_tasks_have_as_swept():
    from rnngrad.pipeline.sweeper import flat_configs, varied_keys

    plans = [config.build(composed("task=digits")), config.build(composed("task=temporal_order"))]
    swept = varied_keys(flat_configs(plans))
    assert {"task.name", "task.T", "task.delay", "task.mode"} <= set(swept)
    assert "model.activation" not in swept


def test_a_constructor_parameter_without_a_default_cannot_become_a_config_option():
    class Sizeless(RNN):
        def __init__(self, input_size: int, hidden_size: int, output_size: int, depth: int):
            super().__init__(input_size, hidden_size, output_size)

    with pytest.raises(TypeError, match=r"Sizeless\(depth\): a config option needs a default"):
        config.schema_of("sizeless", Sizeless, config.NOT_CONFIGURED)


class Parity(Task):
    """Throwaway task for the checklist test: the parity of T bits, read at the last step."""

    name = "parity"
    loss, loss_at = "cross_entropy", "last"
    metric, higher_is_better = "accuracy", True
    input_size, output_size = 2, 2

    def __init__(self, T: int = 6) -> None:
        self.T = self.seq_len = T

    def _generate(self, rng, batch_size, split):
        bits = rng.integers(0, 2, size=(self.T, batch_size))
        return bits, bits.sum(axis=0) % 2

    def metrics(self, scores, targets):
        return classification_metrics(scores, targets)

    def baseline(self, targets=None):
        return uniform_guess(2)


class ScaledRNN(RNN):
    """Throwaway model for the checklist test: an RNN with a new option, W_u's initial scale."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        seed: int = 0,
        output_scale: float = 1.0,
    ) -> None:
        super().__init__(input_size, hidden_size, output_size, seed=seed)
        self.params["W_u"] *= output_scale


@pytest.fixture
def throwaway(monkeypatch):
    """A task and a model registered as docs/contributing.md says; unregistered afterwards."""
    monkeypatch.setitem(TASKS, "parity", Parity)
    monkeypatch.setitem(config.MODELS, "scaled_rnn", ScaledRNN)
    yield
    repo = ConfigStore.instance().repo
    repo["task"].pop("parity.yaml", None)
    repo["model"].pop("scaled_rnn.yaml", None)


def test_a_new_task_and_model_option_reach_a_run_with_no_other_change(throwaway):
    cfg = composed(*TINY, "task=parity", "task.T=7", "model=scaled_rnn", "model.output_scale=0.5")
    plan = config.build(cfg)
    unscaled = RNN(2, plan.model.hidden_size, 2, seed=0).params["W_u"]
    assert plan.task.seq_len == 7 and np.array_equal(plan.model.params["W_u"], 0.5 * unscaled)
    result = run(cfg, ["task=parity"])
    assert result["outcome"] in ("finished", "solved")


def test_a_new_experiment_preset_composes_and_builds_every_job(tmp_path):
    presets = tmp_path / "experiment"
    presets.mkdir()
    (presets / "mine.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /task: adding\n"
        "task:\n  T: 12\n"
        "optim:\n  clip: 1.0   # why: a comment, as the checklist asks\n"
        "tracking:\n  experiment: mine\n"
    )
    plan = config.build(composed(f"hydra.searchpath=[file://{tmp_path}]", "experiment=mine"))
    assert plan.task.name == "adding" and plan.task.seq_len == 12
    assert plan.settings.clip == 1.0 and plan.cfg.tracking.experiment == "mine"


def test_the_remedy_options_build_and_bad_ones_are_named_by_their_key():
    plan = config.build(
        composed("model.activation=relu", "model.leak=0.5", "optim.vanishing_reg=2")
    )
    assert plan.model.activation == "relu" and plan.model.leak == 0.5
    assert plan.settings.vanishing_reg == 2.0
    assert config.build(composed("model.init=smart_tanh")).model.params["W_r"].any()
    for override, key in (
        ("model.leak=0", "model.leak"),
        ("model.activation=gelu", "model.activation"),
        ("model.init=xavier", "model.init"),
        ("optim.vanishing_reg=-1", "optim.vanishing_reg"),
    ):
        with pytest.raises(config.ConfigError) as err:
            config.build(composed(override))
        assert err.value.key == key, override
    with pytest.raises(config.ConfigError) as err:  # Ω needs a recurrent state
        config.build(composed("model=attention", "optim.vanishing_reg=1"))
    assert err.value.key == "optim.vanishing_reg" and "model=attention" in str(err.value)
    with pytest.raises(config.ConfigError) as err:
        config.build(composed("model.skip=true", "model.leak=0.5"))
    assert err.value.key == "model.leak" and "skip=True" in str(err.value)


@pytest.mark.parametrize("preset,runs", [("remedies", 72), ("pascanu2013", 54)])
def test_the_remedy_presets_name_each_combination_and_build_every_job(preset, runs):
    """Every named combination of the preset composes and builds (the other axes, T and the
    seed, are covered by test_pipeline's every-job check); train.remedy names each (the
    reports draw it as one axis), and every name stands for different settings."""
    params = {k: str(v).split(",") for k, v in composed_sweep(preset).items()}
    assert np.prod([len(v) for v in params.values()]) == runs
    groups = [k for k in params if k.startswith("+")]
    remedies, settings = set(), set()
    for choice in itertools.product(*(params[g] for g in groups)):
        chosen = [f"{g}={c}" for g, c in zip(groups, choice, strict=True)]
        cfg = composed(f"experiment={preset}", *chosen)
        plan = config.build(cfg)
        assert plan.cfg.tracking.experiment == preset
        remedies.add(plan.cfg.train.remedy)
        settings.add(config.config_hash(cfg))
    assert None not in remedies
    assert len(settings) == np.prod([len(params[g]) for g in groups])  # all distinct


def composed_sweep(preset: str) -> dict:
    config.register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={preset}"], return_hydra_config=True)
    return dict(cfg.hydra.sweeper.params)


@pytest.mark.parametrize(
    "overrides,digest",
    [
        ((), "44f058640107822a"),
        (("model.activation=sigmoid", "task.T=100"), "e64bb36eed58ac5e"),
        (("internal.crash_at_step=10",), "afe9b202dd447ee3"),  # recorded as train.crash_at_step
        (("experiment=remedies", "+remedy=irnn"), "3fd79d47b5509037"),
    ],
)
def test_a_runs_identity_is_the_hash_its_store_already_has(overrides, digest):
    """A run's identity is the one earlier versions recorded, which kept the crash hook under
    `train`: a relaunch finds their runs finished instead of running them again. What the
    sweeper sets is not part of it."""
    assert config.config_hash(composed(*overrides)) == digest
    told = ("internal.parent_run_id=abc", "internal.job_total=48", "internal.run_name='x'")
    assert config.config_hash(composed(*overrides, *told)) == digest
