"""One set of protocol conformance cases, run against the Pi bridge and the ESPHome node.

Both run as real processes on a real Mosquitto: the bridge in ``--simulate`` mode, the
ESPHome node as its YAML's lambdas compiled for this machine (``esphome_host.py`` says
what that covers). The cases drive them only through MQTT, as Home Assistant does, and
expect one behaviour (docs/protocol.md): the state before an ok ack, ``duration`` in
``pump_stopped``, a ``safety_stop`` when dry-run protection acts, one ack for every
command with a readable id, however malformed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass
import json
from pathlib import Path
import time
from typing import Any

import pytest

from hydro_fleet_protocol import Ack, Event, NodeConfig, State
from tests.bridge.helpers import BridgeProcess, Recorder, write_config

from .esphome_host import EsphomeHostNode, build, load_node


@dataclass
class NodeUnderTest:
    """A running node as HA sees it, and the one hardware fault a case may cause."""

    node_id: str
    pump: str
    max_runtime: float
    rec: Recorder
    make_water_low: Callable[[], Awaitable[None]]

    def since(self, mark: int, suffix: str) -> list[tuple[int, dict[str, Any]]]:
        """(position, payload) of the node's messages on ``suffix`` after ``mark``."""
        topic = f"hydro_fleet/{self.node_id}/{suffix}"
        return [(i, json.loads(p)) for i, (t, p) in enumerate(self.rec.messages) if i >= mark and t == topic]

    async def send(self, payload: str | bytes) -> int:
        mark = len(self.rec.messages)
        assert self.rec._client is not None
        await self.rec._client.publish(f"hydro_fleet/{self.node_id}/cmd", payload, qos=1)
        return mark

    async def ack(self, mark: int, cmd_id: str, timeout: float = 10) -> tuple[int, Ack]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, payload in self.since(mark, "ack"):
                if payload.get("id") == cmd_id:
                    return i, Ack.parse(json.dumps(payload))
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.node_id}: no ack for {cmd_id} within {timeout} s")

    async def event(self, mark: int, kind: str, timeout: float = 10) -> tuple[int, Event]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, payload in self.since(mark, "event"):
                if payload.get("type") == kind:
                    return i, Event.parse(json.dumps(payload))
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.node_id}: no {kind} event within {timeout} s")

    async def command(self, cmd_id: str, action: str, target: str | None = None, **params: Any) -> tuple[int, int, Ack]:
        body: dict[str, Any] = {"v": 1, "id": cmd_id, "action": action, "params": params}
        if target is not None:
            body["target"] = target
        mark = await self.send(json.dumps(body))
        at, ack = await self.ack(mark, cmd_id)
        return mark, at, ack

    def pump_in_states(self, start: int, end: int) -> list[bool]:
        states = [State.parse(json.dumps(p)) for i, p in self.since(start, "state") if i < end]
        return [state.pumps[self.pump].on for state in states if self.pump in state.pumps]


@pytest.fixture(scope="session")
def esphome_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("esphome-host"))


NodeFactory = Callable[..., contextlib.AbstractAsyncContextManager[NodeUnderTest]]


@pytest.fixture(params=["pi_bridge", "esphome"])
def start_node(request: pytest.FixtureRequest, mosquitto: Any, tmp_path: Path) -> NodeFactory:
    """``async with start_node(draining=...)``: the node and HA's view of it.

    ``draining``: a bridge whose simulated reservoir runs low while the pump runs (85 %
    low mark, 6 l/min); the ESPHome node's float switch closes when a case says so.
    """

    @contextlib.asynccontextmanager
    async def start(draining: bool = False) -> AsyncIterator[NodeUnderTest]:
        async with Recorder(mosquitto.port) as rec:
            if request.param == "pi_bridge":
                pump = {"key": "pump", "pin": 17, "max_runtime": 30}
                settings: dict[str, Any] = {"pumps": [pump]}
                if draining:
                    settings |= {"water_low_pct": 85.0, "pumps": [pump | {"flow_ml_per_min": 6000}]}
                config = write_config(tmp_path / "bridge.yaml", **settings)
                with BridgeProcess(config, "pi-9", mosquitto.port, interval=0.2):
                    yield await _ready(rec, "pi-9", _nothing)
            else:
                node = EsphomeHostNode(request.getfixturevalue("esphome_program"), load_node(), mosquitto.port)
                await node.start()
                try:
                    yield await _ready(rec, "esp-1", lambda: node.set_binary("float_switch", True))
                finally:
                    await node.stop()

    return start


async def _nothing() -> None:
    """The bridge's reservoir runs low by itself while its pump runs."""


async def _ready(rec: Recorder, node_id: str, make_water_low: Callable[[], Awaitable[None]]) -> NodeUnderTest:
    config = NodeConfig.parse(json.dumps(await rec.wait_for("config", lambda m: m.get("node_id") == node_id)))
    await rec.wait_for("availability", lambda m: m.get("raw") == "online")
    (pump,) = config.pumps
    return NodeUnderTest(node_id, pump.key, pump.max_runtime, rec, make_water_low)


