"""The receiver's sync success rate below a threshold for N minutes -> a notification."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, ServiceCall
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.components.hydro_fleet.conftest import publish

from .conftest import advance, settle, use_blueprint
from .stations import receiver_config, receiver_state

RATE = "sensor.hydro_fleet_receiver_sync_success_rate_last_hour"


async def test_low_success_rate_is_reported(
    hass: HomeAssistant,
    setup_integration: MockConfigEntry,
    notifications: list[ServiceCall],
    freezer: FrozenDateTimeFactory,
) -> None:
    publish(hass, "receiver", "config", receiver_config())
    publish(hass, "receiver", "availability", "online")
    publish(hass, "receiver", "state", receiver_state(1, 99.5))
    await settle()
    assert hass.states.get(RATE).state == "99.5"
    await use_blueprint(hass, "receiver_sync_rate.yaml", {"rate_sensor": RATE, "threshold": 95, "minutes": 15})

    publish(hass, "receiver", "state", receiver_state(2, 91.0))

    await settle()
    await advance(hass, freezer, minutes=10)
    publish(hass, "receiver", "state", receiver_state(3, 96.0))
    await settle()
    await advance(hass, freezer, minutes=30)
    assert notifications == []

    publish(hass, "receiver", "state", receiver_state(4, 88.2))

    await settle()
    await advance(hass, freezer, minutes=10)
    publish(hass, "receiver", "state", receiver_state(5, 87.0))
    await settle()
    await advance(hass, freezer, minutes=6)
    assert [c.data for c in notifications] == [
        {
            "title": "Station sync degraded",
            "message": "Hydro Fleet receiver: sync success rate 88.2 % for 15 minutes (target 95 % or more).",
        }
    ]
