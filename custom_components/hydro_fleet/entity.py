"""Base entity of every Hydro Fleet entity, and the per-platform discovery glue."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import assist
from .const import DOMAIN, signal_node_discovered, unique_id
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import ALL_SECTIONS, Node, Section


class HydroFleetEntity(Entity):
    """An entity of one node; it updates when the node reports, never by polling."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    # The parts of a sample the entity shows; none for buttons and events.
    _sections: ClassVar[frozenset[Section]] = ALL_SECTIONS
    # The readings the entity shows, when it shows only some (see Node.async_add_listener).
    _keys: frozenset[str] | None = None
    # Something a grower asks Assist about: exposed and named as assist.py says.
    _asked_about = False
    # Set when HA creates the entity's registry entry (it asks for the initial options then).
    _new_in_registry = False

    def __init__(self, fleet: HydroFleet, node: Node, key: str, aspect: str | None = None) -> None:
        self.fleet = fleet
        self.node = node
        self.key = key
        self._attr_unique_id = unique_id(node.node_id, key, aspect)
        if (device := fleet.discovery.devices.get(node.node_id)) is not None:
            # Linking the registered device directly spares HA a device registry
            # get-or-create per entity (a third of the start-up time of a big fleet).
            self.device_entry = device
        else:
            self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, node.node_id)})

    @property
    def available(self) -> bool:
        return self.node.available

    def get_initial_entity_options(self) -> er.EntityOptionsType | None:
        """HA's options for a new registry entry; what Assist is told about it for those asked about."""
        options = super().get_initial_entity_options()
        self._new_in_registry = True
        if self._asked_about:
            options = {**(options or {}), **assist.initial_exposure(self.hass)}
        return options

    async def async_added_to_hass(self) -> None:
        if self._new_in_registry and self._asked_about:
            assist.async_add_aliases(self)
        # Entities are added in batches: a sample may have come between creation and now.
        # HA writes the state right after this, so that is what was last written.
        shown = self._shown()
        self._show(shown)
        self._written = (self.available, shown)
        self.async_on_remove(self.node.async_add_listener(self._handle_node_update, self._sections, self._keys))

    async def async_will_remove_from_hass(self) -> None:
        self.fleet.created_entities.discard((self.platform.domain, self._attr_unique_id or ""))

    def _shown(self) -> object:
        """What the state shows besides availability; the state is written only when either changes.

        A node resends everything every sample; most of HA's cost per write is the
        state machine and the recorder, so unchanged entities stay quiet. Comparable with ==.
        """
        return None

    def _show(self, shown: Any) -> None:
        """Keep what ``_shown`` returned in the entity's attributes (entities with properties need not)."""

    @callback
    def _handle_node_update(self) -> None:
        written = (self.available, self._shown())
        if written == self._written:
            return
        self._written = written
        self._show(written[1])
        self.async_write_ha_state()

    _written: tuple[bool, object] | None = None


def async_setup_node_platform(
    hass: HomeAssistant,
    entry: HydroFleetConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    platform: str,
    entities_for: Callable[[HydroFleet, Node], Iterable[HydroFleetEntity]],
) -> None:
    """Add a platform's entities for every node, now and whenever one is discovered or changes."""
    fleet = entry.runtime_data
    # Nodes discovered in one burst (the broker hands over every retained config at once
    # on subscribe) are added in one call per platform: HA adds a batch far faster than
    # a thousand small ones.
    pending: list[HydroFleetEntity] = []

    @callback
    def flush() -> None:
        batch = []
        for entity in pending:
            node = entity.node
            device = fleet.discovery.devices.get(node.node_id)
            if fleet.nodes.get(node.node_id) is not node or device is None:
                # Removed (or removed and rediscovered) since it was queued: forget it, so
                # that a rediscovered node gets fresh entities.
                fleet.created_entities.discard((platform, entity.unique_id or ""))
                continue
            entity.device_entry = device
            batch.append(entity)
        pending.clear()
        if batch:
            async_add_entities(batch)

    @callback
    def add_node(node: Node) -> None:
        new = []
        for entity in entities_for(fleet, node):
            marker = (platform, entity.unique_id or "")
            if marker not in fleet.created_entities:
                fleet.created_entities.add(marker)
                new.append(entity)
        if new:
            if not pending:
                hass.loop.call_soon(flush)
            pending.extend(new)

    for node in list(fleet.nodes.values()):
        add_node(node)
    entry.async_on_unload(async_dispatcher_connect(hass, signal_node_discovered(entry.entry_id), add_node))
