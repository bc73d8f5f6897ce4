"""Start simulated Pi bridges as real processes (``python -m pi_bridge --simulate``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
from typing import Any

from devtools.mosquitto import free_port
from devtools.processes import stop_process

REPO = Path(__file__).resolve().parent.parent


def simulate_command(node_id: str, port: int, interval: float, config: Path, *extra: str) -> list[str]:
    """``python -m pi_bridge --simulate`` for one node on a loopback broker, configured by flags."""
    return [
        sys.executable,
        "-m",
        "pi_bridge",
        "--simulate",
        "--node-id",
        node_id,
        "--broker",
        "127.0.0.1",
        "--port",
        str(port),
        "--interval",
        str(interval),
        "--config",
        str(config),
        *extra,
    ]


def build_in_process(state_dir: Path, **settings: Any) -> Any:
    """A simulated bridge (node pi-1) built in this process, not started; ``settings`` are config keys."""
    from pi_bridge.cli import _build
    from pi_bridge.config import load_config

    base = {
        "simulate": True,
        "node_id": "pi-1",
        "state_dir": str(state_dir),
        "machine_id_file": str(state_dir / "machine-id"),
    }
    return _build(load_config(None, base | settings), state_dir)


def build_offline(state_dir: Path, **settings: Any) -> Any:
    """``build_in_process`` with no broker at its port: the node is on its own, its events wait in the outbox."""
    return build_in_process(state_dir, **{"broker.host": "127.0.0.1", "broker.port": free_port()} | settings)


class BridgeProcess:
    """One simulated node."""

    def __init__(
        self,
        node_id: str,
        broker_port: int,
        workdir: Path,
        *,
        interval: float = 5.0,
        max_runtime: float = 30.0,
        area: str | None = None,
        camera: dict[str, Any] | None = None,
        python: str = sys.executable,
        broker_hosts: list[str] | None = None,
    ) -> None:
        """``broker_hosts``: cluster members (``host:port``) to fail over between, else the port alone."""
        self.node_id = node_id
        self.workdir = workdir
        self.config_path = workdir / f"{node_id}.yaml"
        self.log_path = workdir / f"{node_id}.log"
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            f"node_id: {node_id}\n"
            "simulate: true\n"
            f"sample_interval: {interval}\n"
            f"state_dir: {workdir / node_id}\n" + (f"area: {area}\n" if area else "") + "broker:\n  host: 127.0.0.1\n"
            f"  port: {broker_port}\n" + (f"  hosts: {json.dumps(broker_hosts)}\n" if broker_hosts else "") + "pumps:\n"
            f"  - key: pump\n    name: Pump\n    pin: 17\n    max_runtime: {max_runtime}\n    flow_ml_per_min: 600\n"
            + (f"camera: {json.dumps(camera)}\n" if camera is not None else "")
        )
        self.python = python
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [self.python, "-m", "pi_bridge", "run", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    def kill(self) -> None:
        """SIGKILL: no goodbye, the broker publishes the last will."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout)

    def exit_code(self) -> int | None:
        """The exit code once the process has ended (it is reaped then), None while it runs."""
        return None if self.process is None else self.process.poll()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
