"""The hydro_fleet.run_pump action and pump command errors."""

from __future__ import annotations

import logging
from unittest.mock import patch

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest

from custom_components.hydro_fleet.const import DOMAIN
from hydro_fleet_protocol import Ack, AckCode, CommandAction

from .conftest import FakeNode, node_ack, node_config, online_node


async def test_run_pump_sends_the_duration(hass: HomeAssistant, fake_node: FakeNode) -> None:
    await online_node(hass)
    await hass.services.async_call(
        DOMAIN, "run_pump", {ATTR_ENTITY_ID: "switch.pi_1_pump", "duration": 20}, blocking=True
    )
    command = fake_node.commands[-1]
    assert (command.action, command.target, command.params) == (CommandAction.PUMP_ON, "pump", {"duration": 20.0})


async def test_run_pump_beyond_the_max_runtime_runs_for_the_max_runtime(
    hass: HomeAssistant, fake_node: FakeNode, caplog: pytest.LogCaptureFixture
) -> None:
    """One behaviour: the node clips a run to the pump's max runtime (30 s here) and acks it."""
    await online_node(hass)
    fake_node.respond = lambda command: node_ack(command, node_config())
    caplog.set_level(logging.INFO, logger="custom_components.hydro_fleet")
    response = await hass.services.async_call(
        DOMAIN, "run_pump", {ATTR_ENTITY_ID: "switch.pi_1_pump", "duration": 45}, blocking=True, return_response=True
    )
    assert fake_node.commands[-1].params == {"duration": 45.0}
    assert response == {"switch.pi_1_pump": {"duration": 30, "clipped": True}}
    assert "switch.pi_1_pump runs for its max runtime, 30 s, not the 45 s asked for" in caplog.text
    response = await hass.services.async_call(
        DOMAIN, "run_pump", {ATTR_ENTITY_ID: "switch.pi_1_pump", "duration": 20}, blocking=True, return_response=True
    )
    assert response == {"switch.pi_1_pump": {"duration": 20.0, "clipped": False}}


async def test_a_command_without_ack_times_out_with_a_clear_error(hass: HomeAssistant, fake_node: FakeNode) -> None:
    await online_node(hass)
    fake_node.respond = lambda command: None
    with (
        patch("custom_components.hydro_fleet.commands.COMMAND_TIMEOUT", 0.01),
        pytest.raises(HomeAssistantError) as info,
    ):
        await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: "switch.pi_1_pump"}, blocking=True)
    assert info.value.translation_key == "command_timeout"
    assert str(info.value) == "Node pi-1 did not answer the pump_on command in time. Is it online?"


@pytest.mark.parametrize("code", list(AckCode))
async def test_each_refusal_code_has_its_own_message(hass: HomeAssistant, fake_node: FakeNode, code: AckCode) -> None:
    await online_node(hass)
    fake_node.respond = lambda command: Ack(command.id, ok=False, code=code, message="the node's words")
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: "switch.pi_1_pump"}, blocking=True)
    assert info.value.translation_key == f"command_rejected_{code}"
    message = str(info.value)
    assert "pi-1" in message
    assert "the node's words" in message
    assert "{" not in message, message  # every placeholder of the translation is filled


async def test_a_refusal_code_of_a_newer_node_shows_the_nodes_message(hass: HomeAssistant, fake_node: FakeNode) -> None:
    await online_node(hass)
    fake_node.respond = lambda command: Ack(command.id, ok=False, code="relay_stuck", message="relay 2 is stuck")
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: "switch.pi_1_pump"}, blocking=True)
    assert info.value.translation_key == "command_rejected"
    assert str(info.value) == "Node pi-1 refused the pump_on command: relay 2 is stuck"
