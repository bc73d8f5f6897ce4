"""A fleet of N protocol-level nodes in one process against the 3-node NATS cluster and
against one Mosquitto, in the same run (issue #19): broker CPU and memory per 1,000 nodes,
and the p99 latency from a node's publish to a subscriber on another member.

Each node is one MQTT connection doing what a Pi does on the wire: CONNECT with its last
will (``offline``, retained), the retained config, ``online``, then a state (QoS 1) every
``--interval`` seconds at its own phase. The nodes speak MQTT 3.1.1 through a minimal
client below (CONNECT, PUBLISH, PINGREQ), so 5,000 of them fit in one process; the
subscriber that measures latency is a regular aiomqtt client. On the cluster the nodes
are spread over members n1 and n3 and the subscriber is on n2, so every message crosses
members. Baseline: one Mosquitto, same nodes, same subscriber.

    python -m bench.fleet_cluster [--nodes 5000] [--interval 10] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from pathlib import Path
import struct
import tempfile
import time

import aiomqtt

from bench.load import node_config, node_id, readings
from devtools.mosquitto import Mosquitto
from devtools.nats import NatsCluster
from hydro_fleet_protocol import AVAILABILITY_OFFLINE, AVAILABILITY_ONLINE, State, Topic, encode

PREFIX = "hydro_fleet"


def _string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def _packet(kind: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([kind]) + bytes(encoded) + body


def _publish(topic: str, payload: bytes, packet_id: int, *, retain: bool) -> bytes:
    """PUBLISH at QoS 1."""
    return _packet(0x32 | int(retain), _string(topic.encode()) + struct.pack("!H", packet_id) + payload)


class Node:
    """One node's connection: the Pi's connect sequence, then a state every interval."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.topics = Topic(PREFIX, node_id(index))
        self.writer: asyncio.StreamWriter | None = None
        self._ids = 0
        self._reader: asyncio.Task[None] | None = None

    def _next_id(self) -> int:
        self._ids = self._ids % 65535 + 1
        return self._ids

    async def connect(self, host: str, port: int) -> None:
        reader, self.writer = await asyncio.open_connection(host, port)
        flags = 0x02 | 0x04 | 0x08 | 0x20  # clean session, will at QoS 1, retained
        body = (
            _string(b"MQTT")
            + bytes([4, flags])
            + struct.pack("!H", 60)
            + _string(f"bench-{node_id(self.index)}".encode())
            + _string(self.topics.availability.encode())
            + _string(AVAILABILITY_OFFLINE.encode())
        )
        self.writer.write(_packet(0x10, body))
        connack = await reader.readexactly(4)
        if connack[3] != 0:
            raise ConnectionError(f"CONNACK {connack[3]}")
        self._reader = asyncio.create_task(self._discard(reader))
        config = encode(node_config(self.index, full=True))
        self.writer.write(_publish(self.topics.config, config, self._next_id(), retain=True))
        self.writer.write(
            _publish(self.topics.availability, AVAILABILITY_ONLINE.encode(), self._next_id(), retain=True)
        )

    async def _discard(self, reader: asyncio.StreamReader) -> None:
        """PUBACKs and PINGRESPs: read so the socket never backs up."""
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while await reader.read(65536):
                pass

    def send_state(self, seq: int) -> None:
        assert self.writer is not None
        # The send time rides in ts, for the subscriber's latency.
        state = encode(State(ts=time.time(), seq=seq, readings=readings(self.index, seq)))
        self.writer.write(_publish(self.topics.state, state, self._next_id(), retain=False))

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        await asyncio.sleep(interval * (self.index % 1000) / 1000)  # each node at its own phase
        seq = 0
        while not stop.is_set():
            seq += 1
            self.send_state(seq)
            await asyncio.sleep(interval)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.write(b"\xe0\x00")  # DISCONNECT
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        if self._reader is not None:
            self._reader.cancel()


class Broker:
    def __init__(self, name: str, pids: list[int], node_ports: list[int], subscriber_port: int) -> None:
        self.name, self.pids, self.node_ports, self.subscriber_port = name, pids, node_ports, subscriber_port

    def cpu(self) -> float:
        return sum(_stat(pid)[0] for pid in self.pids)

    def rss(self) -> int:
        return sum(_stat(pid)[1] for pid in self.pids)


def _stat(pid: int) -> tuple[float, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return cpu, int(fields[21]) * os.sysconf("SC_PAGE_SIZE")


async def measure(broker: Broker, args: argparse.Namespace) -> dict[str, float]:
    latencies: list[float] = []
    stop = asyncio.Event()
    async with aiomqtt.Client("127.0.0.1", broker.subscriber_port) as subscriber:
        await subscriber.subscribe(f"{PREFIX}/+/state", qos=1)

        async def listen() -> None:
            async for message in subscriber.messages:
                latencies.append(time.time() - State.parse(bytes(message.payload)).ts)

        listener = asyncio.create_task(listen())
        rss_idle = broker.rss()
        nodes = [Node(i) for i in range(args.nodes)]
        started = time.monotonic()
        for start in range(0, len(nodes), 100):
            batch = nodes[start : start + 100]
            await asyncio.gather(
                *(n.connect("127.0.0.1", broker.node_ports[n.index % len(broker.node_ports)]) for n in batch)
            )
        connect_time = time.monotonic() - started
        runners = [asyncio.create_task(n.run(args.interval, stop)) for n in nodes]
        await asyncio.sleep(args.interval)  # every node in its steady rhythm
        latencies.clear()
        cpu0, t0 = broker.cpu(), time.monotonic()
        await asyncio.sleep(args.seconds)
        cpu1, t1 = broker.cpu(), time.monotonic()
        rss = broker.rss()
        received = len(latencies)
        stop.set()
        await asyncio.gather(*runners)
        await asyncio.gather(*(n.close() for n in nodes))
        listener.cancel()
    latencies.sort()
    per_thousand = 1000 / args.nodes
    result = {
        "cpu_pct_per_1000": (cpu1 - cpu0) / (t1 - t0) * 100 * per_thousand,
        "rss_mib_per_1000": (rss - rss_idle) / 2**20 * per_thousand,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "delivered_per_s": received / (t1 - t0),
        "connect_s": connect_time,
    }
    print(
        f"{broker.name:>24}: {args.nodes} nodes connected in {connect_time:.1f} s; "
        f"{result['delivered_per_s']:.0f} states/s delivered; broker CPU {result['cpu_pct_per_1000']:.1f} % of a core "
        f"and RSS {result['rss_mib_per_1000']:.1f} MiB per 1,000 nodes; latency p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms"
    )
    return result


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="hf-bench-fleet-") as tmp:
        with Mosquitto(workdir=Path(tmp) / "mosquitto") as mosquitto:
            assert mosquitto.process is not None
            single = await measure(
                Broker("one Mosquitto", [mosquitto.process.pid], [mosquitto.port], mosquitto.port), args
            )
        with NatsCluster(workdir=Path(tmp) / "nats") as cluster:
            m = cluster.members
            cluster_result = await measure(
                Broker("NATS, 3 members (R3)", cluster.pids(), [m[0].mqtt_port, m[2].mqtt_port], m[1].mqtt_port),
                args,
            )
    for key in ("cpu_pct_per_1000", "rss_mib_per_1000", "p99_ms"):
        print(f"{key}: cluster / Mosquitto = {cluster_result[key] / single[key]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
