"""Event entities: watering reports, safety stops, calibrations and power banks returned."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .calibration import CALIBRATABLE
from .entity import HydroFleetEntity, async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import NO_SECTIONS, Node
from .protocol import Event, EventType, NodeConfig, NodeKind

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class NodeEventDescription(EventEntityDescription):
    """Which event types an entity shows, and which nodes have it."""

    def applies_to(self, config: NodeConfig) -> bool:
        if self.key in ("watering", "safety"):
            return bool(config.pumps)
        if self.key == "calibration":
            return any(s.type in CALIBRATABLE for s in config.sensors)
        return config.kind is NodeKind.STATION


DESCRIPTIONS = (
    NodeEventDescription(key="watering", translation_key="watering", event_types=[EventType.WATERING_REPORT]),
    NodeEventDescription(key="safety", translation_key="safety", event_types=[EventType.SAFETY_STOP]),
    NodeEventDescription(key="calibration", translation_key="calibration", event_types=[EventType.CALIBRATION]),
    NodeEventDescription(key="power_bank", translation_key="power_bank", event_types=[EventType.POWER_BANK_RETURNED]),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up the event entities each node kind has."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterator[NodeEventEntity]:
        for description in DESCRIPTIONS:
            if description.applies_to(node.config):
                yield NodeEventEntity(fleet, node, description)

    async_setup_node_platform(hass, entry, async_add_entities, "event", entities_for)


class NodeEventEntity(HydroFleetEntity, EventEntity):
    """Fires with the event's fields as attributes (volume, moisture before/after, reason...)."""

    entity_description: NodeEventDescription
    _sections = NO_SECTIONS

    def __init__(self, fleet: HydroFleet, node: Node, description: NodeEventDescription) -> None:
        super().__init__(fleet, node, f"event_{description.key}")
        self.entity_description = description

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(self.node.async_add_event_listener(self._handle_event))

    @callback
    def _handle_event(self, event: Event) -> None:
        if event.type not in self.event_types:
            return
        self._trigger_event(event.type, dict(event.data))
        self.async_write_ha_state()
