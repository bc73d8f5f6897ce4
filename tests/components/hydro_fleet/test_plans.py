"""Watering plan entities: shown as the node confirms them, changed through set_plan."""

from __future__ import annotations

import logging

from homeassistant.const import ATTR_ENTITY_ID, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.hydro_fleet.const import DOMAIN
from hydro_fleet_protocol import Ack, CommandAction, Plan, PlanType

from .conftest import PLAN, FakeNode, node_state, online_node, publish


async def test_plan_entities_show_the_reported_plan(hass: HomeAssistant, fake_node: FakeNode) -> None:
    await online_node(hass)
    select = hass.states.get("select.pi_1_watering_plan")
    assert select.state == "moisture"
    assert select.attributes["options"] == ["off", "basic", "moisture", "time_based"]
    assert hass.states.get("number.pi_1_volume").state == "250.0"
    assert hass.states.get("number.pi_1_volume").attributes["max"] == 2000
    assert hass.states.get("number.pi_1_dry_below").state == "35.0"
    assert hass.states.get("number.pi_1_check_every").state == "10.0"  # minutes
    assert hass.states.get("number.pi_1_check_every").attributes["unit_of_measurement"] == "min"
    assert hass.states.get("number.pi_1_min_pause").state == "60.0"


async def test_a_node_without_plan_reports_shows_unknown(hass: HomeAssistant, fake_node: FakeNode) -> None:
    await online_node(hass, plans={})
    assert hass.states.get("select.pi_1_watering_plan").state == STATE_UNKNOWN
    assert hass.states.get("number.pi_1_volume").state == STATE_UNKNOWN


async def test_changing_a_number_sends_the_whole_plan_and_shows_the_confirmed_one(
    hass: HomeAssistant, fake_node: FakeNode
) -> None:
    await online_node(hass)
    # The node rounds the volume to what its pump can dose, and says so in the ack.
    fake_node.respond = lambda c: Ack(c.id, ok=True, result={"plan": {**c.params, "volume_ml": 300}})
    await hass.services.async_call(
        "number", "set_value", {ATTR_ENTITY_ID: "number.pi_1_volume", "value": 310}, blocking=True
    )
    command = fake_node.commands[-1]
    assert command.action is CommandAction.SET_PLAN
    assert command.target == "plan"
    assert Plan.from_dict(command.params) == Plan(
        type=PlanType.MOISTURE, volume_ml=310, threshold=35, check_interval=600, min_pause=3600
    )
    await hass.async_block_till_done()
    assert hass.states.get("number.pi_1_volume").state == "300.0"

    # Minutes in HA, seconds on the wire.
    await hass.services.async_call(
        "number", "set_value", {ATTR_ENTITY_ID: "number.pi_1_check_every", "value": 15}, blocking=True
    )
    assert fake_node.commands[-1].params["check_interval"] == 900


async def test_a_rejected_plan_change_raises_and_changes_nothing(hass: HomeAssistant, fake_node: FakeNode) -> None:
    await online_node(hass)
    fake_node.respond = lambda c: Ack(c.id, ok=False, code="volume_too_large", message="volume_ml 250 is above 200")
    # The node refused what the user asked for: a validation error (HTTP 400 over REST), not a failure.
    with pytest.raises(ServiceValidationError, match="volume_ml 250 is above 200") as info:
        await hass.services.async_call(
            "select",
            "select_option",
            {ATTR_ENTITY_ID: "select.pi_1_watering_plan", "option": "basic"},
            blocking=True,
        )
    # Each AckCode has its own translation (issue 15 item 3); was the generic "command_rejected".
    assert info.value.translation_key == "command_rejected_volume_too_large"
    assert hass.states.get("select.pi_1_watering_plan").state == "moisture"


async def test_choosing_a_plan_before_its_numbers_runs_it_on_the_defaults(
    hass: HomeAssistant, fake_node: FakeNode
) -> None:
    # A node that reports its slot off and without numbers (an older bridge).
    await online_node(hass, plans={"plan": Plan(type=PlanType.OFF)})
    await hass.services.async_call(
        "select", "select_option", {ATTR_ENTITY_ID: "select.pi_1_watering_plan", "option": "moisture"}, blocking=True
    )
    assert Plan.from_dict(fake_node.commands[-1].params) == Plan(
        type=PlanType.MOISTURE, volume_ml=250, threshold=30, check_interval=3600, min_pause=14400
    )
    await hass.async_block_till_done()
    assert hass.states.get("select.pi_1_watering_plan").state == "moisture"
    assert hass.states.get("number.pi_1_dry_below").state == "30.0"


async def test_what_a_plan_still_lacks_is_told_in_has_words_all_at_once(
    hass: HomeAssistant, fake_node: FakeNode, hass_ws_client: WebSocketGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    assert await async_setup_component(hass, "websocket_api", {})
    # The numbers take their defaults (a volume of 0 is no volume); the times have none.
    await online_node(hass, plans={"plan": Plan(type=PlanType.OFF, volume_ml=0)})
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            "select",
            "select_option",
            {ATTR_ENTITY_ID: "select.pi_1_watering_plan", "option": "time_based"},
            blocking=True,
        )
    assert info.value.translation_key == "plan_incomplete"
    assert info.value.translation_placeholders == {
        "node": "pi-1",
        "missing": "the watering times (the Set watering times action)",
    }
    assert "'times'" not in str(info.value)
    # The UI's websocket call gets HA's validation error with the sentence (no traceback logged).
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "call_service",
            "domain": "select",
            "service": "select_option",
            "service_data": {ATTR_ENTITY_ID: "select.pi_1_watering_plan", "option": "time_based"},
        }
    )
    reply = await client.receive_json()
    assert not reply["success"]
    assert reply["error"]["code"] == "service_validation_error"
    assert (
        "To run this watering plan, pi-1 needs the watering times (the Set watering times action)"
        in (reply["error"]["message"])
    )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]
    # Nothing reached the node.
    assert fake_node.commands == []


async def test_without_an_ack_result_the_plan_sent_is_what_the_node_accepted(
    hass: HomeAssistant, fake_node: FakeNode
) -> None:
    await online_node(hass)
    await hass.services.async_call(
        DOMAIN,
        "set_watering_times",
        {ATTR_ENTITY_ID: "select.pi_1_watering_plan", "times": ["19:30", "07:00"]},
        blocking=True,
    )
    assert fake_node.commands[-1].params["times"] == ["07:00", "19:30"]
    await hass.services.async_call(
        "select",
        "select_option",
        {ATTR_ENTITY_ID: "select.pi_1_watering_plan", "option": "time_based"},
        blocking=True,
    )
    await hass.async_block_till_done()
    select = hass.states.get("select.pi_1_watering_plan")
    assert select.state == "time_based"
    assert select.attributes["times"] == ["07:00", "19:30"]

    # The node's next report is the truth, whatever was sent before.
    publish(hass, "pi-1", "state", node_state(seq=2, plans={"plan": PLAN}))
    await hass.async_block_till_done()
    assert hass.states.get("select.pi_1_watering_plan").state == "moisture"
