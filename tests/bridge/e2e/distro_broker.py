"""Debian's Mosquitto the way its systemd unit runs it, on a private file tree and port.

``/usr/sbin/mosquitto -c .../etc/mosquitto/mosquitto.conf`` started as root, with no
``user`` option: Mosquitto drops to the ``mosquitto`` user before it opens the password
file, ACL and plugin files, exactly as ``mosquitto.service`` does. The tree mirrors
Debian's (``etc/mosquitto/{mosquitto.conf,conf.d}``, ``var/lib/mosquitto`` owned by
``mosquitto``), under a world-traversable temporary directory so the dropped user can
reach it; only the listener is moved to a free loopback port.
"""

from __future__ import annotations

import os
from pathlib import Path
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

from devtools.mosquitto import free_port, mosquitto_binary

BROKER_USER = "mosquitto"


def can_run_as_distro() -> str | None:
    """Why this machine cannot run the broker as the distribution does, or None."""
    if os.geteuid() != 0:
        return "needs root: Mosquitto drops to its own user only when started as root"
    try:
        pwd.getpwnam(BROKER_USER)
    except KeyError:
        return "no 'mosquitto' user: install Debian's mosquitto package"
    return None


class DistroMosquitto:
    """A Debian-layout Mosquitto: ``etc`` (config) and ``var`` (persistence) under one root."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hf-distro-"))
        os.chmod(self.root, 0o755)
        self.etc = self.root / "etc" / "mosquitto"
        self.conf_d = self.etc / "conf.d"
        self.var = self.root / "var" / "lib" / "mosquitto"
        self.conf_d.mkdir(parents=True)
        self.var.mkdir(parents=True)
        for path in (self.root / "etc", self.etc, self.conf_d, self.root / "var", self.var.parent):
            os.chmod(path, 0o755)
        user = pwd.getpwnam(BROKER_USER)
        os.chown(self.var, user.pw_uid, user.pw_gid)
        self.port = free_port()
        self.log_path = self.root / "mosquitto.log"
        # Debian's /etc/mosquitto/mosquitto.conf, its paths moved under the root, logging to a file we read.
        (self.etc / "mosquitto.conf").write_text(
            f"persistence true\npersistence_location {self.var}/\nlog_dest stderr\ninclude_dir {self.conf_d}\n"
        )
        (self.conf_d / "00-listener.conf").write_text(f"listener {self.port} 127.0.0.1\n")
        self.process: subprocess.Popen[bytes] | None = None

    def add_conf(self, name: str, text: str) -> None:
        """A file in ``conf.d``, as an operator puts one there."""
        (self.conf_d / name).write_text(text)

    def start(self, timeout: float = 10.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.etc / "mosquitto.conf")],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited {self.process.returncode}: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen within {timeout} s: {self.log()[-2000:]}")

    def running_user(self) -> str:
        """The user the broker process runs as now (after dropping privileges)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return pwd.getpwuid(int(line.split()[1])).pw_name
        raise AssertionError("no Uid line")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
