"""Event entities and the bus event behind device triggers (the logbook shows the event entities)."""

from __future__ import annotations

from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.hydro_fleet.const import DOMAIN, EVENT_NODE
from hydro_fleet_protocol import Event as NodeEvent, NodeKind, SensorConfig, SensorType

from .conftest import node_config, online_node, publish

REPORT = {
    "pump": "pump",
    "volume_ml": 250,
    "duration": 25.1,
    "moisture_before": 31.2,
    "moisture_after": 44.0,
    "water_level_before": 80,
    "water_level_after": 78,
    "reason": "moisture",
}


async def test_watering_report_and_safety_stop_fire_event_entities(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)
    bus = async_capture_events(hass, EVENT_NODE)
    assert hass.states.get("event.pi_1_watering").state == STATE_UNKNOWN
    publish(hass, "pi-1", "event", NodeEvent(ts=1_700_000_100, type="watering_report", data=REPORT))
    publish(
        hass,
        "pi-1",
        "event",
        NodeEvent(ts=1_700_000_101, type="safety_stop", data={"pump": "pump", "reason": "water low"}),
    )
    publish(hass, "pi-1", "event", NodeEvent(ts=1_700_000_102, type="something_new", data={}))
    await hass.async_block_till_done()

    watering = hass.states.get("event.pi_1_watering")
    assert watering.attributes["event_type"] == "watering_report"
    assert watering.attributes["event_types"] == ["watering_report"]
    assert watering.attributes["moisture_after"] == 44.0
    safety = hass.states.get("event.pi_1_safety_stop")
    assert safety.attributes["reason"] == "water low"

    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-1")})
    assert [(e.data["type"], e.data["device_id"]) for e in bus] == [
        ("watering_report", device.id),
        ("safety_stop", device.id),
    ]


async def test_station_gets_a_power_bank_event_and_per_slot_sensors(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    station = node_config(
        "station-7",
        kind=NodeKind.STATION,
        model="Charging station",
        pumps=(),
        plans=(),
        sensors=(
            SensorConfig("slot_1_state", SensorType.TEXT, name="Slot 1", options=("empty", "charging", "full")),
            SensorConfig("slot_1_battery", SensorType.BATTERY, name="Slot 1 battery", minimum=0, maximum=100),
            SensorConfig("last_sync", SensorType.TIMESTAMP, name="Last sync"),
        ),
    )
    publish(hass, "station-7", "config", station)
    publish(hass, "station-7", "availability", "online")
    publish(
        hass,
        "station-7",
        "state",
        {
            "v": 1,
            "ts": 1_700_000_000,
            "seq": 1,
            "readings": {"slot_1_state": "charging", "slot_1_battery": 64, "last_sync": 1_700_000_000},
        },
    )
    await hass.async_block_till_done()
    slot = hass.states.get("sensor.station_7_slot_1")
    assert slot.state == "charging"
    assert slot.attributes["options"] == ["empty", "charging", "full"]
    assert hass.states.get("sensor.station_7_slot_1_battery").state == "64"
    assert hass.states.get("sensor.station_7_last_sync").state == "2023-11-14T22:13:20+00:00"
    assert hass.states.get("switch.station_7_pump") is None
    assert hass.states.get("event.station_7_watering") is None

    publish(
        hass,
        "station-7",
        "event",
        NodeEvent(
            ts=1_700_000_100,
            type="power_bank_returned",
            data={"power_bank_serial": "PB-0042", "slot_number": 1, "battery_level": 64},
        ),
    )
    await hass.async_block_till_done()
    returned = hass.states.get("event.station_7_power_bank_returned")
    assert returned.attributes["event_type"] == "power_bank_returned"
    assert returned.attributes["power_bank_serial"] == "PB-0042"
