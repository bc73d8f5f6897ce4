"""What a person sees of stations and the receiver: the logbook, units, translated states, device info.

The station and the receiver are announced with the receiver's own discovery configs
(hydro_fleet_receiver.nodes), as the add-on publishes them.
"""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from typing import Any

from homeassistant.components.recorder import Recorder, get_instance, history
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import async_wait_recording_done
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.hydro_fleet.const import CONF_PREFIX, DOMAIN
from devtools.homeassistant import LOGBOOK_CONFIG
from hydro_fleet_protocol import Event as NodeEvent, State
from hydro_fleet_receiver.nodes import receiver_config, station_config, station_readings

from .conftest import online_node, publish

STATION = "station-ps001"
SLOTS = [
    {"slot_number": 1, "status": "occupied", "power_bank": "PB-1", "battery": 80, "temperature": 26.0},
    {"slot_number": 2, "status": "available"},
]


@pytest.fixture(autouse=True)
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Set the recorder up before hass (HA's harness requires that order)."""


async def _setup_fleet(hass: HomeAssistant, logbook_config: dict[str, Any]) -> MockConfigEntry:
    assert await async_setup_component(hass, "logbook", {"logbook": logbook_config})
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_PREFIX: "hydro_fleet"}, unique_id=DOMAIN)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def fleet(recorder_mock: Recorder, hass: HomeAssistant, mqtt_mock: Any) -> MockConfigEntry:
    return await _setup_fleet(hass, {})


@pytest.fixture
async def demo_fleet(recorder_mock: Recorder, hass: HomeAssistant, mqtt_mock: Any) -> MockConfigEntry:
    """The fleet with the logbook configured as the demo (and docs/integration.md) does."""
    return await _setup_fleet(hass, LOGBOOK_CONFIG)


def _station_state(seq: int, slots: list[dict[str, Any]]) -> State:
    ts = 1_700_000_000.0 + seq * 5
    return State(ts=ts, seq=seq, readings=station_readings("online", ts, 4, slots))


def _receiver_state(seq: int) -> State:
    readings = {"accepted": 100 + seq, "rejected": 1, "success_rate": 99.0, "latency_p50": 1.5}
    return State(ts=1_700_000_000.0 + seq * 5, seq=seq, readings=readings | {"last_sync": 1_700_000_000.0 + seq})


async def _online_station_and_receiver(hass: HomeAssistant) -> None:
    publish(hass, STATION, "config", station_config(STATION, "PS001", 4))
    publish(hass, STATION, "availability", "online")
    publish(hass, "receiver", "config", receiver_config("receiver"))
    publish(hass, "receiver", "availability", "online")
    await hass.async_block_till_done()
    publish(hass, STATION, "state", _station_state(1, SLOTS))
    publish(hass, "receiver", "state", _receiver_state(1))
    await hass.async_block_till_done()


async def _logbook(hass: HomeAssistant, hass_client: ClientSessionGenerator, since: str) -> list[dict[str, Any]]:
    await async_wait_recording_done(hass)
    client = await hass_client()
    response = await client.get(f"/api/logbook/{since}")
    assert response.status == HTTPStatus.OK
    return await response.json()


