"""Entities from discovery, state updates, availability, pump commands, bad payloads."""

from __future__ import annotations

import asyncio
import json
import logging

from homeassistant.const import (
    ATTR_ENTITY_ID,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfConductivity,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.hydro_fleet.const import DOMAIN
from hydro_fleet_protocol import Ack, Command, CommandAction

from .conftest import node_config, node_state, online_node, publish

SENSORS = {
    "sensor.pi_1_tds": ("700.0", "ppm", None),
    "sensor.pi_1_ec": ("1400.0", UnitOfConductivity.MICROSIEMENS_PER_CM, "conductivity"),
    "sensor.pi_1_ph": ("6.1", None, "ph"),
    "sensor.pi_1_moisture": ("45.5", "%", "moisture"),
    "sensor.pi_1_water_level": ("80.0", "%", None),
    "sensor.pi_1_water_temperature": ("21.5", "°C", "temperature"),
}


async def test_discovered_node_becomes_a_device_with_entities(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)

    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-1")})
    assert device is not None
    assert (device.name, device.model, device.manufacturer, device.sw_version) == (
        "pi-1",
        "Raspberry Pi 4",
        "Hydro Fleet",
        "0.1.0",
    )
    ent_reg = er.async_get(hass)
    for entity_id, (value, unit, device_class) in SENSORS.items():
        state = hass.states.get(entity_id)
        assert state is not None, entity_id
        assert state.state == value
        assert state.attributes.get("unit_of_measurement") == unit
        assert state.attributes.get("device_class") == device_class
        assert state.attributes["state_class"] == "measurement"
        assert ent_reg.async_get(entity_id).device_id == device.id
    assert hass.states.get("sensor.pi_1_tds").attributes["friendly_name"] == "pi-1 TDS"
    pump = hass.states.get("switch.pi_1_pump")
    assert pump.state == STATE_OFF
    assert pump.attributes["max_runtime"] == 30


async def test_discovery_registers_each_entity_once(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    """A first discovery creates registry entries and no follow-up updates (each is a recorded event)
    but the spoken-name aliases of what Assist is asked about ("pi 1 Pump"), which HA cannot take at creation."""
    actions: list[tuple[str, str, frozenset[str]]] = []
    hass.bus.async_listen(
        er.EVENT_ENTITY_REGISTRY_UPDATED,
        lambda event: actions.append(
            (event.data["action"], event.data["entity_id"], frozenset(event.data.get("changes", ())))
        ),
    )
    await online_node(hass)

    assert actions
    assert {action for action, _, _ in actions} == {"create", "update"}
    updates = {entity_id: changes for action, entity_id, changes in actions if action == "update"}
    asked_about = {"switch.pi_1_pump"} | {
        f"sensor.pi_1_{key}" for key in ("ph", "tds", "ec", "moisture", "water_level", "water_temperature")
    }
    assert updates == dict.fromkeys(asked_about, frozenset({"aliases"}))
    ent_reg = er.async_get(hass)
    # The display precision is stored with the entry, as HA would have stored it in an update.
    assert ent_reg.async_get("sensor.pi_1_ph").options["sensor"] == {"suggested_display_precision": 2}
    assert ent_reg.async_get("sensor.pi_1_water_temperature").options["sensor"] == {"suggested_display_precision": 1}


async def test_state_updates_and_availability(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    await online_node(hass)
    publish(hass, "pi-1", "state", node_state(seq=2, ph=5.8, pump_on=True))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_ph").state == "5.8"
    assert hass.states.get("switch.pi_1_pump").state == STATE_ON

    publish(hass, "pi-1", "availability", "offline")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_ph").state == STATE_UNAVAILABLE
    assert hass.states.get("switch.pi_1_pump").state == STATE_UNAVAILABLE

    publish(hass, "pi-1", "availability", "online")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_ph").state == "5.8"


async def test_out_of_range_reading_is_unknown_not_a_number(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)
    publish(hass, "pi-1", "state", node_state(seq=2, ph=19.0, tds=None))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_ph").state == STATE_UNKNOWN
    assert hass.states.get("sensor.pi_1_tds").state == STATE_UNKNOWN


def _switch_pump(hass: HomeAssistant, service: str) -> asyncio.Task[None]:
    """Call switch.<service> on pi-1's pump; the call blocks until the node answers, so it runs as a task."""
    return hass.async_create_task(
        hass.services.async_call("switch", service, {ATTR_ENTITY_ID: "switch.pi_1_pump"}, blocking=True)
    )


async def _answer(hass: HomeAssistant, mqtt_mock: MqttMockHAClient, ack_for) -> Command:
    """Wait for the command on the broker and publish the node's ack."""
    for _ in range(100):
        await asyncio.sleep(0)
        calls = [c for c in mqtt_mock.async_publish.call_args_list if c.args[0] == "hydro_fleet/pi-1/cmd"]
        if calls:
            break
    command = Command.parse(calls[-1].args[1])
    publish(hass, "pi-1", "ack", ack_for(command))
    return command


async def test_switch_sends_command_and_waits_for_ack(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)
    call = _switch_pump(hass, "turn_on")
    command = await _answer(hass, mqtt_mock, lambda c: Ack(c.id, ok=True, result={"duration": 30}))
    await call
    assert command.action is CommandAction.PUMP_ON
    assert command.target == "pump"
    assert "duration" not in command.params  # the node runs it to its max runtime
    # Not optimistic: the switch shows on only once the node reports it.
    assert hass.states.get("switch.pi_1_pump").state == STATE_OFF
    publish(hass, "pi-1", "state", node_state(seq=2, pump_on=True))
    await hass.async_block_till_done()
    assert hass.states.get("switch.pi_1_pump").state == STATE_ON

    mqtt_mock.async_publish.reset_mock()
    call = _switch_pump(hass, "turn_off")
    command = await _answer(hass, mqtt_mock, lambda c: Ack(c.id, ok=True))
    await call
    assert command.action is CommandAction.PUMP_OFF
    payload = json.loads(mqtt_mock.async_publish.call_args.args[1])
    assert payload["v"] == 1


async def test_rejected_command_raises_the_nodes_reason(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)
    call = _switch_pump(hass, "turn_on")
    await _answer(
        hass,
        mqtt_mock,
        lambda c: Ack(c.id, ok=False, code="water_low", message="water level 3 % is below 5 %; pump not started"),
    )
    with pytest.raises(HomeAssistantError) as info:
        await call
    # Each AckCode has its own translation (issue 15 item 3); was the generic "command_rejected".
    assert info.value.translation_key == "command_rejected_water_low"
    assert info.value.translation_placeholders["reason"] == "water level 3 % is below 5 %; pump not started"
    assert str(info.value) == (
        "Node pi-1 kept the pump off because its reservoir is low: water level 3 % is below 5 %; pump not started"
    )


async def test_malformed_discovery_is_logged_once_and_creates_nothing(
    hass: HomeAssistant, setup_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for payload in ('{"v": 1, "node_id": "pi-9", "kind": "toaster"}', "{not json"):
        publish(hass, "pi-9", "config", payload)
        await hass.async_block_till_done()
    assert dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-9")}) is None
    assert hass.states.async_entity_ids() == []
    messages = [r.getMessage() for r in caplog.records if "pi-9" in r.getMessage()]
    assert len(messages) == 1
    assert "malformed config payload from node pi-9" in messages[0]


async def test_malformed_state_is_logged_once_and_changes_nothing(
    hass: HomeAssistant, setup_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    await online_node(hass)
    before = {entity_id: hass.states.get(entity_id).state for entity_id in SENSORS}
    caplog.set_level(logging.WARNING)
    bad = [
        '{"v": 1, "ts": 2, "seq": 2, "readings": {"ph": "acid"}}',
        '{"v": 1, "ts": 2, "seq": 2, "readings": {"ph": [7]}}',
        '{"v": 1, "ts": "x", "seq": 2}',
        "[]",
        b"\xff\xfe",
    ]
    for payload in bad:
        publish(hass, "pi-1", "state", payload)
        await hass.async_block_till_done()
    after = {entity_id: hass.states.get(entity_id).state for entity_id in SENSORS}
    assert after == before
    warnings = [r for r in caplog.records if "malformed state payload from node pi-1" in r.getMessage()]
    assert len(warnings) == 1


async def test_unknown_protocol_version_is_ignored(
    hass: HomeAssistant, setup_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    await online_node(hass)
    publish(hass, "pi-1", "state", '{"v": 2, "ts": 9, "seq": 9, "readings": {"ph": 3.0}}')
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_ph").state == "6.1"
    assert "unsupported protocol version 2" in caplog.text


async def test_discovery_update_adds_and_removes_entities(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)
    config = node_config()
    publish(hass, "pi-1", "config", node_config(sensors=config.sensors[:2]))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_ph") is None
    assert hass.states.get("sensor.pi_1_tds") is not None
    publish(hass, "pi-1", "config", config)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_ph") is not None


async def test_empty_retained_config_removes_the_device(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)
    publish(hass, "pi-1", "config", "")
    await hass.async_block_till_done()
    assert dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-1")}) is None
    assert hass.states.get("sensor.pi_1_tds") is None


async def test_unload_entry(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    await online_node(hass)
    assert await hass.config_entries.async_unload(setup_integration.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_tds").state == STATE_UNAVAILABLE