async def test_pump_on_state_before_ack_then_stop_at_deadline_with_duration(start_node):
    async with start_node() as node:
        mark, at, ack = await node.command("on-1", "pump_on", node.pump, duration=2)
        asked_at = time.time()
        assert ack.ok and ack.result == {"duration": 2, "clipped": False}, ack
        # HA gets the ack only when the state it shows already has the pump on.
        assert True in node.pump_in_states(mark, at), f"{node.node_id}: no state with the pump on before the ack"
        state = [State.parse(json.dumps(p)) for i, p in node.since(mark, "state") if i < at][-1]
        until = state.pumps[node.pump].until
        assert until is not None and abs(until - (asked_at + 2)) < 2.5, (until, asked_at)
        _, started = await node.event(mark, "pump_started")
        assert started.data == {"pump": node.pump, "reason": "command", "duration": 2}
        _, stopped = await node.event(mark, "pump_stopped", timeout=6)
        assert stopped.data["reason"] == "deadline" and stopped.data["pump"] == node.pump
        assert 1.5 < stopped.data["duration"] < 3.5, stopped.data
        await node.rec.wait_for("state", lambda m: m.get("pumps", {}).get(node.pump, {}).get("on") is False)


async def test_clipped_run_and_pump_off(start_node):
    async with start_node() as node:
        mark, _, ack = await node.command("on-2", "pump_on", node.pump, duration=node.max_runtime + 100)
        assert ack.ok
        assert ack.result == {"duration": node.max_runtime, "clipped": True, "requested": node.max_runtime + 100}
        assert ack.message and "clipped" in ack.message
        await asyncio.sleep(0.5)
        mark, at, ack = await node.command("off-2", "pump_off", node.pump)
        assert ack.ok
        assert node.pump_in_states(mark, at)[-1:] == [False], "no state with the pump off before the ack"
        _, stopped = await node.event(mark, "pump_stopped")
        assert stopped.data["reason"] == "command" and 0.3 < stopped.data["duration"] < 5, stopped.data


async def test_dry_run_protection_stops_with_safety_stop_and_refuses(start_node):
    async with start_node(draining=True) as node:
        mark, _, ack = await node.command("on-3", "pump_on", node.pump, duration=20)
        assert ack.ok
        await asyncio.sleep(0.3)
        await node.make_water_low()
        at_stop, stopped = await node.event(mark, "pump_stopped")
        assert stopped.data["reason"] == "water_low" and stopped.data["duration"] > 0, stopped.data
        # Its state carries the node's own decision, which is what HA shows.
        await node.rec.wait_for("state", lambda m: m.get("water_low") is True)
        at_safety, safety = await node.event(mark, "safety_stop")
        assert at_safety > at_stop
        assert safety.data["pump"] == node.pump and safety.data["reason"] == "water_low"
        assert isinstance(safety.data["message"], str)
        # Now a start is refused, with the reason in the ack and a safety_stop event.
        mark, _, refused = await node.command("on-4", "pump_on", node.pump, duration=5)
        assert (refused.ok, refused.code) == (False, "water_low"), refused
        _, event = await node.event(mark, "safety_stop")
        assert event.data["reason"] == "water_low" and event.data["pump"] == node.pump
        await asyncio.sleep(0.5)
        assert [p["type"] for _, p in node.since(mark, "event")] == ["safety_stop"]
        assert True not in node.pump_in_states(mark, len(node.rec.messages))


MALFORMED = [
    ('{"v":2,"id":"m1","action":"identify"}', "unsupported_version"),
    ('{"v":"1","id":"m2","action":"identify"}', "unsupported_version"),
    ('{"id":"m3","action":"identify"}', "invalid_command"),
    ('{"v":1,"id":"m4","action":"reboot"}', "unsupported"),
    ('{"v":1,"id":"m5","action":5}', "invalid_command"),
    ('{"v":1,"id":"m6","action":"pump_on","target":"Pump 1"}', "invalid_command"),
    ('{"v":1,"id":"m7","action":"pump_on","target":"pump","params":[1]}', "invalid_command"),
    ('{"v":1,"id":"m8","action":"pump_on","target":"pump","params":{"duration":"10"}}', "invalid_duration"),
    ('{"v":1,"id":"m9","action":"pump_on","target":"pump","params":{"duration":true}}', "invalid_duration"),
    ('{"v":1,"id":"m10","action":"pump_on","target":"pump","params":{"duration":-1}}', "invalid_duration"),
    ('{"v":1,"id":"m11","action":"pump_on","target":"nope"}', "unknown_pump"),
    ('{"v":1,"id":"m12","action":"pump_on"}', "unknown_pump"),
]
UNANSWERABLE = ["not json", '{"v":1,"action":"identify"}', '{"v":1,"id":7,"action":"identify"}', "[1,2]"]


async def test_every_command_with_an_id_gets_one_ack(start_node):
    async with start_node() as node:
        start = len(node.rec.messages)
        for payload, code in MALFORMED:
            cmd_id = json.loads(payload)["id"]
            mark = await node.send(payload)
            _, ack = await node.ack(mark, cmd_id, timeout=5)
            assert (ack.ok, ack.code) == (False, code), f"{node.node_id} {payload}: {ack}"
            assert ack.message
        long_id = "x" * 65
        for payload in [*UNANSWERABLE, json.dumps({"v": 1, "id": long_id, "action": "identify"})]:
            await node.send(payload)
        # Still answering, and nothing above ran the pump or was answered twice.
        _, _, ok = await node.command("after", "identify")
        assert ok.ok
        acks = [p["id"] for _, p in node.since(start, "ack")]
        assert sorted(acks) == sorted([json.loads(p)["id"] for p, _ in MALFORMED] + ["after"]), acks
        assert [p["type"] for _, p in node.since(start, "event")] == []
