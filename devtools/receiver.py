"""Start the receiver as a real process (``python -m hydro_fleet_receiver``), for e2e tests,
benchmarks and the demo."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
import time
from typing import Any

import requests

from devtools.mosquitto import free_port
from devtools.processes import stop_process
from hydro_fleet_receiver.options import default_options_dict

REPO = Path(__file__).resolve().parent.parent


def write_options(path: Path, *, secrets: list[str], email: str, password: str, **options: Any) -> Path:
    """The add-on's options file (``/data/options.json``): defaults, the admin login and ``options``."""
    path.write_text(
        json.dumps(default_options_dict(secrets=secrets, admin_email=email, admin_password=password, **options))
    )
    return path


class ReceiverProcess:
    """One receiver with its own options file and data directory under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        *,
        secrets: list[str],
        email: str,
        password: str,
        broker_port: int | None,
        port: int | None = None,
        python: str = sys.executable,
        database: str | None = None,
        **options: Any,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.options_path = workdir / "options.json"
        write_options(self.options_path, secrets=secrets, email=email, password=password, port=self.port, **options)
        self.data_dir = workdir / "data"
        self.log_path = workdir / "receiver.log"
        self.broker_port = broker_port
        self.python = python
        self.database = database  # a postgresql:// URL (no password: PGPASSWORD), else SQLite
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        args = [
            self.python,
            "-m",
            "hydro_fleet_receiver",
            "--options",
            str(self.options_path),
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
        ]
        if self.database is not None:
            args += ["--database", self.database]
        if self.broker_port is not None:
            args += ["--mqtt-host", "127.0.0.1", "--mqtt-port", str(self.broker_port)]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"receiver exited with {self.process.returncode}:\n{self.log()[-2000:]}")
            try:
                if requests.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"receiver did not answer on {self.url} within {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout)

    def exit_code(self) -> int | None:
        """The exit code once the process has ended (it is reaped then), None while it runs."""
        return None if self.process is None else self.process.poll()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""
