"""An MLflow tracking server on PostgreSQL, for sweeps that outgrow one machine's SQLite.

    python -m rnngrad.ops.server start [--dir DIR] [--port 5050] [--pg-port 5433]
    python -m rnngrad.ops.server stop  [--dir DIR]
    make server / make server-stop

start: a PostgreSQL cluster in DIR/pgdata (created on first use with initdb; listening on
127.0.0.1:PG_PORT only), a database `mlflow`, then `mlflow server` on HOST:PORT
(127.0.0.1:5050 by default) with that database as its backend and DIR/artifacts as its
served artifact store. Sweeps point at it with tracking.uri=http://HOST:PORT.
stop: stops exactly the two processes recorded in DIR (never by name).

Credentials come from the environment: RNNGRAD_DB_USER (default rnngrad) and
RNNGRAD_DB_PASSWORD; if the password is unset, one is generated and kept in DIR/db_password
(mode 0600). The password is never printed, logged or put on a command line: the backend
URI reaches the server through MLFLOW_BACKEND_STORE_URI.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..pipeline.store import HASH_INDEX, PROJECT_ROOT

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEFAULT_DIR = PROJECT_ROOT / ".mlflow-server"


def pg_tool(name: str) -> str:
    found = shutil.which(name) or (str(PG_BIN / name) if (PG_BIN / name).exists() else None)
    if found is None:
        sys.exit(f"server: PostgreSQL's {name} not found (Debian: apt-get install postgresql)")
    return found


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def own(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def credentials(folder: Path) -> tuple[str, str]:
    user = os.environ.get("RNNGRAD_DB_USER", "rnngrad")
    password = os.environ.get("RNNGRAD_DB_PASSWORD")
    kept = folder / "db_password"
    if password is None:
        if not kept.exists():
            kept.write_text(secrets.token_urlsafe(24))
            kept.chmod(0o600)
        password = kept.read_text().strip()
    return user, password


def start_postgres(folder: Path, port: int, user: str, password: str) -> None:
    data, sock = folder / "pgdata", folder / "pgsock"
    sock.mkdir(exist_ok=True)
    own(sock)
    if not (data / "PG_VERSION").exists():
        data.mkdir(exist_ok=True)
        own(data)
        pwfile = folder / "pgpw.tmp"
        pwfile.write_text(password)
        own(pwfile)
        pwfile.chmod(0o600)
        try:
            subprocess.run(
                as_postgres(
                    [
                        pg_tool("initdb"),
                        "-D",
                        str(data),
                        "-U",
                        user,
                        f"--pwfile={pwfile}",
                        "--auth=scram-sha-256",
                        "-E",
                        "UTF8",
                    ]
                ),
                check=True,
                capture_output=True,
            )
        finally:
            pwfile.unlink()
    settings = (
        f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{sock}'\n"
    )
    (data / "postgresql.auto.conf").write_text(settings)
    log = folder / "postgres.log"
    log.touch()
    own(log)
    subprocess.run(
        as_postgres(
            [pg_tool("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start"]
        ),
        check=True,
        capture_output=True,
    )


def ensure_database(port: int, user: str, password: str) -> None:
    import psycopg2

    conn = psycopg2.connect(
        host="127.0.0.1", port=port, user=user, password=password, dbname="postgres"
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = 'mlflow'")
        if cur.fetchone() is None:
            cur.execute("CREATE DATABASE mlflow")
    conn.close()


def start_mlflow(folder: Path, host: str, port: int, pg_port: int, user: str, password: str):
    env = {
        **os.environ,
        "MLFLOW_BACKEND_STORE_URI": f"postgresql+psycopg2://{user}:{password}@127.0.0.1:{pg_port}/mlflow",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # ~2.1 GB of RSS otherwise
    }
    mlflow = Path(sys.executable).with_name("mlflow")
    log = open(folder / "mlflow.log", "ab")
    proc = subprocess.Popen(
        [
            str(mlflow),
            "server",
            "--host",
            host,
            "--port",
            str(port),
            "--serve-artifacts",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--workers",
            "2",
        ],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    (folder / "mlflow.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server: mlflow server exited; see {folder / 'mlflow.log'}")
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"server: mlflow server not healthy after 90 s; see {folder / 'mlflow.log'}")


def ensure_index(port: int, user: str, password: str) -> None:
    """The configuration-hash index (store.HASH_INDEX) on the tables the server has made."""
    import psycopg2

    conn = psycopg2.connect(
        host="127.0.0.1", port=port, user=user, password=password, dbname="mlflow"
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(HASH_INDEX)
    conn.close()


def start(folder: Path, host: str, port: int, pg_port: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    user, password = credentials(folder)
    start_postgres(folder, pg_port, user, password)
    ensure_database(pg_port, user, password)
    start_mlflow(folder, host, port, pg_port, user, password)
    with urllib.request.urlopen(  # a first request: the server makes its tables
        f"http://{host}:{port}/api/2.0/mlflow/experiments/search?max_results=1", timeout=60
    ):
        pass
    ensure_index(pg_port, user, password)
    print(
        f"MLflow server on http://{host}:{port} (PostgreSQL on 127.0.0.1:{pg_port}, data in "
        f"{folder}).\nSweeps: tracking.uri=http://{host}:{port}   Stop: make server-stop"
    )


def stop(folder: Path) -> None:
    pidfile = folder / "mlflow.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)  # the server and its workers: its own session
            for _ in range(100):
                os.killpg(pid, 0)
                time.sleep(0.1)
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pidfile.unlink()
    data = folder / "pgdata"
    if (data / "postmaster.pid").exists():
        subprocess.run(
            as_postgres([pg_tool("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )
    print(f"stopped what {folder} recorded")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--pg-port", type=int, default=5433)
    args = parser.parse_args(argv)
    if args.action == "start":
        start(args.dir.resolve(), args.host, args.port, args.pg_port)
    else:
        stop(args.dir.resolve())


if __name__ == "__main__":
    main()
