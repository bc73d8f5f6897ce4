"""Hydro Fleet: grow/irrigation nodes and charging stations, discovered over MQTT."""

from __future__ import annotations

from homeassistant.components import mqtt
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import CONF_PREFIX, DOMAIN
from .fleet import HydroFleet, HydroFleetConfigEntry
from .protocol import DEFAULT_PREFIX
from .services import async_setup_services
from .statistics import BackfillImporter

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, once, whether or not an entry is loaded."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: HydroFleetConfigEntry) -> bool:
    """Start listening for nodes."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_not_ready")
    fleet = HydroFleet(hass, entry, entry.data.get(CONF_PREFIX, DEFAULT_PREFIX))
    entry.runtime_data = fleet
    # Platforms first, so that every node the subscriptions discover finds them listening.
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await fleet.async_start()
    entry.async_on_unload(fleet.async_stop)
    entry.async_on_unload(fleet.backfill.async_flush)
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    return True


async def _async_options_updated(hass: HomeAssistant, entry: HydroFleetConfigEntry) -> None:
    """New ranges or thresholds apply at once, without reloading (no entity flickers)."""
    entry.runtime_data.async_options_updated()


async def async_unload_entry(hass: HomeAssistant, entry: HydroFleetConfigEntry) -> bool:
    """Stop listening and remove the entities."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: HydroFleetConfigEntry) -> None:
    """Delete what the entry stored of its own (the backfill summaries)."""
    await BackfillImporter(hass, entry.entry_id).async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow deleting a node's device from the UI unless the node is online right now."""
    fleet = entry.runtime_data
    node_id = next((ident for domain, ident in device.identifiers if domain == DOMAIN), None)
    node = fleet.nodes.get(node_id) if node_id else None
    if node is not None and node.online:
        return False
    if node_id:
        fleet.discovery.async_forget(node_id)
    return True
