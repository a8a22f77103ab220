"""The store itself: where it is, whether it can be used, opening it safely when several processes start
at once, and how its address is shown.

- `check(uri)` answers in seconds, before anything is written: a SQLite file that is
  read-only, in a read-only folder, or not a database; a server that does not answer. Each
  is a StoreError with one line naming the store and what is wrong.
- `open_client(uri)` creates or migrates a SQLite store under a file lock, so that launchers
  and workers starting at the same moment never race in MLflow's schema migration.
- `public(uri)` is the address as it may be shown or recorded: without credentials, with
  the user's home folder as "~".
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import re
import sqlite3
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

HEALTH_TIMEOUT_S = 5.0
SQLITE_HEADER = b"SQLite format 3\x00"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def store_uri(uri: str | None) -> str:
    """tracking.uri, else $MLFLOW_TRACKING_URI, else SQLite in the project root."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


class StoreError(Exception):
    """The store cannot be used: one line for the user, no traceback."""


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI, or None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?")[0])


def public(text: str) -> str:
    """`text` (a URI, a path, a command line) without credentials (user:password@ in any
    URI) and with the user's home folder written as ~."""
    text = re.sub(r"(?<=://)[^/\s]*@", "", str(text))  # scheme://user:p@ss@host -> host
    home = str(Path.home()).rstrip("/")
    if home:  # the home folder itself, not a folder that merely ends with its name
        text = re.sub(rf"(?<![\w.~-]){re.escape(home)}(?=/|$|\s)", "~", text)
    return text


def credentials_to_env(uri: str) -> str:
    """For a server URI with user:password@, move the credentials to MLflow's own variables
    (MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD, inherited by every job) and return the
    URI without them, the only one that is passed on, recorded or shown."""
    if not uri.startswith(("http://", "https://")):
        return uri
    split = urlsplit(uri)
    if split.username is None:
        return uri
    os.environ["MLFLOW_TRACKING_USERNAME"] = unquote(split.username)
    os.environ["MLFLOW_TRACKING_PASSWORD"] = unquote(split.password or "")
    host = split.netloc.rpartition("@")[2]  # as written: [::1]:5000 keeps its brackets
    return urlunsplit((split.scheme, host, split.path, split.query, split.fragment))


def check(uri: str) -> None:
    """Raise StoreError if nothing can be recorded in the store at `uri`."""
    path = sqlite_path(uri)
    if path is not None:
        check_sqlite(path)
    elif uri.startswith(("http://", "https://")):
        check_server(uri)


