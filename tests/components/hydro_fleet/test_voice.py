"""Assist through HA's built-in conversation agent: pumps by name or area, and the readings growers ask about."""

from __future__ import annotations

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity, async_should_expose
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er, intent
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.hydro_fleet.const import DOMAIN
from hydro_fleet_protocol import CommandAction

from .conftest import FakeNode, node_config, node_state, online_node, publish


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


async def _nodes_in_areas(hass: HomeAssistant) -> None:
    """Two Pis, each announcing where it stands (as the demo's do)."""
    for node_id, area in (("pi-1", "Balcony"), ("pi-2", "Greenhouse")):
        publish(hass, node_id, "config", node_config(node_id, area=area))
        publish(hass, node_id, "availability", "online")
        publish(hass, node_id, "state", node_state(ph=5.9 if node_id == "pi-2" else 6.4, moisture=38.5))
    await hass.async_block_till_done()


async def _ask(hass: HomeAssistant, sentence: str) -> intent.IntentResponse:
    result = await conversation.async_converse(hass, sentence, None, Context(), language="en")
    return result.response


@pytest.mark.parametrize(
    ("sentence", "action"),
    [
        ("turn on the pump in the greenhouse", CommandAction.PUMP_ON),
        ("turn off the greenhouse pump", CommandAction.PUMP_OFF),
        ("turn on pi-2 pump", CommandAction.PUMP_ON),
        ("turn on pi 2 pump", CommandAction.PUMP_ON),
        ("turn off the pi 2 pump", CommandAction.PUMP_OFF),
    ],
)
async def test_a_pump_answers_to_pump_in_its_area(
    hass: HomeAssistant, assist: None, fake_node: FakeNode, sentence: str, action: CommandAction
) -> None:
    await _nodes_in_areas(hass)
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-2")})
    assert device is not None and device.area_id == "greenhouse"
    response = await _ask(hass, sentence)
    assert response.response_type is intent.IntentResponseType.ACTION_DONE, response.as_dict()
    assert "switch.pi_2_pump" in [r.id for r in response.success_results]
    assert [c.action for c in fake_node.commands] == [action]


@pytest.mark.parametrize(
    ("sentence", "answer"),
    [
        ("what is the pH in the greenhouse", "5.9"),
        ("what is the pi-2 pH", "5.9"),
        ("what is the pi 2 pH", "5.9"),
        ("what is the pi 1 moisture", "38.5"),
        ("what is the moisture in the greenhouse", "38.5"),
        ("what's the TDS in the greenhouse", "700"),
        ("what is the water level in the balcony", "80"),
        ("what is the pi-1 EC", "1400"),
    ],
)
async def test_a_grower_can_ask_for_the_main_readings(
    hass: HomeAssistant, assist: None, fake_node: FakeNode, sentence: str, answer: str
) -> None:
    await _nodes_in_areas(hass)
    response = await _ask(hass, sentence)
    assert response.response_type is intent.IntentResponseType.QUERY_ANSWER, response.as_dict()
    assert answer in response.speech["plain"]["speech"]


async def test_the_users_own_assist_choices_stay(
    hass: HomeAssistant, assist: None, fake_node: FakeNode, setup_integration: MockConfigEntry
) -> None:
    await _nodes_in_areas(hass)
    ent_reg = er.async_get(hass)
    assert ent_reg.async_get("switch.pi_2_pump").aliases == {"Pump", "pi 2 Pump"}
    assert async_should_expose(hass, conversation.DOMAIN, "sensor.pi_2_ph")
    # Diagnostics stay unexposed, as HA does by default.
    assert not async_should_expose(hass, conversation.DOMAIN, "sensor.pi_2_ph_status")
    # The user drops the alias and hides the pH from Assist; a reload brings neither back.
    ent_reg.async_update_entity("switch.pi_2_pump", aliases=set())
    async_expose_entity(hass, conversation.DOMAIN, "sensor.pi_2_ph", False)
    assert await hass.config_entries.async_reload(setup_integration.entry_id)
    await _nodes_in_areas(hass)
    assert ent_reg.async_get("switch.pi_2_pump").aliases == set()
    assert not async_should_expose(hass, conversation.DOMAIN, "sensor.pi_2_ph")
    response = await _ask(hass, "what is the pH in the greenhouse")
    assert "5.9" not in response.speech["plain"]["speech"]
    assert not response.success_results


async def test_nodes_without_an_area_answer_to_their_spoken_name(
    hass: HomeAssistant, assist: None, fake_node: FakeNode
) -> None:
    await online_node(hass)
    # No own-name alias without an area: "Pump" alone would not say which one.
    assert er.async_get(hass).async_get("switch.pi_1_pump").aliases == {"pi 1 Pump"}
    assert async_should_expose(hass, conversation.DOMAIN, "sensor.pi_1_moisture")
    response = await _ask(hass, "turn on pi 1 pump")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE, response.as_dict()
    assert [r.id for r in response.success_results] == ["switch.pi_1_pump"]
    assert [c.action for c in fake_node.commands] == [CommandAction.PUMP_ON]


async def test_a_node_name_without_hyphens_gets_no_spoken_alias(
    hass: HomeAssistant, assist: None, fake_node: FakeNode
) -> None:
    publish(hass, "greenhouse", "config", node_config("greenhouse"))
    publish(hass, "greenhouse", "availability", "online")
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get("switch.greenhouse_pump").aliases == set()
