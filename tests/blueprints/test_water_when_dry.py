"""Dry soil -> the pump runs for N seconds, at most every M minutes, never at night."""

from __future__ import annotations

from datetime import datetime
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from tests.components.hydro_fleet.conftest import online_node

from .conftest import Commands, actions, advance, durations, report, use_blueprint

INPUTS = {
    "moisture_sensor": "sensor.pi_1_moisture",
    "pump": "switch.pi_1_pump",
    "threshold": 30,
    "run_seconds": 20,
    "cooldown_minutes": 60,
    "night_start": "21:00:00",
    "night_end": "07:00:00",
}
RUN = ("pi-1", "pump_on", "pump")


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, 1, hour, minute, 2, tzinfo=dt_util.get_default_time_zone())


async def watering(hass: HomeAssistant, freezer: FrozenDateTimeFactory, at: datetime, **node: Any) -> None:
    """At local time ``at``, pi-1 online (with ``node``'s state) and the watering blueprint in use."""
    freezer.move_to(at)
    await online_node(hass, **node)
    await use_blueprint(hass, "water_when_dry.yaml", INPUTS)


@pytest.mark.usefixtures("setup_integration")
async def test_dry_soil_is_watered_then_waits_for_the_cooldown(
    hass: HomeAssistant, node_commands: Commands, freezer: FrozenDateTimeFactory
) -> None:
    await watering(hass, freezer, local(10))

    await report(hass, seq=2, moisture=22.0)
    # One command carrying the duration; the node stops the pump itself after 20 s.
    assert actions(node_commands) == [RUN]
    assert durations(node_commands) == [20]
    await report(hass, seq=3, moisture=22.0, pump_on=True)
    await advance(hass, freezer, seconds=21)
    await report(hass, seq=4, moisture=25.0)

    # Still dry: the five-minute checks do nothing until the cooldown has passed.
    for _ in range(11):
        await advance(hass, freezer, minutes=5)
    assert actions(node_commands) == [RUN]
    await advance(hass, freezer, minutes=5)
    assert actions(node_commands) == [RUN, RUN]


@pytest.mark.usefixtures("setup_integration")
async def test_no_watering_while_the_pump_runs(
    hass: HomeAssistant, node_commands: Commands, freezer: FrozenDateTimeFactory
) -> None:
    await watering(hass, freezer, local(10), pump_on=True)
    await report(hass, seq=2, moisture=10.0, pump_on=True)
    assert node_commands == []
    await report(hass, seq=3, moisture=10.0, pump_on=False)
    await advance(hass, freezer, minutes=5)
    assert actions(node_commands) == [RUN]


@pytest.mark.usefixtures("setup_integration")
async def test_no_watering_at_night_or_when_moist(
    hass: HomeAssistant, node_commands: Commands, freezer: FrozenDateTimeFactory
) -> None:
    await watering(hass, freezer, local(23, 30))

    await report(hass, seq=2, moisture=10.0)
    await advance(hass, freezer, minutes=30)
    assert node_commands == []

    await report(hass, seq=3, moisture=55.0)
    freezer.move_to(local(8))
    await advance(hass, freezer, minutes=10)
    assert node_commands == []

    # Morning and dry: watered at once.
    await report(hass, seq=4, moisture=12.0)
    assert actions(node_commands) == [RUN]


@pytest.mark.usefixtures("setup_integration")
async def test_a_run_longer_than_the_max_runtime_still_waters(
    hass: HomeAssistant, node_commands: Commands, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """120 s asked of a pump with a 30 s max runtime: the node clips it, the automation does not fail."""
    freezer.move_to(local(10))
    await online_node(hass)
    await use_blueprint(hass, "water_when_dry.yaml", INPUTS | {"run_seconds": 120})
    caplog.clear()
    caplog.set_level(logging.INFO)

    await report(hass, seq=2, moisture=22.0)
    assert actions(node_commands) == [RUN]
    assert durations(node_commands) == [120]
    assert "switch.pi_1_pump runs for its max runtime, 30 s, not the 120 s asked for" in caplog.text
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []
    # The run finished: the automation is idle again and waters after the cooldown.
    assert hass.states.get("automation.under_test").attributes["current"] == 0
