"""A throwaway SLURM cluster, PostgreSQL and MLflow server on loopback, for tests.

Everything lives under one private folder: munged with its own socket and key, slurmctld
and slurmd with their own config, ports, state and PID files, and the project's own
`rnngrad.ops.server` (PostgreSQL + MLflow) on free ports. Nothing it did not start is
touched, and `stop()` tears down by PID file, whatever state the start reached.
Installs the Debian packages it needs when they are missing (slurm-wlm, munge, postgresql).
`Server` alone is the PostgreSQL-backed MLflow server, without SLURM.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"slurmctld": "slurm-wlm", "munged": "munge", "initdb": "postgresql"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_packages(tools: tuple[str, ...] = tuple(PACKAGES)) -> str | None:
    """None when ready, else why the cluster (or just `tools`) cannot be had here."""
    missing = [
        PACKAGES[tool]
        for tool in tools
        if not shutil.which(tool)
        and not (tool == "initdb" and Path("/usr/lib/postgresql/15/bin").exists())
    ]
    if not missing:
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return f"needs Debian packages {missing} and root to install them"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return None if done.returncode == 0 else f"apt-get install {missing} failed: {done.stderr}"


def kill_pidfile(path: Path, sig=signal.SIGTERM) -> None:
    try:
        pid = int(path.read_text().split()[0])
        os.kill(pid, sig)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        pass


class Server:
    """The project's own PostgreSQL-backed MLflow server (`make server`), on free ports, in a
    folder of its own under /tmp (the postgres user must enter it; pytest's tmp_path is
    private to root)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.owned = folder is None  # a folder of its own is removed by stop()
        self.dir = folder or Path(tempfile.mkdtemp(prefix="rnngrad-server-"))
        self.dir.chmod(0o755)
        self.port, self.pg_port = free_port(), free_port()
        self.uri = f"http://127.0.0.1:{self.port}"

    def command(self, action: str, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "rnngrad.ops.server",
            action,
            "--dir",
            str(self.dir),
            *extra,
        ]

    def start(self, attempts: int = 3) -> None:
        """Start on the free ports picked; should another process (a parallel test worker)
        take one of them first, stop what started and try again on new ones."""
        for attempt in range(attempts):
            extra = ("--port", str(self.port), "--pg-port", str(self.pg_port))
            done = subprocess.run(self.command("start", *extra), capture_output=True, timeout=180)
            if done.returncode == 0:
                return
            subprocess.run(self.command("stop"), capture_output=True, timeout=120)
            if attempt + 1 == attempts:
                raise RuntimeError(f"the MLflow server did not start: {done.stderr[-2000:]!r}")
            self.port, self.pg_port = free_port(), free_port()
            self.uri = f"http://127.0.0.1:{self.port}"

    def pid(self) -> int:
        return int((self.dir / "mlflow.pid").read_text())

    def stop(self) -> None:
        subprocess.run(self.command("stop"), capture_output=True, timeout=120)
        if self.owned:
            shutil.rmtree(self.dir, ignore_errors=True)


class Cluster:
    def __init__(self) -> None:
        # a folder of its own under /tmp that the munge and postgres users can enter
        # (pytest's tmp_path is private to root)
        self.dir = Path(tempfile.mkdtemp(prefix="rnngrad-cluster-"))
        self.dir.chmod(0o755)
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.dir / "slurm.conf"
        self.munge = self.dir / "munge"
        self.server_dir = self.dir / "server"
        self.server_dir.mkdir()
        self.server = Server(self.server_dir)
        self.env = {
            **os.environ,
            "SLURM_CONF": str(self.conf),
            "PATH": f"{Path(__file__).parent}:{os.environ['PATH']}",
            "PYTHONWARNINGS": "ignore",
        }

    @property
    def uri(self) -> str:
        return self.server.uri  # known once the server started (its port may change then)

    # -- bring-up ----------------------------------------------------------------------------

    def start(self) -> None:
        self.start_munge()
        self.start_slurm()
        self.server.start()

    def start_munge(self) -> None:
        self.munge.mkdir(mode=0o700)
        key = self.munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for path in (self.munge, key):
            shutil.chown(path, "munge", "munge")
        subprocess.run(
            [
                "runuser",
                "-u",
                "munge",
                "--",
                "munged",
                "--force",
                f"--socket={self.munge / 'munge.sock'}",
                f"--key-file={key}",
                f"--pid-file={self.munge / 'munged.pid'}",
                f"--log-file={self.munge / 'munged.log'}",
                f"--seed-file={self.munge / 'munged.seed'}",
            ],
            check=True,
            timeout=30,
        )

    def start_slurm(self) -> None:
        mem = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.5)
        for sub in ("state", "spool"):
            (self.dir / sub).mkdir()
        sock = self.munge / "munge.sock"
        self.conf.write_text(f"""
ClusterName=rnngradtest
SlurmctldHost={self.host}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
StateSaveLocation={self.dir / "state"}
SlurmdSpoolDir={self.dir / "spool"}
SlurmctldPidFile={self.dir / "slurmctld.pid"}
SlurmdPidFile={self.dir / "slurmd.pid"}
SlurmctldLogFile={self.dir / "slurmctld.log"}
SlurmdLogFile={self.dir / "slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MailProg=/bin/true
MinJobAge=3600
ReturnToService=2
NodeName={self.host} CPUs={os.cpu_count()} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([daemon, "-f", str(self.conf)], env=self.env, check=True, timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True, text=True
            ).stdout.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError(f"SLURM node not idle (state {state!r}); see {self.dir}")

    # -- use ---------------------------------------------------------------------------------

    def sweep(self, *overrides: str, **popen):
        cmd = [
            sys.executable,
            str(ROOT / "experiments" / "train.py"),
            "-m",
            "cluster=slurm",
            f"tracking.uri={self.uri}",
            f"hydra.sweep.dir={self.dir / 'multirun'}",
            *overrides,
        ]
        if popen:
            return subprocess.Popen(cmd, env=self.env, text=True, **popen)
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=600)

    # -- tear-down ---------------------------------------------------------------------------

    def stop(self) -> None:
        self.server.stop()
        for pidfile in ("slurmd.pid", "slurmctld.pid"):
            kill_pidfile(self.dir / pidfile)
        kill_pidfile(self.munge / "munged.pid")
        shutil.rmtree(self.dir, ignore_errors=True)
