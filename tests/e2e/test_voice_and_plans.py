"""Assist switches a real bridge's pump; a plan change round-trips HA -> broker -> the same real bridge."""

from __future__ import annotations

import json

import pytest

from .conftest import Stack

pytestmark = pytest.mark.e2e


def test_assist_turns_a_bridge_pump_on_and_a_plan_change_round_trips(stack: Stack) -> None:
    hass = stack.hass
    hass.accept_discovery()
    hass.wait_for(lambda: hass.state("switch.pi_1_pump") == "off", 60, "pi-1's pump to report")

    # "turn on pi-1 pump" through HA's built-in agent -> broker -> bridge -> state back.
    reply = hass.converse("turn on pi-1 pump")
    assert reply["response"]["response_type"] == "action_done", json.dumps(reply)
    assert [target["id"] for target in reply["response"]["data"]["success"]] == ["switch.pi_1_pump"]
    hass.wait_for(lambda: "pump pump on" in stack.bridges["pi-1"].log(), 15, "the bridge to start its pump")
    hass.wait_for(lambda: hass.state("switch.pi_1_pump") == "on", 15, "HA to show the pump on")
    reply = hass.converse("turn off pi-1 pump")
    assert reply["response"]["response_type"] == "action_done", json.dumps(reply)
    hass.wait_for(lambda: hass.state("switch.pi_1_pump") == "off", 15, "HA to show the pump off")

    # A plan change: HA -> broker -> bridge, shown once the bridge confirms (ack, and the state before it).
    bridge = stack.bridges["pi-1"]
    stored = bridge.workdir / bridge.node_id / "plans.json"
    select, volume = "select.pi_1_watering_plan", "number.pi_1_volume"
    hass.wait_for(lambda: hass.state(select) == "off", 30, "the bridge's (empty) plan slot to show")
    # The slot's largest volume is what the pump delivers in its max runtime: 3 s at 600 ml/min.
    assert hass.states()[volume]["attributes"]["max"] == 30
    hass.call_service("number", "set_value", {"entity_id": volume, "value": 25})
    assert hass.state(volume) == "25.0"  # the call returns after the bridge's ack
    hass.call_service("hydro_fleet", "set_watering_times", {"entity_id": select, "times": ["19:30", "07:00"]})
    assert hass.states()[select]["attributes"]["times"] == ["07:00", "19:30"]

    # A plan picked before its numbers were touched runs at once: the slot started with default
    # numbers (threshold 30 %, hourly checks), which the bridge reported and HA showed.
    assert hass.state("number.pi_1_dry_below") == "30.0"
    hass.call_service("select", "select_option", {"entity_id": select, "option": "moisture"})
    assert hass.state(select) == "moisture"
    assert json.loads(stored.read_text())["slots"]["plan"]["threshold"] == 30

    hass.call_service("select", "select_option", {"entity_id": select, "option": "time_based"})
    assert hass.state(select) == "time_based"
    assert hass.states()[select]["attributes"]["times"] == ["07:00", "19:30"]
    assert json.loads(stored.read_text())["slots"]["plan"] == {
        "type": "time_based",
        "volume_ml": 25,
        "threshold": 30,
        "check_interval": 3600,
        "min_pause": 14400,
        "times": ["07:00", "19:30"],
    }

    hass.call_service("number", "set_value", {"entity_id": volume, "value": 20})
    assert hass.state(volume) == "20.0"
    assert json.loads(stored.read_text())["slots"]["plan"]["volume_ml"] == 20
    assert bridge.log().count("slot plan: plan set to") == 5
