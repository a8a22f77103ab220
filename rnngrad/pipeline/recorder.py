"""What a job keeps of its training: the evaluations, buffered for MLflow and saved as files."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..training import Evaluation
from . import interrupts
from . import record as rec
from .progress import duration, left
from .tracking import RunLogger


class Recorder:
    """Receives the training loop's evaluations: buffers them for MLflow, keeps the profile
    history, prints a progress line now and then, warns at the first failed self-check, and
    can fail on purpose (internal.crash_at_step)."""

    def __init__(self, plan, label: str, logger: RunLogger | None) -> None:
        self.label, self.logger = label, logger
        self.crash_at = plan.cfg.internal.crash_at_step
        self.every_s, self.total = plan.cfg.tracking.progress_every_s, plan.settings.steps
        self.steps, self.arrays = [], {name: [] for name in rec.PROFILE_ARRAYS}
        self.scalars: list[dict] = []  # every evaluation, for history.csv
        self.checks, self.check_failure = 0, None  # profiles checked; the first failure
        self.started = self.last_print = self.last_flush = time.monotonic()

    def __call__(self, ev: Evaluation) -> None:
        interrupts.raise_if_stopped()  # at every evaluation: a stop a library swallowed
        if self.crash_at is not None and ev.step >= self.crash_at:
            raise RuntimeError(
                f"internal.crash_at_step={self.crash_at}: deliberate failure at step {ev.step}"
            )
        self.scalars.append({"step": ev.step, **ev.scalars})
        if ev.log10_long is not None:
            self.keep_profiles(ev)
        if ev.check is not None:
            self.checks += 1
            if not ev.check.ok and self.check_failure is None:
                self.check_failure = f"FAILED at step {ev.step}: {ev.check.message()}"
                print(f"WARNING {self.label}: {self.check_failure}", flush=True)
        now = time.monotonic()
        if self.logger:
            for key, value in ev.scalars.items():
                self.logger.metric(key, value, ev.step)
            if now - self.last_flush > 10.0:  # a heartbeat, and little loss if killed
                self.logger.flush()
                self.last_flush = now
        if now - self.last_print > self.every_s:
            self.last_print = now
            loss = ev.scalars.get("valid_loss", float("nan"))
            elapsed = now - self.started
            print(
                f"{self.label}: step {ev.step}/{self.total}, valid_loss {loss:.4g}, "
                f"{duration(elapsed)} elapsed{left(ev.step, self.total, elapsed)}",
                flush=True,
            )

    def keep_profiles(self, ev: Evaluation) -> None:
        self.steps.append(ev.step)
        values = (ev.log10_long, ev.log10_total, ev.log10_dx, ev.state_norm, ev.saturation_t)
        for name, value in zip(rec.PROFILE_ARRAYS, values, strict=True):
            self.arrays[name].append(
                np.full(len(ev.log10_long), np.nan) if value is None else value
            )

    @property
    def selfcheck(self) -> str:
        """The run's self-check verdict, for its tag."""
        return self.check_failure or f"passed ({self.checks} profiles)"

    def save_history(self, folder: Path) -> Path:
        """history.csv: one row per evaluation, one column per scalar (what the reports read,
        in one file instead of one MLflow call per metric)."""
        path = folder / rec.HISTORY
        columns = list(dict.fromkeys(k for row in self.scalars for k in row))
        lines = [",".join(columns)]
        for row in self.scalars:
            lines.append(",".join(repr(float(row[c])) if c in row else "" for c in columns))
        path.write_text("\n".join(lines) + "\n")
        return path

    def save_profiles(self, folder: Path) -> Path:
        """profiles.npz: steps (n,) and every array of rec.PROFILE_ARRAYS as (n, T)."""
        path = folder / rec.PROFILES
        arrays = {name: np.array(rows, dtype=float) for name, rows in self.arrays.items()}
        np.savez_compressed(path, steps=np.array(self.steps), **arrays)
        return path
