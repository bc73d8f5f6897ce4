"""A node's availability in the log: quality scale rule log-when-unavailable."""

from __future__ import annotations

import logging

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import online_node, publish


async def test_going_offline_and_back_is_logged_once_each(
    hass: HomeAssistant, setup_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Quality scale log-when-unavailable: one info line when a node goes, one when it returns."""
    await online_node(hass)
    caplog.clear()
    caplog.set_level(logging.INFO, logger="custom_components.hydro_fleet")
    for _ in range(3):  # a last will repeated (retained, re-sent on reconnects) is not news
        publish(hass, "pi-1", "availability", "offline")
        await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_ph").state == STATE_UNAVAILABLE
    for _ in range(2):
        publish(hass, "pi-1", "availability", "online")
        await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_ph").state != STATE_UNAVAILABLE
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("custom_components.hydro_fleet")]
    assert lines == [
        (logging.INFO, "Node pi-1 is offline; its entities are unavailable until it is back"),
        (logging.INFO, "Node pi-1 is back online"),
    ]
