"""The MLflow UI on the project's store (make ui): where to open it, then the UI itself.

    python -m rnngrad.ops.ui [--db mlflow.db] [--port 5000]

Prints the address of the runs table of the experiment that ran last, read straight from the
SQLite file (MLflow is not imported for it); a sweep's experiment opens sorted by gradient, as
the sweep shared it. Then runs `mlflow ui` on 127.0.0.1 with one worker and no line per
request.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from pathlib import Path

from ..pipeline.record import VIEW_TAG
from ..pipeline.store import PROJECT_ROOT
from ..pipeline.verdict import UI_PORT, ui_page


def last_experiment(db: Path) -> tuple[str, str, bool] | None:
    """(id, name, whether a sweep shared its view by gradient) of the experiment whose run
    started last, or None (no store, no runs)."""
    if not db.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        try:
            row = con.execute(
                "SELECT e.experiment_id, e.name, EXISTS(SELECT 1 FROM experiment_tags t"
                " WHERE t.experiment_id = e.experiment_id AND t.key = ?)"
                " FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id"
                " WHERE r.lifecycle_stage = 'active' ORDER BY r.start_time DESC LIMIT 1",
                (VIEW_TAG,),
            ).fetchone()
        except sqlite3.Error:  # not an MLflow store (yet): the UI says what it finds
            return None
    return (str(row[0]), row[1], bool(row[2])) if row else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="make ui", description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=PROJECT_ROOT / "mlflow.db")
    parser.add_argument("--port", type=int, default=UI_PORT)
    args = parser.parse_args(argv)
    address = f"http://127.0.0.1:{args.port}"
    print(f"MLflow UI on {address} (Ctrl-C to stop)", flush=True)
    found = last_experiment(args.db)
    if found:
        experiment_id, name, shared = found
        page = ui_page(address, experiment_id, by_gradient=shared)
        print(f"the runs of '{name}' (the experiment run last): {page}")
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": os.environ.get("MLFLOW_DISABLE_TELEMETRY", "true"),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "PYTHONWARNINGS": "ignore",  # deprecations inside MLflow, nothing a user can act on
    }
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow), "ui", "--backend-store-uri", f"sqlite:///{args.db.resolve()}",
        "--host", "127.0.0.1", "--port", str(args.port), "--workers", "1",
        "--uvicorn-opts", "--no-access-log",
    ]  # fmt: skip
    sys.stdout.flush()
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
