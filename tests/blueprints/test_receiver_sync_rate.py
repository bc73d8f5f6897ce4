"""The receiver's sync success rate below a threshold for N minutes -> a notification."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from tests.components.hydro_fleet.conftest import publish

from .conftest import Notifications, advance, settle, use_blueprint
from .stations import online_receiver, receiver_state

RATE = "sensor.hydro_fleet_receiver_sync_success_rate_last_hour"


async def rates(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seq: int, *steps: tuple[float, float]) -> None:
    """Report each (rate, minutes) in turn, holding it that many minutes; ``seq`` is the first state's."""
    for n, (rate, minutes) in enumerate(steps, start=seq):
        publish(hass, "receiver", "state", receiver_state(n, rate))
        await advance(hass, freezer, minutes=minutes)


@pytest.mark.usefixtures("setup_integration")
async def test_low_success_rate_is_reported(
    hass: HomeAssistant, notifications: Notifications, freezer: FrozenDateTimeFactory
) -> None:
    online_receiver(hass, 99.5)
    await settle()
    assert hass.states.get(RATE).state == "99.5"
    await use_blueprint(hass, "receiver_sync_rate.yaml", {"rate_sensor": RATE, "threshold": 95, "minutes": 15})

    # A dip that recovers within the window is not reported.
    await rates(hass, freezer, 2, (91.0, 10), (96.0, 30))
    assert notifications == []

    await rates(hass, freezer, 4, (88.2, 10), (87.0, 6))
    assert [c.data for c in notifications] == [
        {
            "title": "Station sync degraded",
            "message": "Hydro Fleet receiver: sync success rate 88.2 % for 15 minutes (target 95 % or more).",
        }
    ]
