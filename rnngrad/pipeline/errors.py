"""Bad configuration, said in one line: the key, the value, and what is allowed.

Hydra and OmegaConf report composition errors over several lines, without the allowed
keys; `one_line` turns them (and our ConfigError) into a single sentence.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml
from hydra.errors import HydraException, MissingConfigException
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    OmegaConfBaseException,
    ValidationError,
)

from .config import ConfigError


class JobError(Exception):
    """A job's error already said in one line, by the worker process that had its whole
    chain of causes (an exception sent between processes loses them)."""


def one_line(err: BaseException) -> str:
    for exc in chain(err):
        if isinstance(exc, ConfigError | JobError):
            return str(exc)
        if isinstance(exc, yaml.YAMLError):
            return yaml_error(exc)
        if isinstance(exc, MissingConfigException):
            return missing_option(exc)
        if isinstance(exc, ConfigKeyError | ConfigAttributeError):
            return unknown_key(exc)
        if isinstance(exc, ValidationError):
            return f"{exc.full_key}={exc.value!r}: {first_line(exc.msg)}"
    for exc in chain(err):
        if isinstance(exc, HydraException | OmegaConfBaseException):
            return first_line(str(exc))
        if is_database_error(exc):  # MLflow wraps it in a message that opens with SQL advice
            return f"the store's database: {first_line(str(exc.orig))}"
    return f"{type(err).__name__}: {first_line(str(err))}"


def is_database_error(exc: BaseException) -> bool:
    """SQLAlchemy's wrapper of the database driver's own error (sqlite3, psycopg2)."""
    return type(exc).__module__.startswith("sqlalchemy") and hasattr(exc, "orig")


def chain(err: BaseException):
    while err is not None:
        yield err
        err = err.__cause__ or err.__context__


def yaml_error(exc) -> str:
    """ "conf/experiment/x.yaml, line 3: YAML syntax error: ..." (path relative to the project)."""
    mark = getattr(exc, "problem_mark", None)
    where = "a config file"
    if mark is not None:
        name = str(mark.name)
        root = str(Path(__file__).resolve().parents[2]) + "/"
        where = f"{name.removeprefix(root)}, line {mark.line + 1}"
    what = ", ".join(
        str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p
    )
    return f"{where}: YAML syntax error: {what or first_line(str(exc))}"


def first_line(text: str) -> str:
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def unknown_key(exc: ConfigKeyError | ConfigAttributeError) -> str:
    allowed = ""
    if exc.object_type is not None and dataclasses.is_dataclass(exc.object_type):
        names = [f.name for f in dataclasses.fields(exc.object_type)]
        allowed = f"; allowed keys: {', '.join(names)}"
    return f"{exc.full_key}: unknown key{allowed}"


def missing_option(exc: MissingConfigException) -> str:
    text = str(exc)
    wanted = re.search(r"Could not find '([^']+)'", text)
    options = re.findall(r"^\t(\S+)$", text, flags=re.M)
    if wanted and "/" in wanted.group(1):
        group, option = wanted.group(1).rsplit("/", 1)
        return f"{group}={option}: unknown option; allowed: {', '.join(options) or '(none)'}"
    return first_line(text)
