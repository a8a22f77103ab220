"""Scratch arrays the RNN reuses between calls of one batch shape."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Workspace:
    """The large arrays of one forward and backward pass, for one (T, B, H, dtype).

    Training calls the engine thousands of times on batches of one shape; reusing these
    arrays instead of allocating (and page-faulting) them afresh saves a tenth of the time.
    """

    a: np.ndarray  # (T, B, H) pre-activations a_1..a_T
    h: np.ndarray  # (T+1, B, H) states h_0..h_T
    dh: np.ndarray  # (T, B, H) ∂J/∂h_t
    da: np.ndarray  # (T, B, H) f'(a_t), then da_t = ∂J/∂a_t

    @classmethod
    def new(cls, steps: int, batch: int, hidden: int, dtype) -> Workspace:
        shape = (steps, batch, hidden)
        h = np.empty((steps + 1, batch, hidden), dtype=dtype)
        return cls(np.empty(shape, dtype), h, np.empty(shape, dtype), np.empty(shape, dtype))

    def fits(self, steps: int, batch: int, hidden: int, dtype) -> bool:
        return self.a.shape == (steps, batch, hidden) and self.a.dtype == dtype


def recent(cache: dict, steps: int, batch: int, hidden: int, dtype) -> Workspace:
    """The workspace for this batch shape from `cache`, made if missing. The last few shapes
    are kept, so that training batches and a validation set of another size do not evict
    each other."""
    key = (steps, batch)
    ws = cache.pop(key, None)
    if ws is None or not ws.fits(steps, batch, hidden, np.dtype(dtype)):
        ws = Workspace.new(steps, batch, hidden, dtype)
    cache[key] = ws  # most recently used last
    while len(cache) > 3:
        del cache[next(iter(cache))]
    return ws
