"""Empty MLflow stores for tests, without paying MLflow's schema migration each time.

Creating a SQLite store runs MLflow's migrations (~3 s of CPU). The tests that are not about
creating a store start from a copy of one empty store that MLflow created (and migrated)
once per test process: the same file a first launch would leave, made by the same MLflow.
Tests about creating a store (two launches racing on a fresh one, say) start without one.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sqlite3
import tempfile
from pathlib import Path

from rnngrad.pipeline import store

_TEMPLATE: list[Path] = []


def empty_store(path: Path) -> str:
    """Put an empty, migrated MLflow store at `path` (unless a file is there already);
    returns its URI."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="rnngrad-empty-store-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        store.open_client(f"sqlite:///{folder / 'mlflow.db'}")  # MLflow creates and migrates it
        _TEMPLATE.append(folder / "mlflow.db")
    if not path.exists():  # copied through SQLite: the template's write-ahead log included
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(_TEMPLATE[0])) as template:
            with contextlib.closing(sqlite3.connect(path)) as copy:
                template.backup(copy)
    return f"sqlite:///{path}"
