"""Shared pieces of the benchmarks: node payloads, the HA-MQTT-discovery twin, timing helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
from dataclasses import dataclass, field
import json
import time

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import async_fire_mqtt_message

from hydro_fleet_protocol import NodeConfig, NodeKind, PlanConfig, PumpConfig, State, encode
from tests.pi_node import PI_SENSORS as SENSORS

# HA MQTT discovery equivalents: (unit, device_class) of each reading.
HA_TWIN = {
    "tds": ("ppm", None),
    "ec": ("µS/cm", "conductivity"),
    "ph": (None, "ph"),
    "moisture": ("%", "moisture"),
    "water_level": ("%", None),
    "water_temperature": ("°C", "temperature"),
}


def node_id(index: int) -> str:
    return f"pi-{index + 1}"


def node_config(index: int, *, full: bool) -> NodeConfig:
    """A Pi with the six probes; ``full`` adds the pump and plan a real Pi has."""
    return NodeConfig(
        node_id=node_id(index),
        kind=NodeKind.PI,
        name=node_id(index),
        model="Raspberry Pi 4",
        sensors=SENSORS,
        pumps=(PumpConfig("pump", max_runtime=30),) if full else (),
        plans=(PlanConfig("plan", pump="pump"),) if full else (),
    )


def readings(index: int, seq: int, changed: int = 6) -> dict[str, float]:
    """Six readings of which the first ``changed`` differ from the previous sample.

    6 is the worst case (every entity writes a state). A Pi rounds to each probe's
    precision, so between two 5 s samples typically only moisture or temperature moves.
    """
    wobble = (seq % 50) / 100
    values = {
        "moisture": 45 + wobble,
        "water_temperature": 21 + wobble,
        "tds": 700 + wobble * 10 + index % 7,
        "ec": 1400 + wobble * 20,
        "ph": round(6.0 + wobble / 10, 3),
        "water_level": 80 - wobble,
    }
    steady = {
        "moisture": 45.0,
        "water_temperature": 21.0,
        "tds": 700.0 + index % 7,
        "ec": 1400.0,
        "ph": 6.1,
        "water_level": 80.0,
    }
    return {key: values[key] if position < changed else steady[key] for position, key in enumerate(values)}


def our_state(index: int, seq: int, changed: int = 6) -> bytes:
    return encode(State(ts=1_700_000_000 + seq, seq=seq, readings=readings(index, seq, changed)))


def ha_discovery(index: int) -> Iterator[tuple[str, str]]:
    """HA's own MQTT discovery for the same six readings: one JSON state topic, six sensors."""
    node = node_id(index)
    for key, (unit, device_class) in HA_TWIN.items():
        config = {
            "name": key,
            "unique_id": f"twin_{node}_{key}",
            "state_topic": f"twin/{node}/state",
            "value_template": f"{{{{ value_json.{key} }}}}",
            "state_class": "measurement",
            "device": {"identifiers": [f"twin_{node}"], "name": f"twin {node}"},
        }
        if unit:
            config["unit_of_measurement"] = unit
        if device_class:
            config["device_class"] = device_class
        yield f"homeassistant/sensor/twin_{node}_{key}/config", json.dumps(config)


def ha_state(index: int, seq: int, changed: int = 6) -> str:
    return json.dumps(readings(index, seq, changed))


def fire(hass: HomeAssistant, topic: str, payload: bytes | str) -> None:
    """HA's MQTT message path from the client's on_message on (the broker socket is the only part left out)."""
    async_fire_mqtt_message(hass, topic, payload)


@dataclass
class LagProbe:
    """Event-loop lag: how late a 10 ms sleep wakes up, sampled the whole run."""

    interval: float = 0.01
    lags: list[float] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(time.perf_counter() - start - self.interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def percentile(self, pct: float) -> float:
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]

    def summary(self) -> str:
        return (
            f"lag p50 {self.percentile(50) * 1000:.2f} ms, p99 {self.percentile(99) * 1000:.2f} ms, "
            f"max {max(self.lags) * 1000:.2f} ms over {len(self.lags)} probes"
        )
