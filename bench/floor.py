"""P1's floor: the cheapest integration doing the visible work of ours (see bench/README.md).

Six plain ``SensorEntity``s per node, with the device classes, units and state classes
of ours, fed by one MQTT subscription that decodes the same protocol state message and
writes the readings that changed. No validation, no derived entities: what is left is
the cost of getting six values into HA's state machine, which no integration can avoid.
Not product code: it exists to show what ratio any integration that writes HA states reaches.
"""

from __future__ import annotations

import json
from typing import Any

from homeassistant.components import mqtt
from homeassistant.components.sensor import SensorEntity
from homeassistant.config_entries import ConfigEntry, ConfigFlow
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    MockPlatform,
    mock_config_flow,
    mock_integration,
    mock_platform,
)

from custom_components.hydro_fleet.sensor import DESCRIPTIONS

from .load import SENSORS, node_id

DOMAIN = "p1_floor"


def floor_topic(index: int) -> str:
    return f"floor/{node_id(index)}/state"


class FloorSensor(SensorEntity):
    """One reading, described as ours describes it."""

    _attr_should_poll = False
    _attr_has_entity_name = True

    def __init__(self, node: str, key: str) -> None:
        self.entity_description = DESCRIPTIONS[next(s.type for s in SENSORS if s.key == key)]
        self._attr_name = key
        self._attr_unique_id = f"floor_{node}_{key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, node)}, name=f"floor {node}")


async def async_setup_floor(hass: HomeAssistant, nodes: int) -> None:
    """Set the floor integration up for ``nodes`` nodes, on ``floor/<node>/state``."""
    sensors = {node_id(i): {s.key: FloorSensor(node_id(i), s.key) for s in SENSORS} for i in range(nodes)}

    @callback
    def on_state(msg: mqtt.ReceiveMessage) -> None:
        readings = json.loads(msg.payload)["readings"]
        for key, entity in sensors[msg.topic.split("/", 2)[1]].items():
            if (value := readings.get(key)) != entity._attr_native_value:
                entity._attr_native_value = value
                entity.async_write_ha_state()

    async def setup_entry(hass: HomeAssistant, entry: ConfigEntry[Any]) -> bool:
        await hass.config_entries.async_forward_entry_setups(entry, ["sensor"])
        entry.async_on_unload(await mqtt.async_subscribe(hass, "floor/+/state", on_state, encoding=None))
        return True

    async def setup_sensors(hass: HomeAssistant, entry: ConfigEntry[Any], add: AddEntitiesCallback) -> None:
        add([entity for per_node in sensors.values() for entity in per_node.values()])

    mock_integration(hass, MockModule(DOMAIN, async_setup_entry=setup_entry))
    mock_platform(hass, f"{DOMAIN}.sensor", MockPlatform(async_setup_entry=setup_sensors))
    mock_platform(hass, f"{DOMAIN}.config_flow")  # a config entry's integration needs one
    entry = MockConfigEntry(domain=DOMAIN)
    entry.add_to_hass(hass)
    with mock_config_flow(DOMAIN, ConfigFlow):
        assert await hass.config_entries.async_setup(entry.entry_id)
