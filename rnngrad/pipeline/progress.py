"""A sweep's progress, from the launcher's own count of finished jobs (no store query):
`sweep: 12 of 48 jobs done, 1 min 40 s elapsed, about 5 min left`, at most every few seconds."""

from __future__ import annotations

import time


def duration(seconds: float) -> str:
    """9 s, 1 min 40 s, 2 h 05 min."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def left(done: int, total: int, elapsed: float) -> str:
    """The time left at the pace so far (jobs run longest first, so early on it is an upper
    bound), or '' before the first job ends."""
    if done <= 0 or done >= total:
        return ""
    return f", about {duration(elapsed / done * (total - done))} left"


class Progress:
    """Counts the jobs that ended (any way) and prints where the sweep is. With each job's
    expected cost (`costs`, the sweeper's T·H²·steps, in launch order), the time left is the
    pace so far per unit of cost times the cost still to come: jobs run longest first, and a
    count of jobs alone would promise the last short ones as long as the first."""

    def __init__(self, total: int, every_s: float = 5.0, costs: list[float] | None = None):
        self.total, self.every_s, self.done = total, every_s, 0
        self.costs = costs if costs is not None and len(costs) == total else None
        self.cost_done = 0.0
        self.start = self.last = time.monotonic()

    def job_ended(self, index: int | None = None) -> None:
        self.done += 1
        if self.costs is not None and index is not None:
            self.cost_done += self.costs[index]
        now = time.monotonic()
        if self.done < self.total and now - self.last >= self.every_s:
            self.last = now
            print(self.line(now), flush=True)

    def line(self, now: float | None = None) -> str:
        elapsed = (now or time.monotonic()) - self.start
        if self.costs is not None and self.cost_done > 0:
            total = sum(self.costs)
            rest = f", about {duration(elapsed * (total - self.cost_done) / self.cost_done)} left"
        else:
            rest = left(self.done, self.total, elapsed)
        return f"sweep: {self.done} of {self.total} jobs done, {duration(elapsed)} elapsed{rest}"
