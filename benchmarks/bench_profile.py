"""What a recorded profile costs: one probe (the log-space reference and the self-check on the
probe batch) against one training step, at the `vanishing` sweep's sizes.

For each (activation, skip, H, T) the probe of 64 validation sequences and a training step
(forward and backward on 32 sequences, as `train` runs it) are timed in turns, 7 rounds,
medians; printed as milliseconds, the probe in training steps, and the share of training time
the probes take at the sweep's profile_every = 100 (one probe per 100 steps).

Run: make bench-profile   (or .venv/bin/python benchmarks/bench_profile.py)
"""

from __future__ import annotations

import itertools
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from rnngrad import RNN
from rnngrad.profile import probe
from rnngrad.tasks import make_task, streams

ROUNDS, EVERY = 7, 100


def seconds(repeat: int, fn, *args) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn(*args)
    return (time.perf_counter() - start) / repeat


def main() -> None:
    print(
        f"{'model':>18} {'H':>4} {'T':>4} | {'step ms':>8} {'probe ms':>9} {'= steps':>8} {'share':>6}"
    )
    shares = []
    for activation, skip, hidden, steps in itertools.product(
        ["tanh", "sigmoid"], [False, True], [32, 128], [10, 30, 100]
    ):
        task = make_task("temporal_order", T=steps)
        train_rng, valid_rng = streams(0)
        x, y = task.batch(train_rng, 32)
        px, py = task.validation_set(valid_rng, 64)
        rnn = RNN(task.input_size, hidden, task.output_size, activation, skip, seed=0)
        step_t, probe_t = [], []
        with threadpool_limits(limits=1), np.errstate(all="ignore"):
            for _ in range(ROUNDS):  # interleaved: both see the same machine state
                step_t.append(seconds(20, rnn.loss_and_grads, x, y, "cross_entropy", "last"))
                probe_t.append(seconds(3, probe, rnn, px, py, "cross_entropy", "last"))
        step, one = statistics.median(step_t), statistics.median(probe_t)
        share = one / (one + EVERY * step)
        shares.append(share)
        name = f"rnn {activation}" + (" + skip" if skip else "")
        print(
            f"{name:>18} {hidden:>4} {steps:>4} | {1e3 * step:8.2f} {1e3 * one:9.2f} "
            f"{one / step:8.1f} {share:6.1%}"
        )
    print(
        f"probes take {min(shares):.1%}–{max(shares):.1%} of training time at profile_every = {EVERY}"
    )


if __name__ == "__main__":
    main()
