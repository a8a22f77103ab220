"""Whether a report on disk is still what the store would give, so that building it again can
be skipped (a relaunch of a finished sweep, `make sweep` run twice).

A report is made of the experiment's runs, the report code and its options. Its fingerprint
hashes all three: every job run as the store has it (id, status, end time, name, tags,
params, last metrics: one search of the store), the source of rnngrad/reports/ and of the
pipeline modules it reads (record, config, store, verdict), and the options (the store's
address, `--ui`). While any run is still RUNNING a report is never up to date. The
fingerprint is written beside the report's page when it is built
(<out>/.<experiment>.built-from: hidden, and not among the files the page links or the sweep
run receives) and as a tag of the sweep run it is attached to, so neither is done twice for
the same runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rnngrad.pipeline import config, record, store, verdict

CODE = [
    *sorted(Path(__file__).parent.glob("*.py")),
    *(Path(m.__file__) for m in (record, config, store, verdict)),
]


def fingerprint(runs: list, options: str) -> str | None:
    """The hash of what a report of `runs` (MLflow runs) is built from, with `options`; None
    while a run is RUNNING (its record is still growing)."""
    if any(run.info.status == "RUNNING" for run in runs):
        return None
    digest = hashlib.sha256(options.encode())
    for path in CODE:
        digest.update(path.read_bytes())
    for run in sorted(runs, key=lambda r: r.info.run_id):
        info, data = run.info, run.data
        record_of = [info.run_id, info.status, info.end_time, info.run_name, data.tags]
        record_of += [data.params, data.metrics]
        digest.update(json.dumps(record_of, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def stamp(out: Path, experiment: str) -> Path:
    return out / f".{experiment}.built-from"


def up_to_date(out: Path, experiment: str, digest: str | None) -> bool:
    """Whether the report in `out` was built from what `digest` fingerprints, and its page,
    figures and tables are all still there."""
    written = [
        out / f"{experiment}.html",
        out / "figures" / experiment,
        out / "tables" / experiment,
    ]
    path = stamp(out, experiment)
    return (
        digest is not None
        and all(p.exists() for p in written)
        and path.exists()
        and path.read_text().strip() == digest
    )


def mark(out: Path, experiment: str, digest: str | None) -> None:
    if digest is not None:
        stamp(out, experiment).write_text(digest + "\n")
