"""Binary sensors: "needs attention" and "water low" per node (device class problem)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import HydroFleetEntity, async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import Node, Section
from .protocol import SensorType
from .ranges import STATUS_TYPES
from .shown import NEEDS_ATTENTION, WATER_LOW

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up the problem binary sensors of every node that has probes or a water level."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterator[HydroFleetEntity]:
        types = {s.type for s in node.config.sensors}
        if types & {SensorType.WATER_LOW, SensorType.WATER_LEVEL}:
            yield WaterLowBinarySensor(fleet, node)
        if types & (STATUS_TYPES | {SensorType.WATER_LOW}):
            yield NeedsAttentionBinarySensor(fleet, node)

    async_setup_node_platform(hass, entry, async_add_entities, "binary_sensor", entities_for)


class _ProblemBinarySensor(HydroFleetEntity, BinarySensorEntity):
    _attr_device_class = BinarySensorDeviceClass.PROBLEM
    _sections = frozenset({Section.READINGS})
    _problem_written: tuple[bool | None, bool, Any] | None = None

    @abstractmethod
    def _compute(self) -> tuple[bool | None, Any]:
        """What the entity shows now; each kind of sensor says how it gets it."""

    @callback
    def _handle_node_update(self) -> None:
        is_on, extra = self._compute()
        written = (is_on, self.available, extra)
        if written == self._problem_written:
            return
        self._problem_written = written
        self._attr_is_on = is_on
        self._set_extra(extra)
        self.async_write_ha_state()

    def _set_extra(self, extra: Any) -> None:
        """Store what ``_compute`` found beside the state (attributes)."""

    def _refresh(self) -> None:
        is_on, extra = self._compute()
        self._attr_is_on = is_on
        self._set_extra(extra)


class WaterLowBinarySensor(_ProblemBinarySensor):
    """On when the reservoir needs refilling."""

    _attr_translation_key = "water_low"
    _keys = frozenset({WATER_LOW})

    def __init__(self, fleet: HydroFleet, node: Node) -> None:
        super().__init__(fleet, node, "water_low", "problem")
        self._attr_is_on = self._compute()[0]

    def _compute(self) -> tuple[bool | None, Any]:
        return self.node.shown.water_low, None


class NeedsAttentionBinarySensor(_ProblemBinarySensor):
    """On when any probe is out of its normal range or faulty, or the water is low."""

    _attr_translation_key = "needs_attention"
    _keys = frozenset({NEEDS_ATTENTION})

    def __init__(self, fleet: HydroFleet, node: Node) -> None:
        super().__init__(fleet, node, "needs_attention")
        is_on, reasons = self._compute()
        self._attr_is_on = is_on
        self._set_extra(reasons)

    def _compute(self) -> tuple[bool | None, Any]:
        shown = self.node.shown
        return shown.needs_attention, shown.reasons

    def _set_extra(self, extra: Any) -> None:
        self._attr_extra_state_attributes = {"reasons": list(extra)}
