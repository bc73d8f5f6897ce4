"""Binary sensors: "needs attention", "water low" and the camera per node (device class problem)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import HydroFleetEntity, async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import Node, Section
from .protocol import HealthKey, SensorType
from .ranges import STATUS_TYPES
from .shown import NEEDS_ATTENTION, WATER_LOW

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up the problem binary sensors of every node that has probes, a water level or a camera."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterator[HydroFleetEntity]:
        types = {s.type for s in node.config.sensors}
        if types & {SensorType.WATER_LOW, SensorType.WATER_LEVEL}:
            yield WaterLowBinarySensor(fleet, node)
        if types & (STATUS_TYPES | {SensorType.WATER_LOW}):
            yield NeedsAttentionBinarySensor(fleet, node)
        if node.config.cameras:
            yield CameraBinarySensor(fleet, node)

    async_setup_node_platform(hass, entry, async_add_entities, "binary_sensor", entities_for)


class _ProblemBinarySensor(HydroFleetEntity, BinarySensorEntity):
    _attr_device_class = BinarySensorDeviceClass.PROBLEM
    _sections = frozenset({Section.READINGS})

    @abstractmethod
    def _shown(self) -> tuple[bool | None, Any]:
        """Whether the problem is on, and what goes with it; each kind of sensor says how it gets it."""

    def _show(self, shown: tuple[bool | None, Any]) -> None:
        self._attr_is_on = shown[0]
        self._set_extra(shown[1])

    def _set_extra(self, extra: Any) -> None:
        """Store what ``_shown`` found beside the state (attributes)."""


class WaterLowBinarySensor(_ProblemBinarySensor):
    """On when the reservoir needs refilling."""

    _attr_translation_key = "water_low"
    _keys = frozenset({WATER_LOW})

    def __init__(self, fleet: HydroFleet, node: Node) -> None:
        super().__init__(fleet, node, "water_low", "problem")
        self._show(self._shown())

    def _shown(self) -> tuple[bool | None, Any]:
        return self.node.shown.water_low, None


class NeedsAttentionBinarySensor(_ProblemBinarySensor):
    """On when any probe is out of its normal range or faulty, or the water is low."""

    _attr_translation_key = "needs_attention"
    _keys = frozenset({NEEDS_ATTENTION})

    def __init__(self, fleet: HydroFleet, node: Node) -> None:
        super().__init__(fleet, node, "needs_attention")
        self._show(self._shown())

    def _shown(self) -> tuple[bool | None, Any]:
        shown = self.node.shown
        return shown.needs_attention, shown.reasons

    def _set_extra(self, extra: Any) -> None:
        self._attr_extra_state_attributes = {"reasons": list(extra)}


class CameraBinarySensor(_ProblemBinarySensor):
    """On when the node's camera failed its last photo (health ``camera_ok`` false; diagnostic)."""

    _attr_translation_key = "camera"
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _sections = frozenset({Section.HEALTH})

    def __init__(self, fleet: HydroFleet, node: Node) -> None:
        super().__init__(fleet, node, f"health_{HealthKey.CAMERA_OK}", "problem")
        self._show(self._shown())

    def _shown(self) -> tuple[bool | None, Any]:
        state = self.node.state
        camera_ok = None if state is None else state.health.get(HealthKey.CAMERA_OK)
        # Unknown until the camera has tried (the bridge reports it after its first photo).
        return (not camera_ok if isinstance(camera_ok, bool) else None), None
