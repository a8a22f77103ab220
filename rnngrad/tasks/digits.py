"""Real data: the 8×8 handwritten digits read as a sequence.

The 1797 images (pixels 0..16) and their labels ship with this package in data/digits.npz,
in the order of `sklearn.datasets.load_digits`: the UCI "Optical Recognition of Handwritten
Digits" test set (Alpaydin & Kaynak 1998) as distributed by scikit-learn (BSD-3-Clause);
see data/README.md.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np

from .. import checks
from .base import Task, classification_metrics, uniform_guess

MODES = ("row", "pixel", "permuted")


@cache
def load_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 images as (N, 64) floats in [0, 1] (0–16 divided by 16), and their labels."""
    with resources.files(__package__).joinpath("data/digits.npz").open("rb") as f, np.load(f) as z:
        images, labels = z["images"], z["labels"]
    return images.reshape(len(images), 64) / 16.0, labels.astype(np.intp)


class Digits(Task):
    """Digits read row by row or pixel by pixel ("pixel MNIST" in miniature).

    Input: mode "row" gives T = 8 steps of 8 values (one image row per step); "pixel" gives
    T = 64 steps of 1 value in reading order; "permuted" the 64 pixels in a fixed seeded
    permutation (`permutation_seed`), which scatters neighbouring pixels far apart in time.
    Values are scaled to [0, 1]. Then `delay` blank (all-zero) steps follow the image, so
    T = 8 + delay (or 64 + delay): the class must be carried `delay` steps further.
    Target, read at the last step: the digit 0-9.

    The train/validation split is fixed by `split_seed` (default 0) and `valid_fraction`
    (default 0.2: 1438 training and 359 validation images), whatever the run's seed.
    Training batches draw images with replacement; the validation set is the whole
    validation split, in a fixed order.
    """

    name = "digits"
    metric, higher_is_better = "accuracy", True
    loss, loss_at = "cross_entropy", "last"
    output_size = 10

    def __init__(
        self,
        mode: str = "row",
        delay: int = 0,
        split_seed: int = 0,
        valid_fraction: float = 0.2,
        permutation_seed: int = 0,
    ) -> None:
        self.mode = checks.choice("mode", mode, MODES)
        self.delay = checks.integer_at_least("delay", delay, 0, "blank steps after the image")
        checks.fraction("valid_fraction", valid_fraction)
        checks.integer_at_least("split_seed", split_seed, 0)
        checks.integer_at_least("permutation_seed", permutation_seed, 0)
        self.input_size = 8 if mode == "row" else 1
        self.seq_len = (8 if mode == "row" else 64) + self.delay
        images, labels = load_images()
        order = np.random.default_rng(split_seed).permutation(len(images))
        n_valid = round(valid_fraction * len(images))
        self.split = {"valid": order[:n_valid], "train": order[n_valid:]}
        self.images, self.labels = images, labels
        self.pixel_order = np.arange(64)
        if mode == "permuted":
            self.pixel_order = np.random.default_rng(permutation_seed).permutation(64)

    def sequences(self, index: np.ndarray) -> np.ndarray:
        """Images `index` as inputs (T, B, D), blanks appended."""
        x = np.zeros((self.seq_len, len(index), self.input_size))
        pixels = self.images[index][:, self.pixel_order]  # (B, 64)
        steps = pixels.reshape(len(index), -1, self.input_size).transpose(1, 0, 2)
        x[: steps.shape[0]] = steps
        return x

    def _generate(self, rng, batch_size, split):
        index = rng.choice(self.split[split], size=batch_size, replace=True)
        return self.sequences(index), self.labels[index]

    def validation_set(self, rng, size):
        """The whole validation split (`rng` and `size` are not needed: it is fixed)."""
        index = self.split["valid"]
        return self.sequences(index), self.labels[index]

    def metrics(self, scores, targets):
        return classification_metrics(scores, targets)

    def baseline(self, targets=None):
        return uniform_guess(10)
