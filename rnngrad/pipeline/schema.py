"""The configuration schema (Hydra ConfigStore) and its validation.

The dataclasses make a misspelled key or a wrong type fail when Hydra composes the config;
`validate` then checks what a type cannot (hidden_size >= 1, T long enough for the task,
lr > 0, ...) and raises ConfigError with one line naming the key, the value and what is
allowed. Both happen before any training and before any MLflow run exists.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from ..init import RECURRENT_INITS
from ..tasks import TASKS, make_task

Activation = Enum("Activation", {"tanh": "tanh", "sigmoid": "sigmoid"})
RecurrentInit = Enum("RecurrentInit", {name: name for name in RECURRENT_INITS})
DType = Enum("DType", {"float64": "float64", "float32": "float32"})
TaskName = Enum("TaskName", {name: name for name in TASKS})
ModelName = Enum("ModelName", {"rnn": "rnn", "attention": "attention"})


@dataclass
class TaskConf:
    name: TaskName = MISSING
    T: int | None = None  # nominal sequence length (not for digits)
    delay: int | None = None  # digits: blank steps after the image
    mode: str | None = None  # digits: row, pixel or permuted


@dataclass
class ModelConf:
    name: ModelName = ModelName.rnn  # attention: activation, skip and W_r's init do not apply
    hidden_size: int = 32  # H for the RNN; the model size d for attention
    activation: Activation = Activation.tanh
    skip: bool = False
    recurrent_init: RecurrentInit = RecurrentInit.spectral_radius
    recurrent_scale: float = 1.0
    dtype: DType = DType.float64


@dataclass
class OptimConf:
    name: str = "sgd"
    lr: float = 0.1
    clip: float | None = None  # global-norm threshold; null: no clipping
    batch_size: int = 32


@dataclass
class TrainConf:
    steps: int = 1000
    eval_every: int = 100
    profile_every: int = 100
    valid_size: int = 500
    probe_size: int = 64
    early_stop: bool = True
    seed: int = 0
    crash_at_step: int | None = None  # debugging aid: raise at this step (the failure path)


@dataclass
class TrackingConf:
    enabled: bool = True
    uri: str | None = None  # null: $MLFLOW_TRACKING_URI, else SQLite in the project root
    artifact_root: str | None = None  # null: <project>/mlartifacts for the SQLite store
    experiment: str = "rnngrad"
    rerun: bool = False  # run again configurations that already finished
    stale_after_min: float = 30.0  # a RUNNING run silent this long on another host is dead
    progress_every_s: float = 10.0
    # set by the sweeper for each job; not part of a run's identity
    experiment_id: str | None = None
    parent_run_id: str | None = None
    job_total: int | None = None
    git_commit: str | None = None
    swept: str | None = None  # the config keys the sweep varies, comma-separated


@dataclass
class Config:
    task: TaskConf = field(default_factory=TaskConf)
    model: ModelConf = field(default_factory=ModelConf)
    optim: OptimConf = field(default_factory=OptimConf)
    train: TrainConf = field(default_factory=TrainConf)
    tracking: TrackingConf = field(default_factory=TrackingConf)


def register() -> None:
    """Put the schema in Hydra's ConfigStore (conf/config.yaml starts from it)."""
    ConfigStore.instance().store(name="schema", node=Config)


class ConfigError(ValueError):
    """A configuration value that is not allowed: key, value, what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        super().__init__(f"{key}={value}: {allowed}")
        self.key, self.value, self.allowed = key, value, allowed


def plain(cfg: DictConfig) -> dict:
    """The resolved config as plain Python values (enums as their names)."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def task_params(cfg: DictConfig) -> dict:
    return {k: v for k, v in plain(cfg.task).items() if k != "name" and v is not None}


def unknown_keys(cfg, schema=None, prefix: str = "") -> None:
    """Raise ConfigError for a key the schema does not have (a `+group.key=value` adds one
    that Hydra accepts and no code would read)."""
    schema = schema or Config
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for key in cfg:
        if key not in fields:
            allowed = ", ".join(fields)
            raise ConfigError(f"{prefix}{key}", cfg[key], f"unknown key; allowed keys: {allowed}")
        kind = fields[key].type
        if isinstance(kind, str):
            kind = globals().get(kind)
        if dataclasses.is_dataclass(kind):
            unknown_keys(cfg[key], kind, f"{prefix}{key}.")


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value no run could use."""
    unknown_keys(cfg)
    if not str(cfg.tracking.experiment).strip():
        raise ConfigError("tracking.experiment", "''", "expected a non-empty name")
    task_name = plain(cfg.task)["name"]
    try:
        make_task(task_name, **task_params(cfg))
    except ValueError as err:
        param, _, allowed = str(err).partition(": ")
        raise ConfigError(f"task.{param}", cfg.task.get(param), allowed) from None
    for key, minimum in (
        ("model.hidden_size", 1),
        ("optim.batch_size", 1),
        ("train.steps", 1),
        ("train.eval_every", 1),
        ("train.profile_every", 1),
        ("train.valid_size", 1),
        ("train.probe_size", 1),
    ):
        value = OmegaConf.select(cfg, key)
        if value < minimum:
            raise ConfigError(key, value, f"expected an integer >= {minimum}")
    for key in ("optim.lr", "model.recurrent_scale"):
        value = OmegaConf.select(cfg, key)
        if not value > 0 or value == float("inf"):
            raise ConfigError(key, value, "expected a positive finite number")
    clip = cfg.optim.clip
    if clip is not None and not clip > 0:
        raise ConfigError("optim.clip", clip, "expected a positive number, or null for no clipping")


def config_hash(cfg: DictConfig) -> str:
    """A stable hash of what defines a run: the resolved config without `tracking`."""
    defining = {k: v for k, v in plain(cfg).items() if k != "tracking"}
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
