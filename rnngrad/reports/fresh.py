"""Whether a report on disk is still what the store would give, so that building it again can
be skipped (a relaunch of a finished sweep, `make sweep` run twice).

A report is made of the experiment's runs, the report code and its options. Its fingerprint
hashes all three: every job run's id, status and end time (one search of the store), the
source of rnngrad/reports/ and of the record's names, and the options (`--ui`). It is
written beside the report when it is built (<out>/tables/<experiment>/built-from.txt) and as
a tag of the sweep run it is attached to, so neither is done twice for the same runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rnngrad.pipeline import record as rec

STAMP = "built-from.txt"
CODE = [*sorted(Path(__file__).parent.glob("*.py")), Path(rec.__file__)]


def fingerprint(runs: list, options: str) -> str:
    """The hash of what a report of `runs` (MLflow runs) is built from, with `options`."""
    digest = hashlib.sha256(options.encode())
    for path in CODE:
        digest.update(path.read_bytes())
    for run in sorted(runs, key=lambda r: r.info.run_id):
        info = run.info
        digest.update(f"{info.run_id} {info.status} {info.end_time}\n".encode())
    return digest.hexdigest()[:16]


def stamp(out: Path, experiment: str) -> Path:
    return out / "tables" / experiment / STAMP


def up_to_date(out: Path, experiment: str, digest: str) -> bool:
    """Whether the report in `out` was built from what `digest` fingerprints, and its page is
    still there."""
    path = stamp(out, experiment)
    page = out / f"{experiment}.html"
    return page.exists() and path.exists() and path.read_text().strip() == digest


def mark(out: Path, experiment: str, digest: str) -> None:
    stamp(out, experiment).write_text(digest + "\n")
