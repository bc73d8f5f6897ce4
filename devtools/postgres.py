"""A private PostgreSQL cluster (Debian's PostgreSQL) on a free loopback port, for tests,
benchmarks and fault injection.

``initdb`` into a temporary directory, ``pg_ctl start`` on 127.0.0.1 only (the socket
directory is the cluster's own), ``stop`` removes it. PostgreSQL refuses to run as root:
as root, every command runs as the ``postgres`` user the Debian package creates (or
``nobody``), which owns the directory. Authentication is ``trust`` for loopback only, in
a cluster nobody else knows the port of and that lives as long as a test session.
"""

from __future__ import annotations

import contextlib
import glob
import os
from pathlib import Path
import pwd
import shutil
import signal
import subprocess
import tempfile
from types import TracebackType

import psycopg

from devtools.mosquitto import free_port


def pg_bindir() -> Path:
    """Where initdb and pg_ctl are (``$PG_BINDIR``, else Debian's newest version)."""
    candidates = [os.environ.get("PG_BINDIR", ""), *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise FileNotFoundError("PostgreSQL is not installed: apt-get install -y postgresql")


def _unprivileged_user() -> str | None:
    """The user to run PostgreSQL as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("no unprivileged user to run PostgreSQL as")


class PostgresCluster:
    """One cluster; ``url(db)`` gives a connection URL, ``create_database`` a fresh database."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hydro-fleet-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._bindir = pg_bindir()
        self._user = _unprivileged_user()
        self._databases = 0
        if self._user is not None:
            self.root.chmod(0o755)
            shutil.chown(self.root, self._user)

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        command = [str(self._bindir / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=64MB"
        )
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """``fast`` rolls back and disconnects clients; ``immediate`` is a crash (recovery on start)."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60")

    def kill(self) -> None:
        """SIGKILL the postmaster: its backends exit when they notice, the next start recovers."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "receiver") -> str:
        """A new empty database; returns its URL."""
        self._databases += 1
        name = f"{prefix}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # name: a prefix and a counter, never input
        return self.url(name)

    def __enter__(self) -> PostgresCluster:
        self.init()
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
