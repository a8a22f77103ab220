"""The sequence tasks: how far the signal has to travel (each class defines its task).

task = make_task("temporal_order", T=30)
train_rng, valid_rng = streams(seed)
inputs, targets = task.batch(train_rng, 32)
rnn.loss_and_grads(inputs, targets, loss=task.loss, loss_at=task.loss_at)
"""

from __future__ import annotations

import inspect

from ..checks import BadValue
from .base import Task, streams
from .digits import Digits
from .synthetic import Adding, CopyMemory, Permutation, TemporalOrder
from .text import Text

TASKS: dict[str, type[Task]] = {
    cls.name: cls for cls in (TemporalOrder, Adding, Permutation, CopyMemory, Digits, Text)
}


def make_task(name: str, **params) -> Task:
    """The task called `name`, built with its parameters (e.g. T, delay, mode). Raises
    checks.BadValue naming the parameter: "task" for an unknown name, else the parameter
    that is unknown or whose value the task rejects."""
    if name not in TASKS:
        raise BadValue("task", name, f"expected one of {', '.join(map(repr, TASKS))}")
    allowed = list(inspect.signature(TASKS[name]).parameters)
    for param, value in params.items():
        if param not in allowed:
            its = f"not a parameter of task {name!r} (its parameters: {', '.join(allowed)})"
            raise BadValue(param, value, its)
    return TASKS[name](**params)


__all__ = [
    "TASKS",
    "Adding",
    "CopyMemory",
    "Digits",
    "Permutation",
    "Task",
    "TemporalOrder",
    "Text",
    "make_task",
    "streams",
]
