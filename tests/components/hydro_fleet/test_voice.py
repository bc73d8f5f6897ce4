"""Assist: "turn on/off <pump>" through HA's built-in conversation agent reaches the node."""

from __future__ import annotations

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
import pytest

from hydro_fleet_protocol import CommandAction

from .conftest import FakeNode, online_node


@pytest.fixture
async def assist(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(hass, "intent", {})


@pytest.mark.parametrize(
    ("sentence", "action"),
    [
        ("turn on pi-1 pump", CommandAction.PUMP_ON),
        ("turn off the pi-1 pump", CommandAction.PUMP_OFF),
    ],
)
async def test_assist_switches_the_pump(
    hass: HomeAssistant, assist: None, fake_node: FakeNode, sentence: str, action: CommandAction
) -> None:
    await online_node(hass, pump_on=action is CommandAction.PUMP_OFF)
    result = await conversation.async_converse(hass, sentence, None, Context(), language="en")
    assert result.response.response_type is intent.IntentResponseType.ACTION_DONE, result.response.as_dict()
    assert [(c.action, c.target) for c in fake_node.commands] == [(action, "pump")]
    assert result.response.success_results[0].id == "switch.pi_1_pump"
