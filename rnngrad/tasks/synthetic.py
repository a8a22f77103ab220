"""The synthetic problems: where the signal sits in time is set by construction.

temporal_order, adding and permutation follow Pascanu, Mikolov & Bengio 2013 (code:
pascanur/trainingRNNs, tempOrder.py, addition.py, permutation.py); copy_memory follows
Arjovsky, Shah & Bengio 2016. Each class's docstring defines its task exactly and names its
no-learning baseline. Positions below are 0-based steps 0..T-1.
"""

from __future__ import annotations

import math

import numpy as np

from .. import checks
from .base import Task, classification_metrics, mean_cross_entropy, uniform_guess


class TemporalOrder(Task):
    """Temporal order (Pascanu et al. 2013, tempOrder.py).

    Input: T one-hot steps over 6 symbols, A = 0, B = 1 and four distractors 2..5. Every
    step holds a distractor drawn uniformly, except two: p0 uniform in
    [⌊0.1T⌋, 2⌊0.1T⌋) and p1 uniform in [⌊0.5T⌋, ⌊0.5T⌋ + ⌊0.1T⌋), each holding A or B
    (v0, v1 ∈ {0, 1}). Target, read at the last step: the order, class v0 + 2·v1 (AA, BA,
    AB, BB). The signal sits ~0.9T and ~0.5T steps before the loss.

    Deviation: the original docstring says p0 ∈ [1, T/10]; its code, followed here, uses
    [0.1T, 0.2T). The ranges are empty for T < 10, which is rejected.
    """

    name = "temporal_order"
    loss, loss_at = "cross_entropy", "last"
    metric, higher_is_better = "accuracy", True
    solved_when = "validation error = 0 on fresh sequences"
    input_size, output_size = 6, 4

    def __init__(self, T: int = 10) -> None:
        self.T = self.seq_len = checks.integer_at_least("T", T, 10, "positions need ⌊0.1T⌋ >= 1")

    def positions(self, rng: np.random.Generator, batch_size: int):
        tenth, half = self.T // 10, self.T // 2
        p0 = rng.integers(tenth, 2 * tenth, size=batch_size)
        p1 = rng.integers(half, half + tenth, size=batch_size)
        return p0, p1

    def _generate(self, rng, batch_size, split):
        x = rng.integers(2, 6, size=(self.T, batch_size))  # distractors  (T, B)
        p0, p1 = self.positions(rng, batch_size)
        v0, v1 = rng.integers(0, 2, size=batch_size), rng.integers(0, 2, size=batch_size)
        cols = np.arange(batch_size)
        x[p0, cols], x[p1, cols] = v0, v1
        return x, v0 + 2 * v1

    def metrics(self, scores, targets):
        return classification_metrics(scores, targets)

    def baseline(self, targets=None):
        return uniform_guess(4)

    def solved(self, metrics):
        return metrics["error"] == 0.0


class Adding(Task):
    """The adding problem (Pascanu et al. 2013, addition.py).

    Input: T steps of 2 channels. Channel 1 holds values ~ U[0, 1); channel 0 is a marker,
    1 at p0 uniform in [0, ⌊0.1T⌋) and at p1 uniform in [⌊0.1T⌋, ⌊0.5T⌋), 0 elsewhere.
    Target, a linear output read at the last step: (x_p0 + x_p1) / 2, squared error.
    A sequence counts as wrong when its squared error exceeds 0.04 (Pascanu's criterion).

    Deviation: the original draws each batch's length from [T, 1.1T); here the length is
    exactly T, so T is exactly the swept axis. Requires T >= 10.
    """

    name = "adding"
    loss, loss_at = "mse", "last"
    metric, higher_is_better = "mse", False
    solved_when = "error (fraction with squared error > 0.04) < 1 %"
    input_size, output_size = 2, 1
    threshold = 0.04

    def __init__(self, T: int = 10) -> None:
        self.T = self.seq_len = checks.integer_at_least("T", T, 10, "p0 needs ⌊0.1T⌋ >= 1")

    def positions(self, rng: np.random.Generator, batch_size: int):
        tenth, half = self.T // 10, self.T // 2
        return rng.integers(0, tenth, size=batch_size), rng.integers(tenth, half, size=batch_size)

    def _generate(self, rng, batch_size, split):
        x = np.zeros((self.T, batch_size, 2))  # (T, B, 2)
        x[:, :, 1] = rng.random((self.T, batch_size))
        p0, p1 = self.positions(rng, batch_size)
        cols = np.arange(batch_size)
        x[p0, cols, 0] = x[p1, cols, 0] = 1.0
        target = (x[p0, cols, 1] + x[p1, cols, 1]) / 2
        return x, target[:, None]  # (B, 1)

    def metrics(self, scores, targets):
        sq = ((scores - targets) ** 2).sum(axis=-1)  # (B,)
        mse = float(sq.mean())
        return {"loss": mse, "mse": mse, "error": float((sq > self.threshold).mean())}

    def baseline(self, targets=None):
        """Predicting E[y] = 1/2. In expectation, for y = (u + v)/2: MSE = Var(y) = 1/24; y has
        the triangular density 4 min(y, 1-y), so P(|y - 1/2| > 0.2) = 2 ∫_0^0.3 4y dy = 0.36."""
        if targets is None:
            return {"loss": 1 / 24, "mse": 1 / 24, "error": 0.36}
        return self.metrics(np.full_like(np.asarray(targets, dtype=float), 0.5), targets)

    def solved(self, metrics):
        return metrics["error"] < 0.01