def check_sqlite(path: Path) -> None:
    where = f"the SQLite store {public(path)}"
    folder = path.parent
    if not folder.is_dir():
        raise StoreError(f"{where}: its folder {public(folder)} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"{where}: its folder is read-only (SQLite writes its journal there)")
    if not path.exists():
        return  # created on first use
    if not path.is_file():
        raise StoreError(f"{where}: not a file")
    if not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"{where}: the file is read-only")
    if path.stat().st_size == 0:
        return
    with path.open("rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise StoreError(f"{where}: not an SQLite database (the file's header is {header[:16]!r})")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            db.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.OperationalError as err:
        if "locked" in str(err) or "busy" in str(err):
            return  # another process is writing: busy, not broken
        raise StoreError(f"{where}: the database cannot be read ({err})") from None
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{where}: the database is damaged ({err})") from None


def check_server(uri: str) -> None:
    import requests  # mlflow's own dependency; only needed for a server

    health = uri.rstrip("/") + "/health"
    try:
        answer = requests.get(health, timeout=HEALTH_TIMEOUT_S)
    except requests.RequestException as err:
        reason = type(err).__name__
        if isinstance(err, requests.ConnectionError):
            reason = "connection refused or host unreachable"
        elif isinstance(err, requests.Timeout):
            reason = f"no answer within {HEALTH_TIMEOUT_S:g} s"
        raise StoreError(f"the MLflow server {public(uri)} is unreachable ({reason})") from None
    if answer.status_code != 200:
        raise StoreError(
            f"the MLflow server {public(uri)} is not healthy ({health} answered "
            f"{answer.status_code})"
        )


@contextlib.contextmanager
def locked(path: Path, waiting=None, every_s: float = 1.0):
    """An exclusive lock on `path` (created if needed), released on exit or process death.
    While another process holds it, call `waiting()` once (if given) and look again every
    `every_s`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waiting and not told:
                    waiting()
                    told = True
                time.sleep(every_s)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# MLflow indexes a run's tags by (key, run_uuid): finding a configuration's runs by the value
# of its hash tag (each job's claim, claims.runs_of) would read every run's hash, a cost that
# grows with the store. This partial index makes it one lookup, in SQLite and in PostgreSQL
# (rnngrad.ops.server); it holds only the hashes, 16 characters each.
HASH_INDEX = (
    "CREATE INDEX IF NOT EXISTS rnngrad_config_hash ON tags (value) "
    "WHERE key = 'rnngrad.config_hash'"
)


def open_client(uri: str, checked: bool = False):
    """A checked MlflowClient whose store exists and is migrated (created under a lock).
    `checked`: the launching process has just done both (a sweep's job): only connect."""
    from mlflow.tracking import MlflowClient

    quiet_stopped_cursors()
    if checked:
        return MlflowClient(uri)
    check(uri)
    path = sqlite_path(uri)
    lock = locked(path.with_name(path.name + ".lock")) if path else contextlib.nullcontext()
    with lock:
        client = MlflowClient(uri)
        client.search_experiments(max_results=1)  # creates or migrates the schema
        if path:
            with contextlib.closing(sqlite3.connect(path, timeout=60)) as con:
                con.execute(HASH_INDEX)
                con.commit()
                write_ahead(con)
                plan_statistics(con)
    return client


def plan_statistics(con: sqlite3.Connection) -> None:
    """Refresh the statistics SQLite's query planner reads (ANALYZE, sampling at most ~1,000
    rows of each index: milliseconds, whatever the store holds). Without them, the query
    behind the MLflow UI's runs table sorted by a metric (MLflow's search_runs) joins every run
    to every run's value of that metric, a cost that grows with the square of the runs (5.7 s
    for its first page at 10,000 runs); with them, SQLite indexes that join. Run as a launch
    opens the store and as a sweep ends; a store that another process holds busy for 5 s
    keeps the statistics it had."""
    con.execute("PRAGMA busy_timeout = 5000")
    con.execute("PRAGMA analysis_limit = 1000")
    with contextlib.suppress(sqlite3.OperationalError):  # locked: another process writes
        con.execute("ANALYZE")
        con.commit()


def after_sweep(uri: str) -> None:
    """What the end of a sweep leaves a SQLite store (nothing for a server's store): the
    planner's statistics refreshed for its new runs (plan_statistics), and its write-ahead log
    folded into mlflow.db as far as no reader holds it (a passive checkpoint: it never waits
    and never blocks a writer), so that mlflow.db alone holds the sweep's runs. SQLite folds
    the log itself every ~1,000 pages written and as the store's last connection closes; while
    another process keeps the store open (the MLflow UI, a notebook, another sweep), the last
    close folds nothing."""
    path = sqlite_path(uri)
    if path is not None:
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as con:
            plan_statistics(con)
            with contextlib.suppress(sqlite3.OperationalError):
                con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def write_ahead(con: sqlite3.Connection) -> None:
    """Put the SQLite store in write-ahead-log mode (a setting kept in the file), if it is
    not already. A commit then appends to mlflow.db-wal and syncs it once, where the default
    rollback journal creates, syncs and deletes a journal file: a run's record is stored
    faster, and jobs that read the store never wait for one that writes it. The -wal and -shm
    files beside the database hold its latest commits until they are folded into it (every
    ~1,000 pages written, as its last connection closes, and as a sweep ends: after_sweep);
    every reader sees them meanwhile, and a killed process never loses a committed
    transaction. Like any SQLite store it needs a local disk (nothing here can check that; a
    SLURM sweep is refused a SQLite store for that reason). The switch needs a moment when no
    other process is inside a transaction; if none comes within 5 s, the store stays as it is
    (it works either way) and the next launch tries again."""
    if con.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    con.execute("PRAGMA busy_timeout = 5000")
    with contextlib.suppress(sqlite3.OperationalError):  # locked: another process reads
        con.execute("PRAGMA journal_mode=WAL")


class StoppedWhileReading(logging.Filter):
    """Drops SQLAlchemy's "Error closing cursor" when the error came from stopping the
    process: Ctrl-C or SIGTERM raised inside a SQLite read makes SQLAlchemy drop the
    connection, and the cursor it then tries to close belongs to it. The process is stopping
    and says so in one line; the run is closed as KILLED. Every other message is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != "Error closing cursor":
            return True
        err = record.exc_info[1] if record.exc_info else None
        seen = set()
        while err is not None and id(err) not in seen:
            if isinstance(err, KeyboardInterrupt):  # interrupts.Stopped is one
                return False
            seen.add(id(err))
            err = err.__context__
        return True


@functools.cache
def quiet_stopped_cursors() -> None:
    """The filter on the loggers of SQLAlchemy's connection pools (a filter sees only the
    messages of its own logger, not of the loggers below it); their messages go wherever
    they went before. Once per process."""
    from sqlalchemy import pool

    classes, found = [pool.Pool], []
    while classes:
        cls = classes.pop()
        found.append(f"{cls.__module__}.{cls.__name__}")
        classes.extend(cls.__subclasses__())
    for name in found:
        logging.getLogger(name).addFilter(StoppedWhileReading())
