"""Reservoir low -> pumps off, watering automations off, a notification; refilled -> back on."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from tests.components.hydro_fleet.conftest import online_node

from .conftest import Commands, Notifications, actions, advance, report, use_blueprint
from .test_water_when_dry import INPUTS as WATERING, local


@pytest.mark.usefixtures("setup_integration")
async def test_low_reservoir_blocks_watering_until_refilled(
    hass: HomeAssistant, node_commands: Commands, notifications: Notifications, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(local(10))
    await online_node(hass)
    await use_blueprint(
        hass,
        "reservoir_low.yaml",
        {
            "level_sensor": "sensor.pi_1_water_level",
            "low": 15,
            "refilled": 25,
            "pumps": ["switch.pi_1_pump"],
            "watering_automations": ["automation.watering"],
        },
        others={"watering": ("water_when_dry.yaml", WATERING)},
    )

    await report(hass, seq=2, water_level=12.0)

    assert hass.states.get("automation.watering").state == "off"
    assert actions(node_commands) == [("pi-1", "pump_off", "pump")]
    assert [c.data for c in notifications] == [
        {"title": "Reservoir low", "message": "pi-1: water level 12.0 %. Watering is blocked until it is refilled."}
    ]

    # Dry soil while blocked: the watering automation is off, so no pump command.
    await report(hass, seq=3, water_level=12.0, moisture=10.0)
    await advance(hass, freezer, minutes=10)
    assert actions(node_commands) == [("pi-1", "pump_off", "pump")]

    # Within the hysteresis band nothing changes; above it watering resumes.
    await report(hass, seq=4, water_level=20.0, moisture=10.0)
    assert hass.states.get("automation.watering").state == "off"
    await report(hass, seq=5, water_level=80.0, moisture=10.0)
    assert hass.states.get("automation.watering").state == "on"
    assert notifications[-1].data["message"] == "pi-1: water level 80.0 %. Watering is allowed again."
    await advance(hass, freezer, minutes=5)
    assert actions(node_commands) == [("pi-1", "pump_off", "pump"), ("pi-1", "pump_on", "pump")]
