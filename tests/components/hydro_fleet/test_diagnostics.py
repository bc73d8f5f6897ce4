"""Diagnostics of the entry and of one device, with identifying data redacted."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.hydro_fleet.const import DOMAIN

from .conftest import node_config, node_state, publish


async def test_entry_and_device_diagnostics_are_redacted(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, setup_integration: MockConfigEntry
) -> None:
    publish(hass, "pi-1", "config", node_config(machine_id="d3adb33f", configuration_url="http://10.0.0.7:8080"))
    publish(hass, "pi-1", "availability", "online")
    publish(hass, "pi-1", "state", node_state())
    await hass.async_block_till_done()

    entry_diag = await get_diagnostics_for_config_entry(hass, hass_client, setup_integration)
    assert entry_diag["entry"]["data"] == {"prefix": "hydro_fleet"}
    node = entry_diag["nodes"]["pi-1"]
    assert node["online"] is True
    assert node["config"]["machine_id"] == "**REDACTED**"
    assert node["config"]["configuration_url"] == "**REDACTED**"
    assert node["state"]["readings"]["ph"] == 6.1
    assert node["plans"]["plan"]["type"] == "moisture"
    assert "d3adb33f" not in str(entry_diag) and "10.0.0.7" not in str(entry_diag)

    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-1")})
    device_diag = await get_diagnostics_for_device(hass, hass_client, setup_integration, device)
    assert device_diag["node_id"] == "pi-1"
    assert device_diag["node"] == node
