"""How the suite runs in parallel (pytest-xdist, `-n auto --dist loadgroup` in pyproject.toml):

- one worker per usable core (the cores this process may run on, not the machine's);
- the tests that share a fixture built once per module or session (a sweep's store, a
  server, a cluster), or that carry an `xdist_group` mark, run together on one worker, so
  that it is built once: xdist would otherwise build it again on every worker that takes one
  of them. (xdist's own loadgroup marks the groups in the test ids, which pytest 9.2 no longer
  lets it do: here each worker writes the groups it collected to the run's temporary folder
  and the scheduler reads them);
- the longest work is handed out first (LONGEST, then the shared groups, then the slow
  tests), so that no worker starts a long test while the others are running out of work.

Every test has its own temporary folder (each worker has its own base folder), stores and
free ports; a test that sends signals sends them to the processes it started, each launched
in a session of its own, never to a worker's process group. `-n 0` runs the suite in one
process (for a debugger).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

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


def group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    if mark:
        return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
    return item.module.__name__ if shares_a_fixture(item) else None


def groups_file(basetemp: Path) -> Path:
    return basetemp / "xdist-groups.json"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    found = {item.nodeid: group(item) for item in items}
    items.sort(
        key=lambda item: (
            0 if item.originalname in LONGEST else 1,
            found[item.nodeid] is None,
            not item.get_closest_marker("slow"),
        )
    )
    worker = getattr(config, "workerinput", None)
    if worker is not None and config.option.basetemp:  # for the scheduler: every worker
        path = groups_file(Path(config.option.basetemp).parent)  # collects the same tests
        mine = path.with_suffix(f".{worker['workerid']}")
        mine.write_text(json.dumps({k: v for k, v in found.items() if v}))
        mine.replace(path)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    path = groups_file(config._tmp_path_factory.getbasetemp())

    class Groups(LoadScopeScheduling):
        """Scope = the test's group, or the test itself; read once the workers collected."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                self.groups = json.loads(path.read_text()) if path.exists() else {}
            return self.groups.get(nodeid, nodeid)

    return Groups(config, log)