async def test_one_logbook_line_per_real_event_and_none_for_heartbeats(
    hass: HomeAssistant, fleet: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    since = (dt_util.utcnow() - timedelta(seconds=1)).isoformat()
    await online_node(hass)
    await _online_station_and_receiver(hass)
    # A minute of heartbeats and syncs: every state carries a new heartbeat and sync time.
    for seq in range(2, 14):
        publish(hass, STATION, "state", _station_state(seq, SLOTS))
        publish(hass, "receiver", "state", _receiver_state(seq))
    # A pump run reported by the switch (and the bridge's own pump events), and a watering report.
    await online_node(hass, pump_on=True, seq=20)
    publish(hass, "pi-1", "event", NodeEvent(ts=1_700_000_200, type="pump_started", data={"pump": "pump"}))
    await online_node(hass, pump_on=False, seq=21)
    publish(hass, "pi-1", "event", NodeEvent(ts=1_700_000_230, type="pump_stopped", data={"pump": "pump"}))
    publish(hass, "pi-1", "event", NodeEvent(ts=1_700_000_231, type="watering_report", data={"volume_ml": 250}))
    # A power bank returned.
    returned = {"power_bank_serial": "PB-2", "slot_number": 2, "battery_level": 64}
    publish(hass, STATION, "event", NodeEvent(ts=1_700_000_300, type="power_bank_returned", data=returned))
    await hass.async_block_till_done()

    lines = await _logbook(hass, hass_client, since)
    by_entity: dict[str, list[str]] = {}
    for line in lines:
        by_entity.setdefault(line.get("entity_id") or line.get("domain", "?"), []).append(line.get("state", ""))
    # Timestamps that change with every heartbeat or sync are not logbook material.
    assert not [e for e in by_entity if e.endswith(("_last_heartbeat", "_last_sync"))], by_entity
    # No second line of our own for what an entity already shows.
    assert DOMAIN not in by_entity, by_entity
    assert by_entity["switch.pi_1_pump"][-2:] == [STATE_ON, STATE_OFF]
    assert len(by_entity["event.pi_1_watering"]) == 1
    assert len(by_entity[f"event.{STATION.replace('-', '_')}_power_bank_returned"]) == 1


async def test_a_power_bank_return_is_one_logbook_line_and_keeps_its_history(
    hass: HomeAssistant, demo_fleet: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    await _online_station_and_receiver(hass)
    await async_wait_recording_done(hass)
    start = dt_util.utcnow()
    # The receiver publishes the return and then the station's state: slot 2 now holds PB-2.
    returned = {"power_bank_serial": "PB-2", "slot_number": 2, "battery_level": 64}
    publish(hass, STATION, "event", NodeEvent(ts=1_700_000_300, type="power_bank_returned", data=returned))
    slot_2 = {"slot_number": 2, "status": "occupied", "power_bank": "PB-2", "battery": 64}
    publish(hass, STATION, "state", _station_state(2, [SLOTS[0], slot_2]))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.station_ps001_slot_2_status").state == "occupied"

    lines = await _logbook(hass, hass_client, start.isoformat())
    assert [(line["entity_id"], line.get("context_event_type")) for line in lines] == [
        ("event.station_ps001_power_bank_returned", None)
    ], lines
    # The slot's changes stay in its history (graphs, the history panel): only the logbook leaves them out.
    slot_ids = [f"sensor.station_ps001_slot_2_{key}" for key in ("status", "power_bank", "battery")]
    recorded = await get_instance(hass).async_add_executor_job(
        history.get_significant_states, hass, start, None, slot_ids, None, True, False
    )
    assert {entity_id: [s.state for s in states] for entity_id, states in recorded.items()} == {
        "sensor.station_ps001_slot_2_status": ["available", "occupied"],
        "sensor.station_ps001_slot_2_power_bank": ["unknown", "PB-2"],
        "sensor.station_ps001_slot_2_battery": ["unknown", "64"],
    }


async def test_station_and_receiver_pages(hass: HomeAssistant, fleet: MockConfigEntry) -> None:
    await _online_station_and_receiver(hass)
    ent_reg = er.async_get(hass)
    # Announced units are kept for counts: the success rate in %, latency in ms.
    assert (
        hass.states.get("sensor.hydro_fleet_receiver_sync_success_rate_last_hour").attributes["unit_of_measurement"]
        == "%"
    )
    latency = ent_reg.async_get("sensor.hydro_fleet_receiver_processing_latency_p50")
    assert latency is not None and latency.unit_of_measurement == "ms"
    # Diagnostic values start disabled: the heartbeat's time, per-slot hardware, per-reason counters.
    for entity_id in (
        "sensor.station_ps001_last_heartbeat",
        "sensor.station_ps001_slot_2_temperature",
        "sensor.hydro_fleet_receiver_last_sync",
        "sensor.hydro_fleet_receiver_rejected_replay",
    ):
        entry = ent_reg.async_get(entity_id)
        assert entry is not None and entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION, entity_id
        assert hass.states.get(entity_id) is None
    # Enum states of the known vocabularies are translated, with icons per state.
    slot = ent_reg.async_get("sensor.station_ps001_slot_1_status")
    assert slot is not None and slot.translation_key == "slot_status"
    assert hass.states.get("sensor.station_ps001_slot_1_status").state == "occupied"
    status = ent_reg.async_get("sensor.station_ps001_status")
    assert status is not None and status.translation_key == "station_status"
    # Announced icons for what the type does not say.
    assert hass.states.get("sensor.station_ps001_slot_1_power_bank").attributes["icon"] == (
        "mdi:battery-charging-medium"
    )
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, STATION)})
    assert device is not None
    assert (device.manufacturer, device.model, device.serial_number) == ("ChargeGhar", "Power bank station", "PS001")
    # HA's device page shows a sensor of class battery of the device in its header as the
    # device's battery: a slot's bank charge is not the station's, so none has that class.
    station_entities = er.async_entries_for_device(ent_reg, device.id, include_disabled_entities=True)
    assert len(station_entities) > 20
    assert not [e.entity_id for e in station_entities if e.original_device_class == SensorDeviceClass.BATTERY]
    assert not [
        e.entity_id
        for e in station_entities
        if (state := hass.states.get(e.entity_id)) and state.attributes.get("device_class") == SensorDeviceClass.BATTERY
    ]
    battery = hass.states.get("sensor.station_ps001_slot_1_battery")
    assert (battery.state, battery.attributes["unit_of_measurement"]) == ("80", "%")
    assert battery.attributes["state_class"] == "measurement"  # its history graph and statistics stay
