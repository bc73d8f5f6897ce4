"""Discovery: nodes' configs, availability and removal, and their devices.

A retained ``<node>/config`` makes (or updates) a node and its device; an empty one
removes both. Availability may arrive before the config (retained messages race), so it
is kept per node id until the node is known.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from homeassistant.components import mqtt
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .const import DOMAIN, is_unique_id_of, signal_node_discovered
from .node import Node
from .protocol import HealthKey, NodeConfig, Topic

if TYPE_CHECKING:
    from .fleet import HydroFleet

_LOGGER = logging.getLogger(__name__)


class Discovery:
    """Turns config and availability messages into nodes and devices."""

    def __init__(self, fleet: HydroFleet) -> None:
        self.fleet = fleet
        self.hass = fleet.hass
        # Availability can arrive before a node's config (retained messages race).
        self._online: dict[str, bool] = {}
        # Each node's device, registered once per discovery; entities link to it directly.
        self.devices: dict[str, dr.DeviceEntry] = {}

    @callback
    def async_config_received(self, config: NodeConfig) -> None:
        """A node's valid retained config: discover or update the node and its device."""
        fleet = self.fleet
        node_id = config.node_id
        fleet.issues.supported_version(node_id)
        fleet.issues.config_seen(node_id, config.name, config.machine_id)
        node = fleet.nodes.get(node_id)
        if node is None:
            node = Node(
                config=config,
                topics=Topic(fleet.prefix, node_id),
                online=self._online.get(node_id, False),
                broker_connected=fleet.broker_connected,
            )
            fleet.nodes[node_id] = node
            _LOGGER.debug("Discovered node %s (%s)", node_id, config.kind)
            if not node.online:
                fleet.issues.node_offline(node_id, config.name)
        else:
            if node.config == config:
                return
            self._remove_dropped_entities(node.config, config)
            node.config = config
            fleet.update_shown(node)
        self._register_device(config)
        async_dispatcher_send(self.hass, signal_node_discovered(fleet.entry.entry_id), node)
        node.async_notify()
        fleet.settings.async_apply(node)

    def _register_device(self, config: NodeConfig) -> None:
        self.devices[config.node_id] = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.fleet.entry.entry_id,
            identifiers={(DOMAIN, config.node_id)},
            name=config.name,
            manufacturer=config.manufacturer,
            model=config.model,
            sw_version=config.sw_version,
            hw_version=config.hw_version,
            serial_number=config.machine_id,
            configuration_url=config.configuration_url,
            # HA puts a new device in this area (creating it if needed); a user's choice is never overridden.
            suggested_area=config.area,
        )

    def _remove_dropped_entities(self, old: NodeConfig, new: NodeConfig) -> None:
        """A discovery update that drops a sensor, pump or plan removes its entities."""
        ent_reg = er.async_get(self.hass)
        old_keys = {s.key for s in old.sensors} | {p.key for p in old.pumps} | {p.key for p in old.plans}
        kept = {s.key for s in new.sensors} | {p.key for p in new.pumps} | {p.key for p in new.plans}
        old_keys |= {f"camera_{c.key}" for c in old.cameras}
        kept |= {f"camera_{c.key}" for c in new.cameras}
        if old.cameras and not new.cameras:
            # The camera's health entities (binary_sensor.py, sensor.py) go with the last camera.
            old_keys |= {f"health_{HealthKey.CAMERA_OK}", f"health_{HealthKey.PHOTOS_DROPPED}"}
        dropped = old_keys - kept
        if not dropped:
            return
        for entity in er.async_entries_for_config_entry(ent_reg, self.fleet.entry.entry_id):
            if any(is_unique_id_of(entity.unique_id, old.node_id, key) for key in dropped):
                ent_reg.async_remove(entity.entity_id)

    @callback
    def async_node_removed(self, node_id: str) -> None:
        """An empty retained config means the node was removed: so is its device."""
        fleet = self.fleet
        fleet.issues.node_removed(node_id)
        fleet.photos.async_forget(node_id)
        self.devices.pop(node_id, None)
        node = fleet.nodes.pop(node_id, None)
        if node is None:
            return
        dev_reg = dr.async_get(self.hass)
        if device := dev_reg.async_get_device(identifiers={(DOMAIN, node_id)}):
            dev_reg.async_update_device(device.id, remove_config_entry_id=fleet.entry.entry_id)
        _LOGGER.info("Node %s removed itself; its device is gone", node_id)

    @callback
    def async_forget(self, node_id: str) -> None:
        """Drop a node the user deleted; clear its retained config so it does not come back."""
        fleet = self.fleet
        fleet.nodes.pop(node_id, None)
        fleet.issues.node_removed(node_id)
        fleet.photos.async_forget(node_id)
        fleet.entry.async_create_task(
            self.hass,
            mqtt.async_publish(self.hass, Topic(fleet.prefix, node_id).config, b"", qos=1, retain=True, encoding=None),
        )

    @callback
    def async_availability_received(self, node_id: str, online: bool) -> None:
        """A node's last will or birth: its entities follow it to unavailable and back."""
        self._online[node_id] = online
        node = self.fleet.nodes.get(node_id)
        if node is None:
            return
        if online:
            self.fleet.issues.node_online(node_id)
        else:
            self.fleet.issues.node_offline(node_id, node.config.name)
        if node.online != online:
            node.online = online
            # Once per change, not per message (quality scale: log-when-unavailable).
            if online:
                _LOGGER.info("Node %s is back online", node_id)
            else:
                _LOGGER.info("Node %s is offline; its entities are unavailable until it is back", node_id)
            node.async_notify()
            if online:
                self.fleet.settings.async_apply(node)
