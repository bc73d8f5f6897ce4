"""Binary sensors: "needs attention" and "water low" per node (device class problem)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_WATER_LOW_PERCENT, DEFAULT_WATER_LOW_PERCENT
from .entity import HydroFleetEntity, async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import Node, Section
from .protocol import SensorType
from .ranges import STATUS_TYPES, ProbeStatus, probe_status
from .readings import valid_number

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


def water_low(fleet: HydroFleet, node: Node) -> bool | None:
    """A float switch's word if the node has one, else the level against the user's threshold."""
    state = node.state
    if state is None:
        return None
    threshold = float(fleet.options.get(CONF_WATER_LOW_PERCENT, DEFAULT_WATER_LOW_PERCENT))
    level_seen: bool | None = None
    for sensor in node.config.sensors:
        value = state.readings.get(sensor.key)
        if sensor.type is SensorType.WATER_LOW and isinstance(value, bool):
            return value
        if sensor.type is SensorType.WATER_LEVEL and (level := valid_number(sensor, value)) is not None:
            level_seen = bool(level_seen) or level < threshold
    return level_seen


def attention_reasons(fleet: HydroFleet, node: Node) -> list[str]:
    """Why a node needs attention: probes out of their normal range or faulty, water low."""
    state = node.state
    if state is None:
        return []
    reasons = []
    ranges = fleet.ranges(node.node_id)
    for sensor in node.config.sensors:
        if sensor.type not in STATUS_TYPES:
            continue
        status = probe_status(
            valid_number(sensor, state.readings.get(sensor.key)), state.problems.get(sensor.key), ranges[sensor.type]
        )
        if status not in (None, ProbeStatus.NORMAL):
            reasons.append(f"{sensor.key}: {status}")
    if water_low(fleet, node):
        reasons.append("water low")
    return reasons


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

    def __init__(self, fleet: HydroFleet, node: Node) -> None:
        super().__init__(fleet, node, "water_low", "problem")
        self._attr_is_on = self._compute()[0]

    def _compute(self) -> tuple[bool | None, Any]:
        return water_low(self.fleet, self.node), None


class NeedsAttentionBinarySensor(_ProblemBinarySensor):
    """On when any probe is out of its normal range or faulty, or the water is low."""

    _attr_translation_key = "needs_attention"

    def __init__(self, fleet: HydroFleet, node: Node) -> None:
        super().__init__(fleet, node, "needs_attention")
        is_on, reasons = self._compute()
        self._attr_is_on = is_on
        self._set_extra(reasons)

    def _compute(self) -> tuple[bool | None, Any]:
        if self.node.state is None:
            return None, ()
        reasons = tuple(attention_reasons(self.fleet, self.node))
        return bool(reasons), reasons

    def _set_extra(self, extra: Any) -> None:
        self._attr_extra_state_attributes = {"reasons": list(extra)}
