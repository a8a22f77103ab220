"""What every task provides, and the metrics they share.

A task turns an explicit np.random.Generator into a batch in exactly the engine's formats:
inputs (T, B) int ids or (T, B, D) floats; targets (T, B) / (B,) class ids for
cross-entropy, (T, B, C) / (B, C) floats for squared error, by `loss_at`. Training and
validation draw from separate generators (`streams`), so a validation batch never shares
random state with the training stream.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from .. import checks

SPLITS = ("train", "valid")


def streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent (train, valid) generators for one run seed."""
    train, valid = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(train), np.random.default_rng(valid)


class Task(ABC):
    """A sequence problem: batches, shape facts, metrics beyond the loss, and baselines.

    Subclasses set `name`, `loss` ("cross_entropy" or "mse"), `loss_at` ("all" or "last"),
    `metric` (the one metric that says how well the task is done) and `higher_is_better`,
    `input_size`, `output_size`, `seq_len` (the T actually produced), and implement
    `_generate`, `metrics` and `baseline`. The constructor's parameters all have defaults
    (the single source of the task's defaults) and a bad value raises checks.BadValue.
    """

    name: ClassVar[str]
    loss: ClassVar[str]
    loss_at: ClassVar[str]
    metric: ClassVar[str]  # the primary metric, a key of `metrics`
    higher_is_better: ClassVar[bool]
    solved_when: ClassVar[str] = "never (no success criterion)"
    input_size: int
    output_size: int
    seq_len: int

    def batch(self, rng: np.random.Generator, batch_size: int, split: str = "train"):
        """(inputs, targets) for `batch_size` sequences drawn with `rng`."""
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng: expected a np.random.Generator; got {type(rng).__name__}")
        size = checks.integer_at_least("batch_size", batch_size, 1, "sequences per batch")
        checks.choice("split", split, SPLITS)
        return self._generate(rng, size, split)

    def validation_set(self, rng: np.random.Generator, size: int):
        """A fixed validation set: `size` sequences from the validation split."""
        return self.batch(rng, size, split="valid")

    def first_sequences(self, batch, size: int):
        """The first `size` sequences of a batch (inputs, targets); the batch axis of the
        targets depends on loss_at ((T, B, ...) for "all", (B, ...) for "last")."""
        inputs, targets = batch
        return inputs[:, :size], (targets[:, :size] if self.loss_at == "all" else targets[:size])

    @abstractmethod
    def _generate(self, rng: np.random.Generator, batch_size: int, split: str): ...

    @abstractmethod
    def metrics(self, scores: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """Metrics of a prediction: always "loss" (per step for loss_at="all", per sequence
        for "last", so it compares with the baseline), plus the task's own."""

    @abstractmethod
    def baseline(self, targets: np.ndarray | None = None) -> dict[str, float]:
        """The same metrics for a model that learned nothing, scored on `targets` (a run's
        validation targets: the same data as its metrics), or, without targets, their expected
        value on the validation data. Accuracy is that of the no-learning prediction's argmax
        with ties broken at random, in expectation (a uniform guess over k classes: 1/k)."""

    def solved(self, metrics: dict[str, float]) -> bool:
        """Whether validation metrics meet the task's success criterion (`solved_when`)."""
        return False

    @property
    def has_criterion(self) -> bool:
        return type(self).solved is not Task.solved


# -- shared metrics --------------------------------------------------------------------------


def mean_cross_entropy(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean over all positions of -log softmax(scores)[target], in nats."""
    s = scores.reshape(-1, scores.shape[-1]).astype(np.float64)
    z = s - s.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(s)), targets.ravel()].mean())


def classification_metrics(scores: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """For one class per sequence (loss at the last step): loss, accuracy, error."""
    accuracy = float((scores.argmax(axis=-1) == targets).mean())
    return {
        "loss": mean_cross_entropy(scores, targets),
        "accuracy": accuracy,
        "error": 1.0 - accuracy,
    }


def uniform_guess(classes: int) -> dict[str, float]:
    return {"loss": math.log(classes), "accuracy": 1 / classes, "error": 1 - 1 / classes}
