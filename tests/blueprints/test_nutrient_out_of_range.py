"""TDS/EC out of range -> notify; below the lower limit, a dose from the dosing pump."""

from __future__ import annotations

import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import UnitOfConductivity
from homeassistant.core import HomeAssistant
import pytest

from .conftest import Commands, Notifications, actions, advance, durations, report, use_blueprint

pytestmark = pytest.mark.usefixtures("pi_1")


async def watch(hass: HomeAssistant, sensor: str, **inputs: Any) -> None:
    """The blueprint in use on ``sensor``, with pi-1's pump as the dosing pump."""
    await use_blueprint(
        hass, "nutrient_out_of_range.yaml", {"sensors": [sensor], "dosing_pump": ["switch.pi_1_pump"], **inputs}
    )


async def test_weak_solution_notifies_and_doses(
    hass: HomeAssistant, node_commands: Commands, notifications: Notifications, freezer: FrozenDateTimeFactory
) -> None:
    await watch(hass, "sensor.pi_1_tds", low=560, high=840, minutes=15, dose_seconds=5)

    await report(hass, seq=2, tds=410.0)
    await advance(hass, freezer, minutes=14)
    assert notifications == []
    await advance(hass, freezer, minutes=2)

    assert [c.data["message"] for c in notifications] == ["pi-1 TDS is 410.0 ppm (range 560–840), dosing."]
    # One command with the dose: the node times it, so no pump_off has to follow.
    assert actions(node_commands) == [("pi-1", "pump_on", "pump")]
    assert durations(node_commands) == [5]
    await advance(hass, freezer, seconds=10)
    assert len(node_commands) == 1


async def test_a_dose_longer_than_the_max_runtime_is_clipped_not_refused(
    hass: HomeAssistant,
    node_commands: Commands,
    notifications: Notifications,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """60 s asked of a pump with a 30 s max runtime: dosed for 30 s, no automation error."""
    await watch(hass, "sensor.pi_1_tds", low=560, high=840, minutes=15, dose_seconds=60)
    caplog.clear()
    caplog.set_level(logging.INFO)
    await report(hass, seq=2, tds=410.0)
    await advance(hass, freezer, minutes=16)
    assert len(notifications) == 1
    assert durations(node_commands) == [60]
    assert "switch.pi_1_pump runs for its max runtime, 30 s, not the 60 s asked for" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_strong_solution_only_notifies(
    hass: HomeAssistant, node_commands: Commands, notifications: Notifications, freezer: FrozenDateTimeFactory
) -> None:
    await watch(hass, "sensor.pi_1_ec", low=1100, high=1700, minutes=5)

    await report(hass, seq=2, ec=2300.0)
    await advance(hass, freezer, minutes=6)

    unit = UnitOfConductivity.MICROSIEMENS_PER_CM
    assert [c.data["message"] for c in notifications] == [f"pi-1 EC is 2300.0 {unit} (range 1100–1700)."]
    assert node_commands == []
