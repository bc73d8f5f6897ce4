"""A slot going from available to occupied -> a notification and a logbook entry."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, ServiceCall
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from tests.components.hydro_fleet.conftest import publish

from .conftest import settle, use_blueprint
from .stations import station_config, station_state

SLOTS = ["sensor.station_ps_001_slot_1_status", "sensor.station_ps_001_slot_2_status"]


async def _station(hass: HomeAssistant) -> None:
    publish(hass, "station-ps-001", "config", station_config())
    publish(hass, "station-ps-001", "availability", "online")
    publish(hass, "station-ps-001", "state", station_state(
        1, slot_1=("available", None, None), slot_2=("occupied", "PB-2", 40)))
    await settle()


async def test_returned_power_bank_is_notified_and_logged(
    hass: HomeAssistant, setup_integration: MockConfigEntry, notifications: list[ServiceCall],
) -> None:
    logbook = async_mock_service(hass, "logbook", "log")
    await _station(hass)
    await use_blueprint(hass, "power_bank_returned.yaml", {"slot_sensors": SLOTS})

    # A power bank taken out (occupied -> available) is not a return.
    publish(hass, "station-ps-001", "state", station_state(
        2, slot_1=("available", None, None), slot_2=("available", None, None)))
    await settle()
    assert notifications == [] and logbook == []

    publish(hass, "station-ps-001", "state", station_state(
        3, slot_1=("occupied", "PB-7", 83), slot_2=("available", None, None)))
    await settle()

    message = "Power bank PB-7 returned to Station PS-001 slot 1, battery 83 %."
    assert [c.data for c in notifications] == [{"title": "Power bank returned", "message": message}]
    assert [c.data for c in logbook] == [{"name": "Station PS-001", "message": message, "entity_id": SLOTS[0]}]


async def test_log_only(
    hass: HomeAssistant, setup_integration: MockConfigEntry, notifications: list[ServiceCall],
) -> None:
    logbook = async_mock_service(hass, "logbook", "log")
    await _station(hass)
    await use_blueprint(hass, "power_bank_returned.yaml", {"slot_sensors": SLOTS, "notify": False})
    publish(hass, "station-ps-001", "state", station_state(
        2, slot_1=("occupied", "PB-9", None), slot_2=("occupied", "PB-2", 40)))
    await settle()
    assert notifications == []
    assert [c.data["message"] for c in logbook] == ["Power bank PB-9 returned to Station PS-001 slot 1."]
