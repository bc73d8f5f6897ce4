"""A station's power bank returned event -> a notification and a logbook entry."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, ServiceCall
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from hydro_fleet_protocol import Event
from tests.components.hydro_fleet.conftest import publish

from .conftest import Notifications, settle, use_blueprint
from .stations import online_station

EVENT = "event.station_ps_001_power_bank_returned"


@pytest.fixture
async def station(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    """Station PS-001 online, with its power bank returned event entity."""
    online_station(hass)
    await settle()
    assert hass.states.get(EVENT) is not None


def returned(seq: int, bank: str, slot: int, battery: float | None) -> Event:
    data = {"station_serial": "PS-001", "power_bank_serial": bank, "slot_number": slot}
    if battery is not None:
        data["battery_level"] = battery
    return Event(ts=1_700_000_000.0 + seq, type="power_bank_returned", data=data)


@pytest.mark.usefixtures("station")
async def test_returned_power_bank_is_notified_and_logged(
    hass: HomeAssistant, notifications: Notifications, logbook: list[ServiceCall]
) -> None:
    await use_blueprint(hass, "power_bank_returned.yaml", {"events": [EVENT]})

    publish(hass, "station-ps-001", "event", returned(2, "PB-7", 1, 83))
    await settle()

    message = "Power bank PB-7 returned to Station PS-001 slot 1, battery 83 %."
    assert [c.data for c in notifications] == [{"title": "Power bank returned", "message": message}]
    assert [c.data for c in logbook] == [{"name": "Station PS-001", "message": message, "entity_id": EVENT}]

    # The station going offline and back restores the last event: no second notification.
    publish(hass, "station-ps-001", "availability", "offline")
    await settle()
    publish(hass, "station-ps-001", "availability", "online")
    await settle()
    assert len(notifications) == 1


@pytest.mark.usefixtures("station")
async def test_log_only(hass: HomeAssistant, notifications: Notifications, logbook: list[ServiceCall]) -> None:
    await use_blueprint(hass, "power_bank_returned.yaml", {"events": [EVENT], "notify": False})
    publish(hass, "station-ps-001", "event", returned(2, "PB-9", 2, None))
    await settle()
    assert notifications == []
    assert [c.data["message"] for c in logbook] == ["Power bank PB-9 returned to Station PS-001 slot 2."]
