"""pH out of range for N minutes -> a notification naming the node and the value."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from tests.components.hydro_fleet.conftest import online_node

from .conftest import Notifications, advance, report, use_blueprint

pytestmark = pytest.mark.usefixtures("pi_1")


async def test_notifies_after_the_ph_stays_out_of_range(
    hass: HomeAssistant, notifications: Notifications, freezer: FrozenDateTimeFactory
) -> None:
    await online_node(hass, "pi-2")
    await use_blueprint(
        hass,
        "ph_out_of_range.yaml",
        {"ph_sensors": ["sensor.pi_1_ph", "sensor.pi_2_ph"], "ph_min": 5.5, "ph_max": 6.5, "minutes": 10},
    )

    # A short excursion that recovers within the window is not reported.
    await report(hass, "pi-2", seq=2, ph=7.4)
    await advance(hass, freezer, minutes=5)
    await report(hass, "pi-2", seq=3, ph=6.0)
    await advance(hass, freezer, minutes=10)
    assert notifications == []

    await report(hass, "pi-1", seq=2, ph=4.9)
    await advance(hass, freezer, minutes=9)
    assert notifications == []
    await advance(hass, freezer, minutes=2)

    assert len(notifications) == 1
    data = notifications[0].data
    assert data["title"] == "pH out of range"
    assert data["message"] == "pi-1: pH 4.9 for 10 minutes (range 5.5–6.5)."


async def test_too_high_is_reported_too(
    hass: HomeAssistant, notifications: Notifications, freezer: FrozenDateTimeFactory
) -> None:
    await use_blueprint(hass, "ph_out_of_range.yaml", {"ph_sensors": ["sensor.pi_1_ph"], "minutes": 1})
    await report(hass, seq=2, ph=7.2)
    await advance(hass, freezer, minutes=2)
    assert [c.data["message"] for c in notifications] == ["pi-1: pH 7.2 for 1 minutes (range 5.5–6.5)."]
