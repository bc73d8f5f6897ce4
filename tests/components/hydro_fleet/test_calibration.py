"""Calibration buttons and the hydro_fleet.calibrate action: params, results, errors."""

from __future__ import annotations

from collections.abc import Iterator
from unittest.mock import patch

from homeassistant.const import ATTR_ENTITY_ID, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.hydro_fleet.button import CalibrationButton
from custom_components.hydro_fleet.const import DOMAIN
from hydro_fleet_protocol import Ack, CommandAction

from .conftest import FakeNode, online_node


@pytest.fixture
def enable_buttons() -> Iterator[None]:
    """Create the calibration buttons enabled, as a user who enabled them has them."""
    with patch.object(CalibrationButton, "_attr_entity_registry_enabled_default", True):
        yield


BUTTONS = {
    "button.pi_1_calibrate_tds_707_ppm": ("tds", {"standard_ppm": 707.0}),
    "button.pi_1_calibrate_ph_at_buffer_4": ("ph", {"buffer": 4.0}),
    "button.pi_1_calibrate_ph_at_buffer_7": ("ph", {"buffer": 7.0}),
    "button.pi_1_calibrate_ph_at_buffer_10": ("ph", {"buffer": 10.0}),
    "button.pi_1_calibrate_moisture_dry": ("moisture", {"point": "dry"}),
    "button.pi_1_calibrate_moisture_wet": ("moisture", {"point": "wet"}),
    "button.pi_1_calibrate_water_level_empty": ("water_level", {"point": "empty"}),
    "button.pi_1_calibrate_water_level_full": ("water_level", {"point": "full"}),
}


async def test_buttons_start_disabled(hass: HomeAssistant, fake_node: FakeNode) -> None:
    await online_node(hass)
    for entity_id in BUTTONS:
        entry = er.async_get(hass).async_get(entity_id)
        assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert entry.entity_category == "config"


@pytest.mark.usefixtures("enable_buttons")
async def test_each_button_sends_its_calibration_step(hass: HomeAssistant, fake_node: FakeNode) -> None:
    await online_node(hass)
    for entity_id, (probe, params) in BUTTONS.items():
        await hass.services.async_call("button", "press", {ATTR_ENTITY_ID: entity_id}, blocking=True)
        command = fake_node.commands[-1]
        assert command.action is CommandAction.CALIBRATE
        assert command.target == probe
        assert {k: v for k, v in command.params.items() if k != "restart"} == params, entity_id


async def test_calibrate_action_returns_the_nodes_result_and_shows_it_as_an_event(
    hass: HomeAssistant, fake_node: FakeNode
) -> None:
    await online_node(hass)
    assert hass.states.get("event.pi_1_calibration").state == STATE_UNKNOWN
    fake_node.respond = lambda c: Ack(c.id, ok=True, result={"k_value": 1.0412, "temperature": 21.5})
    response = await hass.services.async_call(
        DOMAIN,
        "calibrate",
        {ATTR_ENTITY_ID: "sensor.pi_1_tds", "standard_ppm": 1413},
        blocking=True,
        return_response=True,
    )
    assert response == {
        "sensor.pi_1_tds": {
            "probe": "tds",
            "standard_ppm": 1413.0,
            "k_value": 1.0412,
            "temperature": 21.5,
        }
    }
    assert fake_node.commands[-1].params == {"standard_ppm": 1413.0}
    await hass.async_block_till_done()
    event = hass.states.get("event.pi_1_calibration")
    assert event.attributes["event_type"] == "calibration"
    assert event.attributes["k_value"] == 1.0412


async def test_calibration_needs_the_right_params_for_the_probe(hass: HomeAssistant, fake_node: FakeNode) -> None:
    await online_node(hass)
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN, "calibrate", {ATTR_ENTITY_ID: "sensor.pi_1_ph", "point": "dry"}, blocking=True
        )
    assert info.value.translation_key == "invalid_calibration"
    assert info.value.translation_placeholders == {"probe": "ph", "expected": "buffer: 4, 7 or 10"}

    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(DOMAIN, "calibrate", {ATTR_ENTITY_ID: "sensor.pi_1_ec"}, blocking=True)
    assert info.value.translation_key == "not_calibratable"
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(DOMAIN, "calibrate", {ATTR_ENTITY_ID: "sensor.pi_1_ph_status"}, blocking=True)
    assert info.value.translation_key == "not_calibratable"
    assert fake_node.commands == []


@pytest.mark.usefixtures("enable_buttons")
async def test_a_failed_calibration_is_a_clear_error(hass: HomeAssistant, fake_node: FakeNode) -> None:
    await online_node(hass)
    fake_node.respond = lambda c: Ack(
        c.id, ok=False, code="calibration_failed", message="buffers 4 and 7 read the same voltage; was the probe moved?"
    )
    with pytest.raises(HomeAssistantError, match="buffers 4 and 7 read the same voltage"):
        await hass.services.async_call(
            "button", "press", {ATTR_ENTITY_ID: "button.pi_1_calibrate_ph_at_buffer_7"}, blocking=True
        )
    assert hass.states.get("event.pi_1_calibration").state == STATE_UNKNOWN
