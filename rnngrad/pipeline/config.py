"""The configuration: its schema, generated from the engine, and its one validation.

Every default is written once, where the value is used:

- a task's parameters: its class's constructor (rnngrad/tasks/), e.g. TemporalOrder(T=10);
- a model's parameters: its class's constructor (rnngrad/rnn.py, rnngrad/attention.py), except
  hidden_size, which the engine requires and the pipeline sets (HIDDEN_SIZE);
- optim and train: the fields of rnngrad.training.Settings (optim: OPTIM_KEYS; train: the
  rest, plus the remedy's name);
- tracking: TrackingConf below;
- internal: InternalConf below, what the sweeper tells each job and the pipeline's debugging
  hook; not a setting of the experiment (never a param).

Hydra's ConfigStore gets one schema per task and per model (the options `task=<name>` and
`model=<name>`), so a key that does not apply to the chosen one (task.T for digits,
model.activation for attention) fails when Hydra composes, with the keys that do apply.
`build` then builds the task, the model and the training settings once: the engine checks
its own arguments, and a bad one comes back as ConfigError naming the config key. The Plan it
returns is what a job runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from ..attention import Attention
from ..checks import BadValue
from ..model import Model
from ..rnn import RNN
from ..tasks import TASKS, Task
from ..training import Settings

MODELS: dict[str, type] = {"rnn": RNN, "attention": Attention}
NOT_CONFIGURED = ("input_size", "output_size", "seed")  # a model's: the task's sizes, train.seed
HIDDEN_SIZE = 32  # the one default the engine leaves to its caller
OPTIM_KEYS = ("lr", "clip", "batch_size", "vanishing_reg")


def schema_of(name: str, cls: type, skip: tuple[str, ...] = ()) -> type:
    """A dataclass with `name` and every constructor parameter of `cls` (but `skip`), typed
    and defaulted as the constructor is."""
    hints = typing.get_type_hints(cls.__init__)
    fields: list[tuple] = [("name", str, field(default=name))]
    for param in inspect.signature(cls).parameters.values():
        if param.name in skip or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = HIDDEN_SIZE if param.name == "hidden_size" else param.default
        if default is param.empty:
            raise TypeError(f"{cls.__name__}({param.name}): a config option needs a default")
        fields.append((param.name, plain_type(hints[param.name]), field(default=default)))
    schema = dataclasses.make_dataclass(f"{cls.__name__}Conf", fields)
    schema.option = name  # the option that chose this schema: its `name` must stay that
    return schema


def settings_schema(name: str, keys, extra: tuple = ()) -> type:
    """A dataclass of the Settings fields in `keys`, typed and defaulted as Settings is."""
    hints = typing.get_type_hints(Settings)
    fields = [(f.name, plain_type(hints[f.name]), field(default=f.default)) for f in keys]
    return dataclasses.make_dataclass(name, [*fields, *extra])


def plain_type(hint):
    """`float | None` as typing.Optional[float], which OmegaConf understands."""
    if isinstance(hint, types.UnionType):
        return typing.Union[hint.__args__]  # noqa: UP007
    return hint


SETTINGS = dataclasses.fields(Settings)
OptimConf = settings_schema("OptimConf", [f for f in SETTINGS if f.name in OPTIM_KEYS])
TrainConf = settings_schema(
    "TrainConf",
    [f for f in SETTINGS if f.name not in OPTIM_KEYS],
    extra=(
        # the remedy a run applies, by name (plain SGD, clipping, IRNN, ...): the reports draw
        # it as one axis; the settings it stands for stay in the run's params
        ("remedy", plain_type(str | None), field(default=None)),
    ),
)
PIPELINE_ONLY = ("remedy",)  # train keys that are not Settings fields


@dataclass
class TrackingConf:
    enabled: bool = True
    uri: str | None = None  # null: $MLFLOW_TRACKING_URI, else SQLite in the project root
    artifact_root: str | None = None  # null: <project>/mlartifacts for the SQLite store
    experiment: str = "rnngrad"
    rerun: bool = False  # run again configurations that already finished
    stale_after_min: float = 30.0  # a RUNNING run silent this long on another host is dead
    progress_every_s: float = 5.0  # at most one progress line per job this often
    list_skipped: bool = False  # name each configuration a sweep skips as already finished
    report: bool = False  # when a sweep ends, build its report and attach it (make sweep does)
    ui: str | None = None  # the MLflow UI that report's run ids link to (make sweep: make ui's)
    # profile.png in each run: its profiles over training, drawn by matplotlib (~0.2 s a run:
    # most of what tracking costs a short job). The UI charts the initial and final profiles
    # from the run's metrics either way, and the reports draw from profiles.npz.
    run_figure: bool = False


@dataclass
class InternalConf:
    """Not user configuration: what the sweeper tells each of its jobs, and a debugging hook.
    None of it is logged as a param; only a sweep over the crash hook (the tests') names it."""

    experiment_id: str | None = None
    parent_run_id: str | None = None  # the sweep's run; None: a single run
    job_total: int | None = None
    git_commit: str | None = None  # the sweep's, so that each job need not ask git
    swept: str | None = None  # the config keys the sweep varies, comma-separated
    run_name: str | None = None  # the job's name (labels.run_names)
    # raise at the first evaluation at or after this step: the failure path, on purpose. The
    # one internal key that is part of a run's identity (config_hash): a run made to fail is
    # not the run that finishes.
    crash_at_step: int | None = None


@dataclass
class Config:
    task: Any = MISSING  # one of TASKS' schemas
    model: Any = MISSING  # one of MODELS' schemas
    optim: Any = field(default_factory=OptimConf)
    train: Any = field(default_factory=TrainConf)
    tracking: TrackingConf = field(default_factory=TrackingConf)
    internal: InternalConf = field(default_factory=InternalConf)


def register() -> None:
    """Put the schemas in Hydra's ConfigStore (conf/config.yaml starts from `schema`)."""
    store = ConfigStore.instance()
    store.store(name="schema", node=Config)
    for name, cls in TASKS.items():
        store.store(group="task", name=name, node=schema_of(name, cls))
    for name, cls in MODELS.items():
        store.store(group="model", name=name, node=schema_of(name, cls, NOT_CONFIGURED))


def param_types() -> dict[str, type]:
    """Every key a run logs as a param (the flattened config and the task's sizes) with its
    Python type: how the reports read back params, which MLflow stores as strings."""
    groups = {
        "task": [schema_of(name, cls) for name, cls in TASKS.items()],
        "model": [schema_of(name, cls, NOT_CONFIGURED) for name, cls in MODELS.items()],
        "optim": [OptimConf],
        "train": [TrainConf],
        "tracking": [TrackingConf],
    }
    found = {f"task.{size}": int for size in ("seq_len", "input_size", "output_size")}
    for group, schemas in groups.items():
        for schema in schemas:
            for key, hint in typing.get_type_hints(schema).items():
                kinds = [k for k in typing.get_args(hint) if k is not type(None)] or [hint]
                found[f"{group}.{key}"] = kinds[0]
    return found


class ConfigError(ValueError):
    """A configuration value that is not allowed: key, value, what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        super().__init__(f"{key}={value}: {allowed}")
        self.key, self.value, self.allowed = key, value, allowed


@dataclass
class Plan:
    """A validated configuration and what it builds: the task, the model, the settings."""

    cfg: DictConfig
    task: Task
    model: Model
    settings: Settings


def build(cfg: DictConfig) -> Plan:
    """Build the task, the model and the settings of `cfg`, or raise ConfigError for the first
    value no run could use."""
    unknown_keys(cfg)
    for group in ("task", "model"):
        chosen = getattr(OmegaConf.get_type(cfg[group]), "option", None)
        if cfg[group].name != chosen:
            allowed = f"set by choosing the option ({group}={chosen} here), not on its own"
            raise ConfigError(f"{group}.name", cfg[group].name, allowed)
    if not str(cfg.tracking.experiment).strip():
        raise ConfigError("tracking.experiment", "''", "expected a non-empty name")
    task_params, model_params = parameters(cfg.task), parameters(cfg.model)
    train = {k: v for k, v in plain(cfg.train).items() if k not in PIPELINE_ONLY}
    with config_keys("task"):
        task = TASKS[cfg.task.name](**task_params)
    with config_keys(lambda key: "optim" if key in OPTIM_KEYS else "train"):
        settings = Settings(**plain(cfg.optim), **train)
    with config_keys("model"):
        model = MODELS[cfg.model.name](
            task.input_size, output_size=task.output_size, seed=settings.seed, **model_params
        )
    takes_reg = "vanishing_reg" in inspect.signature(model.loss_and_grads).parameters
    if settings.vanishing_reg and not takes_reg:
        allowed = f"expected 0 with model={cfg.model.name}: Ω needs a recurrent state (model=rnn)"
        raise ConfigError("optim.vanishing_reg", settings.vanishing_reg, allowed)
    return Plan(cfg, task, model, settings)


_READY: dict[str, Plan] = {}  # built in this process and not yet run, by config hash


def remember(plan: Plan) -> None:
    """Keep a plan built to check a configuration for the job of this process that runs it."""
    _READY[config_hash(plan.cfg)] = plan


def take(cfg: DictConfig) -> Plan:
    """The plan of `cfg`: the one this process built when it checked it (once), else built
    now. Its config is `cfg`, the job's own (tracking values differ; the hash does not)."""
    plan = _READY.pop(config_hash(cfg), None)
    return Plan(cfg, plan.task, plan.model, plan.settings) if plan else build(cfg)


def parameters(node: DictConfig) -> dict:
    """A task's or model's constructor arguments: its config without `name`."""
    return {k: v for k, v in plain(node).items() if k != "name"}


@contextlib.contextmanager
def config_keys(group):
    """Turn the engine's BadValue into ConfigError naming the config key, group.param
    (`group` a name, or a function of the parameter's name)."""
    try:
        yield
    except BadValue as err:
        where = group(err.name) if callable(group) else group
        raise ConfigError(f"{where}.{err.name}", err.value, err.allowed) from None


def unknown_keys(cfg, prefix: str = "") -> None:
    """Raise ConfigError for a key the schema does not have (a `+group.key=value` adds one
    that Hydra accepts and no code would read)."""
    schema = OmegaConf.get_type(cfg)
    if not dataclasses.is_dataclass(schema):
        return
    names = [f.name for f in dataclasses.fields(schema)]
    for key in cfg:
        if key not in names:
            allowed = ", ".join(names)
            raise ConfigError(f"{prefix}{key}", cfg[key], f"unknown key; allowed keys: {allowed}")
        if isinstance(cfg[key], DictConfig):
            unknown_keys(cfg[key], f"{prefix}{key}.")


def plain(cfg: DictConfig) -> dict:
    """The resolved config as plain Python values."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def config_hash(cfg: DictConfig) -> str:
    """A stable hash of what defines a run: the resolved config without `tracking` and
    `internal`, except the crash hook (InternalConf), which is hashed as `train.crash_at_step`
    so that runs recorded before it moved to `internal` keep their hash."""
    defining = {k: v for k, v in plain(cfg).items() if k not in ("tracking", "internal")}
    defining["train"] = {**defining["train"], "crash_at_step": cfg.internal.crash_at_step}
    text = json.dumps(defining, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
