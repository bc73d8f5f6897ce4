"""Real bridge processes and a recording MQTT client, for the bridge's end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import json
import os
from pathlib import Path
import signal
import sqlite3
import subprocess
import sys
import time
from typing import Any

import aiomqtt
import yaml

from devtools.bridges import simulate_command

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, **values: Any) -> Path:
    """A bridge config file; state_dir and machine_id_file default to the test's directory."""
    base = path.parent
    data: dict[str, Any] = {"state_dir": str(base / "state"), "machine_id_file": str(base / "machine-id")}
    data.update(values)
    path.write_text(yaml.safe_dump(data))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pi_bridge <args>`` to its end, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "pi_bridge", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        check=False,
        timeout=60,
    )


class BridgeProcess:
    """``python -m pi_bridge --simulate ...`` as a child process with its log in a file."""

    def __init__(
        self,
        config: Path,
        node_id: str,
        port: int,
        interval: float = 0.2,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.config, self.node_id, self.port, self.interval = config, node_id, port, interval
        self.extra = extra
        self.log_path = config.with_suffix(f".{node_id}.log")
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return simulate_command(self.node_id, self.port, self.interval, self.config, *self.extra)

    def start(self) -> BridgeProcess:
        log = self.log_path.open("ab")
        env = os.environ | {"PYTHONPATH": str(ROOT)} | (self.env or {})
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, cwd=ROOT, env=env)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> BridgeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Recorder:
    """Subscribes to ``prefix/#`` and keeps every message; can send commands."""

    def __init__(
        self,
        port: int,
        topic: str = "hydro_fleet/#",
        *,
        identifier: str | None = None,
        clean_session: bool = True,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.port = port
        self.topic = topic
        self.messages: list[tuple[str, bytes]] = []
        self._kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": port,
            "identifier": identifier,
            "clean_session": clean_session,
            "username": username,
            "password": password,
        }
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._new = asyncio.Event()

    async def __aenter__(self) -> Recorder:
        deadline = time.monotonic() + 10
        while True:
            client = aiomqtt.Client(**self._kwargs)
            try:
                await client.__aenter__()
                break
            except aiomqtt.MqttError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        self._client = client
        await client.subscribe(self.topic, qos=1)
        self._task = asyncio.get_running_loop().create_task(self._collect())
        return self

    async def _collect(self) -> None:
        assert self._client is not None
        try:
            async for message in self._client.messages:
                self._keep(message)
        except aiomqtt.MqttError:
            self._drain_queue()

    def _keep(self, message: aiomqtt.Message) -> None:
        self.messages.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]
        self._new.set()

    def _drain_queue(self) -> None:
        """Keep what the client already received (and acknowledged) but not yet handed out.

        aiomqtt's iterator stops at a disconnect or cancellation with messages still queued;
        for a QoS 1 session those are gone from the broker, so dropping them here would look
        like loss on the bridge's side.
        """
        assert self._client is not None
        queue = self._client._queue
        while not queue.empty():
            self._keep(queue.get_nowait())

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._drain_queue()
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.__aexit__(None, None, None)

    def payloads(self, suffix: str) -> list[dict[str, Any]]:
        out = []
        for topic, payload in self.messages:
            if topic.endswith("/" + suffix):
                try:
                    out.append(json.loads(payload))
                except ValueError:
                    out.append({"raw": payload.decode(errors="replace")})
        return out

    async def wait_for(
        self, suffix: str, predicate: Callable[[dict[str, Any]], bool] = lambda _m: True, timeout: float = 15.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.payloads(suffix):
                if predicate(message):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {suffix} message matched within {timeout} s; got {self.messages[-5:]}")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), min(remaining, 0.2))

    async def command(
        self, node_id: str, action: str, target: str | None = None, cmd_id: str = "c1", **params: Any
    ) -> dict[str, Any]:
        """Send a command and wait for its ack."""
        assert self._client is not None
        body: dict[str, Any] = {"v": 1, "id": cmd_id, "action": action, "params": params}
        if target is not None:
            body["target"] = target
        await self._client.publish(f"hydro_fleet/{node_id}/cmd", json.dumps(body), qos=1)
        return await self.wait_for("ack", lambda m: m.get("id") == cmd_id)

    async def publish(self, topic: str, payload: str, qos: int = 1) -> None:
        assert self._client is not None
        await self._client.publish(topic, payload, qos=qos)


async def wait_until(check: Callable[[], bool], timeout: float, what: str, step: float = 0.02) -> float:
    """Poll ``check`` until true; returns the seconds it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} not within {timeout} s")
        await asyncio.sleep(step)
    return time.monotonic() - start


def sample_seqs(rec: Recorder) -> tuple[list[int], list[int]]:
    """The seqs ``rec`` saw: (live states, backfilled samples)."""
    live = [m["seq"] for m in rec.payloads("state")]
    backfilled = [s["seq"] for m in rec.payloads("backfill") for s in m["samples"]]
    return live, backfilled


def queued_samples(db: Path) -> int:
    """How many samples a bridge's offline queue (``queue.sqlite3``) holds; 0 while it cannot be read."""
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
    except sqlite3.Error:
        return 0
