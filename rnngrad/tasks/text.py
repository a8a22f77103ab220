"""Real text: next-character prediction on Python's own help text.

The corpus is `pydoc_data.topics` (the text behind `help("topics")`), which ships with
CPython: its topics joined in sorted key order, ≈465 k characters over ≈100 symbols.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from .. import checks
from .base import Task, mean_cross_entropy


@cache
def load_corpus() -> str:
    try:
        from pydoc_data.topics import topics
    except ImportError as err:  # some distributions strip it
        raise ValueError(
            "text task: this Python has no module 'pydoc_data.topics' (the corpus); "
            "install a full CPython build or pick another task"
        ) from err
    return "\n".join(topics[key] for key in sorted(topics))


@cache
def encoded_corpus() -> tuple[list[str], np.ndarray]:
    """The corpus's alphabet (sorted) and the corpus as ids into it, computed once."""
    corpus = load_corpus()
    alphabet = sorted(set(corpus))
    lookup = {ch: i for i, ch in enumerate(alphabet)}
    ids = np.array([lookup[ch] for ch in corpus], dtype=np.intp)
    ids.flags.writeable = False  # shared by every Text task: slices must not be written
    return alphabet, ids


class Text(Task):
    """Next-character prediction (a character-level language model, as in min-char-rnn).

    Input: a random window of T + 1 characters of the corpus; the first T as one-hot ids.
    Target at every step: the next character. Cross-entropy at every step; "loss" below is
    its mean per step in nats, "bpc" the same in bits per character.

    Split: the first 90 % of the corpus is training text, the last 10 % validation text, so
    no validation window shares a character with a training window. The alphabet is that of
    the whole corpus. No-learning baseline: a unigram model (a model that learned only the
    character frequencies of the training text), scored on the validation text it is
    compared on: its cross-entropy there, and the share of validation characters equal to
    the most frequent training character.
    """

    name = "text"
    loss, loss_at = "cross_entropy", "all"
    metric, higher_is_better = "bpc", False

    def __init__(self, T: int = 50, valid_fraction: float = 0.1) -> None:
        self.T = self.seq_len = checks.integer_at_least("T", T, 1, "characters per window")
        checks.fraction("valid_fraction", valid_fraction)
        self.alphabet, ids = encoded_corpus()
        cut = round(len(ids) * (1 - valid_fraction))
        self.split = {"train": ids[:cut], "valid": ids[cut:]}
        self.input_size = self.output_size = len(self.alphabet)
        for name, part in self.split.items():
            if len(part) < self.T + 1:
                raise checks.BadValue("T", T, f"expected at most {len(part) - 1} (the {name} text)")

    def _generate(self, rng, batch_size, split):
        text = self.split[split]
        starts = rng.integers(0, len(text) - self.T, size=batch_size)
        window = text[starts[None, :] + np.arange(self.T + 1)[:, None]]  # (T + 1, B)
        return window[:-1], window[1:]

    def decode(self, ids: np.ndarray) -> str:
        return "".join(self.alphabet[i] for i in np.ravel(ids))

    def metrics(self, scores, targets):
        nats = mean_cross_entropy(scores, targets)
        accuracy = float((scores.argmax(axis=-1) == targets).mean())
        return {"loss": nats, "bpc": nats / math.log(2), "accuracy": accuracy}

    def baseline(self, targets=None):
        """The training text's unigram model scored on `targets`, or on the whole validation
        text (every character of the corpus occurs in the training text, so no log 0)."""
        counts = np.bincount(self.split["train"], minlength=self.output_size)
        log_p = np.log(counts / counts.sum())
        y = self.split["valid"][1:] if targets is None else np.asarray(targets).ravel()
        nats = float(-log_p[y].mean())
        accuracy = float((y == counts.argmax()).mean())
        return {"loss": nats, "bpc": nats / math.log(2), "accuracy": accuracy}
