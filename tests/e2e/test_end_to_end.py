"""Simulated Pis -> real Mosquitto -> real Home Assistant, and a pump round trip back."""

from __future__ import annotations

import time

import pytest

from .conftest import NODES, PUMP_MAX_RUNTIME, Stack

pytestmark = pytest.mark.e2e

SENSOR_KEYS = ("tds", "ec", "ph", "moisture", "water_level", "water_temperature")


def _entity_ids(node: str) -> list[str]:
    slug = node.replace("-", "_")
    return [f"sensor.{slug}_{key}" for key in SENSOR_KEYS] + [f"switch.{slug}_pump"]


def test_three_pis_appear_and_a_pump_round_trips(stack: Stack) -> None:
    hass = stack.hass
    started = time.monotonic()
    flow = hass.accept_discovery()
    assert flow["context"]["source"] == "mqtt"  # started by the manifest's MQTT discovery topic

    def all_reporting() -> bool:
        states = hass.states()
        return all(
            entity_id in states and states[entity_id]["state"] not in ("unknown", "unavailable")
            for node in NODES
            for entity_id in _entity_ids(node)
        )

    hass.wait_for(all_reporting, 60, "every sensor and pump of pi-1..pi-3 to report")
    assert len(hass.devices_of("hydro_fleet")) == 3
    states = hass.states()
    assert 0 < float(states["sensor.pi_1_ph"]["state"]) < 14
    assert states["sensor.pi_2_tds"]["attributes"]["unit_of_measurement"] == "ppm"
    assert states["switch.pi_2_pump"]["state"] == "off"
    print(f"all entities of 3 nodes reporting {time.monotonic() - started:.1f} s after the entry was created")

    # HA -> broker -> bridge: the bridge turns the pump on and HA shows what the node reports.
    hass.call_service("switch", "turn_on", {"entity_id": "switch.pi_2_pump"})
    turned_on = time.monotonic()
    assert hass.state("switch.pi_2_pump") == "on"  # the service call returns after the node's ack
    assert "pump pump on for 3.0 s (command)" in stack.bridges["pi-2"].log()
    assert hass.state("switch.pi_1_pump") == "off"

    # The bridge stops it at its max runtime on its own; HA shows off.
    hass.wait_for(lambda: hass.state("switch.pi_2_pump") == "off", PUMP_MAX_RUNTIME + 10, "the pump to stop")
    ran = time.monotonic() - turned_on
    assert PUMP_MAX_RUNTIME - 0.5 <= ran <= PUMP_MAX_RUNTIME + 5, ran
    assert "(max_runtime)" in stack.bridges["pi-2"].log()

    # A bridge that dies: the broker publishes its last will and HA marks it unavailable.
    stack.bridges["pi-3"].kill()
    hass.wait_for(
        lambda: all(hass.state(entity_id) == "unavailable" for entity_id in _entity_ids("pi-3")),
        30,
        "pi-3's entities to become unavailable",
    )
    assert hass.state("sensor.pi_1_ph") not in ("unknown", "unavailable")
