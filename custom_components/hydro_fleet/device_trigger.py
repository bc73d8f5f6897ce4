"""Device triggers: "<node> sent a watering report / stopped a pump for safety / ...".

They listen to the same bus event as the logbook (``hydro_fleet_event``), filtered by
device and event type, so an automation can be built from the device page.
"""

from __future__ import annotations

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.const import (
    ATTR_DEVICE_ID,
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_EVENT_DATA,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

from .const import ATTR_EVENT_TYPE, DOMAIN, EVENT_NODE
from .event import DESCRIPTIONS
from .fleet import HydroFleet

TRIGGER_TYPES = frozenset(str(t) for d in DESCRIPTIONS for t in d.event_types or ())
TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend({vol.Required(CONF_TYPE): vol.In(TRIGGER_TYPES)})


def _fleet_node_types(hass: HomeAssistant, device_id: str) -> list[str]:
    """The event types the device's node can send, from its discovery config."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return []
    node_id = next((ident for domain, ident in device.identifiers if domain == DOMAIN), None)
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        fleet: HydroFleet = entry.runtime_data
        if node_id is not None and (node := fleet.nodes.get(node_id)) is not None:
            return sorted(str(t) for d in DESCRIPTIONS if d.applies_to(node.config) for t in d.event_types or ())
    return []


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, str]]:
    """One trigger per kind of event the node sends."""
    return [
        {CONF_PLATFORM: "device", CONF_DOMAIN: DOMAIN, CONF_DEVICE_ID: device_id, CONF_TYPE: event_type}
        for event_type in _fleet_node_types(hass, device_id)
    ]


async def async_attach_trigger(
    hass: HomeAssistant, config: ConfigType, action: TriggerActionType, trigger_info: TriggerInfo
) -> CALLBACK_TYPE:
    """Listen for the node's events of the chosen type."""
    event_config = event_trigger.TRIGGER_SCHEMA(
        {
            CONF_PLATFORM: "event",
            event_trigger.CONF_EVENT_TYPE: EVENT_NODE,
            CONF_EVENT_DATA: {ATTR_DEVICE_ID: config[CONF_DEVICE_ID], ATTR_EVENT_TYPE: config[CONF_TYPE]},
        }
    )
    return await event_trigger.async_attach_trigger(hass, event_config, action, trigger_info, platform_type="device")
