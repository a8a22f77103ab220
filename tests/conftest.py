"""How the suite runs in parallel (pytest-xdist, `-n auto --dist loadgroup` in pyproject.toml):

- one worker per usable core (the cores this process may run on, not the machine's);
- the tests that share a fixture built once per module or session (a sweep's store, a
  server, a cluster) run together on one worker, so that it is built once: xdist would
  otherwise build it again on every worker that takes one of them;
- the longest work is handed out first (LONGEST, then the shared groups, then the slow
  tests), so that no worker starts a long test while the others are running out of work.

Every test has its own temporary folder (each worker has its own base folder), stores and
free ports; a test that sends signals sends them to the processes it started, each launched
in a session of its own, never to a worker's process group. `-n 0` runs the suite in one
process (for a debugger).
"""

from __future__ import annotations

import os

import pytest

SHARED = ("module", "package", "session")
# The tests that take longest on their own (minutes): started first.
LONGEST = ("test_the_quoted_findings_are_what_the_vanishing_sweep_finds",)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return len(os.sched_getaffinity(0))


def shares_a_fixture(item: pytest.Item) -> bool:
    """It uses a fixture of the test files (not pytest's own) built once per module or more."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        defs[-1].scope in SHARED and defs[-1].baseid for defs in info.name2fixturedefs.values()
    )


def rank(item: pytest.Item) -> int:
    if item.originalname in LONGEST:
        return 0
    if item.get_closest_marker("xdist_group"):
        return 1
    return 2 if item.get_closest_marker("slow") else 3


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if shares_a_fixture(item) and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    items.sort(key=rank)  # stable: the file order within each rank
