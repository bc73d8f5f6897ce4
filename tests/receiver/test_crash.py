"""kill -9 of the receiver process at random moments while a client posts.

Whatever got a 200 must be in the database after a restart, and must reach MQTT (the
outbox is drained by the restarted process). Requests cut off without an answer may or
may not have been committed; nothing is asserted about those.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import random
import signal
import sqlite3
import subprocess
import sys
import time

import aiohttp
import pytest

from devtools.gateway_sim import encode, returned_payload, signed_headers
from devtools.mosquitto import Mosquitto, free_port
from devtools.receiver import write_options
from hydro_fleet_protocol import Event

from .conftest import EMAIL, PASSWORD, SECRET
from .mqtt_helpers import Collector, wait_until

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20
CLIENTS = 3


class ReceiverProcess:
    """Receiver processes forked by ``forkserver`` (see there why), killed with SIGKILL."""

    def __init__(self, tmp_path: Path, broker: Mosquitto) -> None:
        self.port = free_port()
        self.data_dir = tmp_path / "data"
        self.options = tmp_path / "options.json"
        write_options(
            self.options,
            secrets=[SECRET],
            email=EMAIL,
            password=PASSWORD,
            rate_limit_per_minute=100_000,
            log_level="warning",
        )
        self.broker = broker
        self.log = (tmp_path / "receiver.log").open("ab")
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.receiver.forkserver",
                "--",
                "--options",
                str(self.options),
                "--data-dir",
                str(self.data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--mqtt-host",
                broker.host,
                "--mqtt-port",
                str(broker.port),
            ],
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    async def start(self, session: aiohttp.ClientSession) -> None:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.write(b"start\n")
        self.server.stdin.flush()
        self.pid = int(self.server.stdout.readline())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.alive(), "receiver exited at start-up"
            try:
                async with session.get(self.url + "/api/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.03)
        raise TimeoutError("receiver did not start")

    def kill(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        while self.alive():  # reaped by the kernel (SIGCHLD ignored in the fork server)
            time.sleep(0.005)

    def stop(self) -> None:
        if self.alive():
            assert self.pid is not None
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            if self.alive():
                self.kill()
        self.server.stdin.close()  # type: ignore[union-attr]
        self.server.wait(10)
        self.server.stdout.close()  # type: ignore[union-attr]
        self.log.close()


@pytest.mark.e2e
async def test_kill_9_loses_no_acknowledged_request(mosquitto: Mosquitto, tmp_path: Path) -> None:
    rng = random.Random(20261123)
    receiver = ReceiverProcess(tmp_path, mosquitto)
    acked: dict[str, str] = {}  # request_id -> power bank serial
    cut_off = 0
    counter = 0
    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with (
            Collector(mosquitto, "hydro_fleet/+/event") as events,
            aiohttp.ClientSession(timeout=timeout) as session,
        ):
            await receiver.start(session)
            async with session.post(
                receiver.url + "/api/admin/login", json={"email": EMAIL, "password": PASSWORD}
            ) as resp:
                token = (await resp.json())["access_token"]

            async def client(stop: asyncio.Event) -> None:
                nonlocal cut_off, counter
                while not stop.is_set():
                    counter += 1
                    bank = f"PB-{counter:05d}"
                    body = encode(returned_payload(f"PS{counter % 3:03d}", bank, 1 + counter % 8, counter % 101))
                    try:
                        async with session.post(
                            receiver.url + "/api/internal/stations/data",
                            data=body,
                            headers=signed_headers(token, SECRET, body),
                        ) as resp:
                            answer = await resp.json()
                            assert resp.status == 200, answer
                            acked[answer["request_id"]] = bank
                    except (aiohttp.ClientError, TimeoutError):
                        cut_off += 1
                        await asyncio.sleep(0.01)

            for _ in range(KILLS):
                stop = asyncio.Event()
                tasks = [asyncio.create_task(client(stop)) for _ in range(CLIENTS)]
                await asyncio.sleep(rng.uniform(0.02, 0.35))
                receiver.kill()
                stop.set()
                await asyncio.gather(*tasks)
                await receiver.start(session)

            # The last process drains whatever the killed ones committed but had not published.
            db_path = receiver.data_dir / "receiver.db"

            def outbox_empty() -> bool:
                with sqlite3.connect(db_path) as db:
                    return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0

            await wait_until(outbox_empty, timeout=30, what="outbox drained")
            await events.wait_for(
                lambda: set(acked) <= {Event.parse(m.payload).data["request_id"] for m in events.messages},
                timeout=10,
                what="every acknowledged event on MQTT",
            )
            published = {
                Event.parse(m.payload).data["request_id"]: Event.parse(m.payload).data["power_bank_serial"]
                for m in events.messages
            }
    finally:
        receiver.stop()

    db = sqlite3.connect(db_path)
    try:
        stored = dict(db.execute("SELECT request_id, power_bank FROM return_events").fetchall())
        logged = {r[0] for r in db.execute("SELECT request_id FROM sync_log")}
    finally:
        db.close()
    assert len(acked) >= KILLS * 3, f"too few requests got through ({len(acked)}) to mean anything"
    missing_db = {rid for rid in acked if stored.get(rid) != acked[rid] or rid not in logged}
    assert not missing_db, f"{len(missing_db)} acknowledged requests are not in the database"
    missing_mqtt = {rid for rid in acked if published.get(rid) != acked[rid]}
    assert not missing_mqtt, f"{len(missing_mqtt)} acknowledged requests never reached MQTT"
    print(
        f"{KILLS} kills, {len(acked)} acknowledged, {cut_off} cut off, {len(stored)} stored, "
        f"{len(events.messages)} events published ({len(events.messages) - len(published)} re-sends)"
    )
