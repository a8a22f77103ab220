"""What the training loop, the profiles and the pipeline need of a model: the `Model`
protocol. rnngrad.rnn.RNN and rnngrad.attention.Attention provide it; nothing outside a
model asks which model it is.

A new model implements every member below; its `probe` builds a rnngrad.profile.Probe (its
profiles from a log-space reference, rnngrad.reference, and its self-check,
rnngrad.selfcheck), and its constructor is the single source of its defaults.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from .profile import Probe


@runtime_checkable
class Model(Protocol):
    params: dict[str, np.ndarray]  # name -> array; updated in place by training
    input_size: int  # D: token ids in [0, D) or D floats per step
    hidden_size: int  # H (RNN) or the model size d (attention)
    output_size: int  # C: classes or real outputs per scored step
    dtype: str  # "float64" or "float32"

    @property
    def label(self) -> str:
        """The model's name in records and figures: "rnn tanh", "rnn sigmoid + skip",
        "attention"."""
        ...

    def loss_and_grads(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        loss: str = "cross_entropy",
        loss_at: str = "all",
        per_example: bool = False,
    ) -> Any:
        """J, ∂J/∂θ (`grads`, keyed like `params`), `scores`, `dx_norms` (T,) for one batch."""
        ...

    def scores(self, inputs: np.ndarray, loss_at: str = "all") -> np.ndarray:
        """The forward pass alone: (T, B, C) for every step, or (B, C) for the last one."""
        ...

    def probe(self, inputs: np.ndarray, targets: np.ndarray, loss: str, loss_at: str) -> Probe:
        """Gradient profiles, state and self-check of one batch (parameters unchanged)."""
        ...

    def diagnostics(self) -> dict[str, float]:
        """Scalars of the parameters recorded at every evaluation ({} if none)."""
        ...
