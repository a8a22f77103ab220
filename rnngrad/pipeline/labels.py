"""How a run and a job are named: in the console, in the sweep summary, in the MLflow UI.

A run's name is short and leads with what its sweep varies: `tanh skip T=100 H=128 s0`.
Each varied key gives one token (`tanh`, `skip` or nothing, `T=100`, `H=128`, `s0`, a named
remedy or initialisation by its name, any other key as `name=value`), in a fixed order; a key
that a named variant (train.remedy, model.init, model.name, task.name) determines across the
sweep is left to that name (`IRNN T=30 s0`, not `IRNN relu identity clip=1.0 T=30 s0`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Plan


def run_label(overrides: list[str]) -> str:
    """ "activation=tanh skip=true T=30 seed=0" from the job's overrides (tracking.* and
    internal.* left out)."""
    parts = []
    for o in overrides:
        if o.startswith(("tracking.", "internal.")) or "=" not in o:
            continue
        key, value = o.split("=", 1)
        parts.append(f"{key.rsplit('.', 1)[-1].lstrip('+~')}={value}")
    return " ".join(parts)


def job_label(name: str, index: int | None, total: int | None) -> str:
    """ "[3/48] tanh skip T=100 H=128 s0" in a sweep, "[run] ..." for a single run."""
    prefix = f"[{index + 1}/{total}]" if index is not None and total else "[run]"
    return f"{prefix} {name}".rstrip()


def run_title(plan: Plan) -> str:
    """ "temporal_order T=30 rnn tanh H=32 seed=0": a run's figure title, from what it built
    (T: the length of the sequences the task produces)."""
    task, model = plan.task, plan.model
    size = f"H={model.hidden_size} seed={plan.settings.seed}"
    return f"{task.name} T={task.seq_len} {model.label} {size}"


NAMING = ("model.name", "task.name", "train.remedy", "model.init")  # a variant by its name
FIRST = (*NAMING, "model.activation", "model.skip", "model.leak")
LAST = ("task.T", "model.hidden_size", "train.seed")
ABSENT = "(absent)"


def token(key: str, value) -> str:
    """One key's part of a name: tanh, skip (nothing when false), T=100, H=128, s0, IRNN."""
    if key in (*NAMING, "model.activation"):
        return str(value)
    if key == "model.skip":
        return "skip" if value is True or str(value).lower() == "true" else ""
    short = {"task.T": "T=", "model.hidden_size": "H=", "train.seed": "s"}
    if key in short:
        return f"{short[key]}{value}"
    return f"{key.rsplit('.', 1)[-1]}={value}"


ORDER = {k: i for i, k in enumerate(FIRST)} | {k: 100 + i for i, k in enumerate(LAST)}


def run_names(configs: list[dict]) -> list[str]:
    """The name of each job of a sweep, from the jobs' flattened configs (tracking left out).
    Should two jobs get one name (a value that prints as nothing, say), every varied key is
    named as key=value instead."""
    keys = sorted(set().union(*configs))
    values = [{k: c.get(k, ABSENT) for k in keys} for c in configs]
    varied = [k for k in keys if len({repr(v[k]) for v in values}) > 1]
    naming: list[str] = []
    for k in NAMING:  # a named variant another name already fixes (model.init by model.name)
        if k in varied and not determined(k, naming, values):
            naming.append(k)
    kept = [k for k in varied if k in naming or not determined(k, naming, values)]
    kept.sort(key=lambda k: (ORDER.get(k, 50), k))
    names = [" ".join(t for t in (token(k, v[k]) for k in kept if v[k] != ABSENT) if t) or "run"
             for v in values]  # fmt: skip
    if len(set(names)) < len(names):
        varied.sort(key=lambda k: (ORDER.get(k, 50), k))
        names = [" ".join(f"{k.rsplit('.', 1)[-1]}={v[k]}" for k in varied) for v in values]
    return names


def determined(key: str, naming: list[str], values: list[dict]) -> bool:
    """Whether `key` takes one value for each combination of the naming keys' values."""
    if not naming:
        return False
    seen = defaultdict(set)
    for v in values:
        seen[tuple(repr(v[n]) for n in naming)].add(repr(v[key]))
    return all(len(found) == 1 for found in seen.values())


NOT_NAMED = ("experiment", "debug", "cluster")  # where and how, not what


def override_name(overrides: list[str]) -> str:
    """A single run's name from its command line: the same tokens, in the same order (the
    options of the groups that say what runs, such as task=adding or +remedy=irnn, by name)."""
    pairs = []
    for o in overrides:
        key, sep, value = o.lstrip("+~").partition("=")
        if not sep or key.startswith(("tracking.", "internal.", "hydra")) or key in NOT_NAMED:
            continue
        pairs.append((key, value.strip("'\"")))
    pairs.sort(key=lambda kv: -1 if "." not in kv[0] else ORDER.get(kv[0], 50))
    tokens = (v if "." not in k else token(k, v) for k, v in pairs)
    return " ".join(t for t in tokens if t)