class Permutation(Task):
    """Pascanu et al. 2013's "random permutation" problem (permutation.py, class PermTask).

    Input: T one-hot steps over 100 symbols. Step 0 holds 0 or 1; steps 1..T-1 hold symbols
    drawn uniformly from 2..99. Target, read at the last step: the first symbol. A one-bit
    memory in a high-entropy stream, T - 1 steps back: the cleanest probe of how far a
    gradient reaches. 100 outputs, of which only 2 are ever right.

    Not to be confused with Bengio, Simard & Frasconi 1994's latch problem, where the class
    is set by the first few real-valued inputs and the rest of the sequence is Gaussian
    noise: this is the permutation task as Pascanu's code generates it.

    No-learning baseline: a guess between the two possible answers (ln 2, accuracy 1/2).
    """

    name = "permutation"
    loss, loss_at = "cross_entropy", "last"
    metric, higher_is_better = "accuracy", True
    solved_when = "validation error < 1 %"
    input_size, output_size = 100, 100

    def __init__(self, T: int = 10) -> None:
        self.T = self.seq_len = checks.integer_at_least(
            "T", T, 2, "the bit and at least one distractor"
        )

    def _generate(self, rng, batch_size, split):
        x = rng.integers(2, 100, size=(self.T, batch_size))
        x[0] = rng.integers(0, 2, size=batch_size)
        return x, x[0].copy()

    def metrics(self, scores, targets):
        return classification_metrics(scores, targets)

    def baseline(self, targets=None):
        return uniform_guess(2)  # once the two possible answers are found

    def solved(self, metrics):
        return metrics["error"] < 0.01


class CopyMemory(Task):
    """Copy memory (Arjovsky, Shah & Bengio 2016, the uRNN paper).

    Symbols: 0 = blank, 1..8 = data, 9 = delimiter. Input, T + 20 steps: 10 data symbols
    drawn uniformly from 1..8, T - 1 blanks, the delimiter, 10 blanks. Target at every
    step: T + 10 blanks, then the 10 data symbols. The data must be carried T + 10 steps.
    Cross-entropy at every step; "loss" below is its mean per step.

    The memoryless strategy (blanks, then a uniform guess among the 8 data symbols) scores
    10 ln 8 / (T + 20) per step: a run at that level has learned nothing.
    """

    name = "copy_memory"
    loss, loss_at = "cross_entropy", "all"
    metric, higher_is_better = "data_accuracy", True  # sequence accuracy stays ~0 until solved
    solved_when = "sequence accuracy >= 99 %"
    input_size, output_size = 10, 10
    blank, delimiter, n_data = 0, 9, 10

    def __init__(self, T: int = 10) -> None:
        self.T = checks.integer_at_least("T", T, 1, "the delay before the delimiter")
        self.seq_len = self.T + 20

    def _generate(self, rng, batch_size, split):
        data = rng.integers(1, 9, size=(self.n_data, batch_size))
        x = np.full((self.seq_len, batch_size), self.blank)
        x[: self.n_data] = data
        x[self.n_data + self.T - 1] = self.delimiter
        y = np.full((self.seq_len, batch_size), self.blank)
        y[-self.n_data :] = data
        return x, y

    def metrics(self, scores, targets):
        right = scores.argmax(axis=-1) == targets  # (T + 20, B)
        return {
            "loss": mean_cross_entropy(scores, targets),
            "accuracy": float(right.mean()),
            "data_accuracy": float(right[-self.n_data :].mean()),
            "sequence_accuracy": float(right.all(axis=0).mean()),
        }

    def baseline(self, targets=None):  # the same on any data: every target has this layout
        steps = self.seq_len
        return {
            "loss": self.n_data * math.log(8) / steps,
            "accuracy": (steps - self.n_data + self.n_data / 8) / steps,
            "data_accuracy": 1 / 8,
            "sequence_accuracy": 8.0**-self.n_data,
        }

    def solved(self, metrics):
        return metrics["sequence_accuracy"] >= 0.99
