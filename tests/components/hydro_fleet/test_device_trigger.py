"""Device triggers fire an automation on the node's events."""

from __future__ import annotations

from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_get_device_automations

from custom_components.hydro_fleet.const import DOMAIN
from hydro_fleet_protocol import Event

from .conftest import online_node, publish


async def test_triggers_of_a_pi_and_an_automation_that_uses_one(
    hass: HomeAssistant, setup_integration: MockConfigEntry, service_calls: list[ServiceCall]
) -> None:
    await online_node(hass)
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-1")})
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device.id)
    ours = sorted(t["type"] for t in triggers if t["domain"] == DOMAIN)  # entity triggers come too
    assert ours == ["calibration", "safety_stop", "watering_report"]

    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: [
                {
                    "triggers": [
                        {"trigger": "device", "domain": DOMAIN, "device_id": device.id, "type": "safety_stop"}
                    ],
                    "actions": [
                        {"action": "test.automation", "data": {"reason": "{{ trigger.event.data.data.reason }}"}}
                    ],
                }
            ]
        },
    )
    publish(hass, "pi-1", "event", Event(ts=1_700_000_000, type="watering_report", data={"volume_ml": 100}))
    publish(hass, "pi-1", "event", Event(ts=1_700_000_001, type="safety_stop", data={"reason": "water low"}))
    await hass.async_block_till_done()
    assert [call.data["reason"] for call in service_calls] == ["water low"]
