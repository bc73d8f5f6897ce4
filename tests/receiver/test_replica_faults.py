"""Faults made for real against replicas on PostgreSQL: SIGKILL of the publishing replica
under load, and a PostgreSQL restart under load."""

from __future__ import annotations

import asyncio
from collections import defaultdict
import itertools
from pathlib import Path
import time

import aiomqtt
import requests

from devtools.mosquitto import Mosquitto
from devtools.postgres import PostgresCluster
from devtools.receiver import ReceiverProcess
from hydro_fleet_protocol import State

from .backends import open_reader
from .conftest import EMAIL, PASSWORD, SECRET
from .gateway_load import GatewayLoad

STATIONS = [f"PS-F{i:02d}" for i in range(8)]


class StateLog:
    """Every station state the broker delivers, in arrival order: (serial-ish topic, seq)."""

    def __init__(self, broker: Mosquitto) -> None:
        self._client = aiomqtt.Client(broker.host, broker.port)
        self.seqs: dict[str, list[int]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StateLog:
        await self._client.__aenter__()
        await self._client.subscribe("hydro_fleet/+/state", qos=1)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for message in self._client.messages:
            node = str(message.topic).split("/")[1]
            if node.startswith("station-"):
                self.seqs[node].append(State.parse(bytes(message.payload)).seq)

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._client.__aexit__(None, None, None)

    def out_of_order(self) -> int:
        """States that arrived after a newer state of the same station."""
        return sum(1 for seqs in self.seqs.values() for a, b in itertools.pairwise(seqs) if b < a)


def _replicas(tmp_path: Path, url: str, broker: Mosquitto, count: int) -> list[ReceiverProcess]:
    replicas = [
        ReceiverProcess(
            tmp_path / f"replica{i}",
            secrets=[SECRET],
            email=EMAIL,
            password=PASSWORD,
            broker_port=broker.port,
            database=url,
            rate_limit_per_minute=100_000,
        )
        for i in range(count)
    ]
    for replica in replicas:
        replica.start()
    return replicas


def _token(replica: ReceiverProcess) -> str:
    answer = requests.post(f"{replica.url}/api/admin/login", json={"email": EMAIL, "password": PASSWORD}, timeout=10)
    return str(answer.json()["access_token"])


def _publisher(replicas: list[ReceiverProcess]) -> ReceiverProcess | None:
    connected = [r for r in replicas if r.exit_code() is None and "connected to MQTT broker" in r.log()]
    return connected[0] if connected else None


async def _drained(url: str, states: StateLog, timeout: float = 60.0) -> dict[str, int]:
    """Wait until the outbox is empty and every station's newest state has arrived."""
    deadline = time.monotonic() + timeout
    while True:
        with open_reader(url) as db:
            backlog = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            newest = {r["node_id"]: int(r["seq"]) for r in db.execute("SELECT node_id, seq FROM stations")}
        if backlog == 0 and all(states.seqs.get(node, [0])[-1] == seq for node, seq in newest.items()):
            return newest
        assert time.monotonic() < deadline, f"outbox {backlog}, newest {newest}"
        await asyncio.sleep(0.2)


def _lost(url: str, acked: dict[str, str]) -> int:
    with open_reader(url) as db:
        stored = {r[0] for r in db.execute("SELECT request_id FROM sync_log")}
    return len(set(acked) - stored)


async def test_kill_9_of_the_publishing_replica_under_load(
    socket_enabled: None, postgres_cluster: PostgresCluster, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    url = postgres_cluster.create_database()
    replicas = _replicas(tmp_path, url, mosquitto, 3)
    try:
        async with StateLog(mosquitto) as states:
            load = GatewayLoad([r.url for r in replicas], _token(replicas[0]))
            stop = asyncio.Event()
            running = asyncio.create_task(load.run(STATIONS, stop))
            await asyncio.sleep(2.0)
            victim = _publisher(replicas)
            assert victim is not None, "no replica publishes"
            acked_before = len(load.acked)
            assert acked_before > 0
            victim.process.kill()  # SIGKILL, mid-load
            killed = time.monotonic()
            survivors = [r for r in replicas if r is not victim]
            while _publisher(survivors) is None:
                assert time.monotonic() - killed < 15, "no replica took over publishing"
                await asyncio.sleep(0.05)
            takeover = time.monotonic() - killed
            await asyncio.sleep(3.0)
            stop.set()
            await running
            newest = await _drained(url, states)
        # Every acknowledged sync is committed; no station's state went out after a newer one.
        assert len(load.acked) > acked_before
        assert _lost(url, load.acked) == 0
        assert states.out_of_order() == 0
        assert set(newest) == {s for s in states.seqs}
        print(f"takeover {takeover:.2f} s, {len(load.acked)} acknowledged syncs, 0 lost, 0 out of order")
        assert takeover < 10
    finally:
        for replica in replicas:
            replica.stop()


async def test_postgres_restart_under_load(socket_enabled: None, mosquitto: Mosquitto, tmp_path: Path) -> None:
    with PostgresCluster() as cluster:
        url = cluster.create_database()
        replicas = _replicas(tmp_path, url, mosquitto, 2)
        try:
            async with StateLog(mosquitto) as states:
                load = GatewayLoad([r.url for r in replicas], _token(replicas[0]))
                stop = asyncio.Event()
                running = asyncio.create_task(load.run(STATIONS[:4], stop))
                await asyncio.sleep(1.5)
                await asyncio.to_thread(cluster.stop, "immediate")  # a crash: recovery from WAL on start
                down = time.monotonic()
                await asyncio.sleep(3.0)
                restarting = time.monotonic()
                await asyncio.to_thread(cluster.start)
                up = time.monotonic()
                acked_at_restart = len(load.acked)
                await asyncio.sleep(3.0)
                stop.set()
                await running
                await _drained(url, states)
            during = [status for at, status in load.statuses if down + 0.5 < at < restarting]
            after = [status for at, status in load.statuses if at > up + 2.0]
            assert 503 in during and 200 not in during  # never 200 without a commit
            assert 200 in after and len(load.acked) > acked_at_restart  # recovered by itself
            assert 500 not in [status for _, status in load.statuses]
            recovered = min(at for at, status in load.statuses if at > restarting and status == 200) - up
            print(f"outage: {during.count(503)} answers 503, 0 200; first 200 {recovered:.2f} s after the restart")
            assert _lost(url, load.acked) == 0
            assert states.out_of_order() == 0
            for replica in replicas:
                assert replica.exit_code() is None
        finally:
            for replica in replicas:
                replica.stop()
