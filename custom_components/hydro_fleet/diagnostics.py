"""Diagnostics for the entry and for one node's device, with identifying data redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN
from .fleet import HydroFleetConfigEntry
from .node import Node

# The entry holds no credentials (MQTT's entry does); what identifies a site or a
# machine is redacted all the same.
TO_REDACT = {"machine_id", "configuration_url", "serial_number", "password", "username", "token", "key_value"}


def _node(node: Node) -> dict[str, Any]:
    state = node.state
    return async_redact_data(
        {
            "config": node.config.to_dict(),
            "online": node.online,
            "state": state.to_dict() if state else None,
            "plans": {key: plan.to_dict() for key, plan in node.plans.items()},
            "health_keys": sorted(node.health_keys),
        },
        TO_REDACT,
    )


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: HydroFleetConfigEntry) -> dict[str, Any]:
    """The entry's settings and every node it knows."""
    fleet = entry.runtime_data
    return {
        "entry": {"data": async_redact_data(dict(entry.data), TO_REDACT), "options": dict(entry.options)},
        "nodes": {node_id: _node(node) for node_id, node in sorted(fleet.nodes.items())},
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """One node's config, latest state and plans."""
    node_id = next((ident for domain, ident in device.identifiers if domain == DOMAIN), None)
    node = entry.runtime_data.nodes.get(node_id) if node_id else None
    return {"node_id": node_id, "node": _node(node) if node else None}
