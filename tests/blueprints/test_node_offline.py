"""A node offline for N minutes -> a notification; back online -> another."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from tests.components.hydro_fleet.conftest import publish

from .conftest import Notifications, advance, settle, use_blueprint
from .stations import online_station

pytestmark = pytest.mark.usefixtures("pi_1")


async def test_offline_node_and_station_are_reported(
    hass: HomeAssistant, notifications: Notifications, freezer: FrozenDateTimeFactory
) -> None:
    online_station(hass)
    await settle()
    await use_blueprint(
        hass, "node_offline.yaml", {"entities": ["sensor.pi_1_ph", "sensor.station_ps_001_status"], "minutes": 10}
    )

    # A blip shorter than the limit says nothing, neither going nor coming back.
    publish(hass, "pi-1", "availability", "offline")
    await settle()
    await advance(hass, freezer, minutes=3)
    publish(hass, "pi-1", "availability", "online")
    await settle()
    await advance(hass, freezer, minutes=20)
    assert notifications == []

    publish(hass, "pi-1", "availability", "offline")
    publish(hass, "station-ps-001", "availability", "offline")
    await settle()
    await advance(hass, freezer, minutes=11)
    assert sorted(c.data["message"] for c in notifications) == [
        "Station PS-001 has been offline for 10 minutes.",
        "pi-1 has been offline for 10 minutes.",
    ]
    assert {c.data["title"] for c in notifications} == {"Hydro Fleet device offline"}

    publish(hass, "pi-1", "availability", "online")
    await settle()
    assert notifications[-1].data == {"title": "Hydro Fleet device back online", "message": "pi-1 is back online."}


async def test_back_online_message_can_be_turned_off(
    hass: HomeAssistant, notifications: Notifications, freezer: FrozenDateTimeFactory
) -> None:
    await use_blueprint(
        hass, "node_offline.yaml", {"entities": ["switch.pi_1_pump"], "minutes": 5, "notify_back_online": False}
    )
    publish(hass, "pi-1", "availability", "offline")
    await settle()
    await advance(hass, freezer, minutes=6)
    publish(hass, "pi-1", "availability", "online")
    await settle()
    assert [c.data["message"] for c in notifications] == ["pi-1 has been offline for 5 minutes."]
