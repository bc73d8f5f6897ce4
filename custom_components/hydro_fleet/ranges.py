"""Per-probe status from ranges: normal, warning, critical or sensor fault.

Pure functions and data, no Home Assistant state: the sensor and binary sensor
platforms and the options flow share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .protocol import SensorType


class ProbeStatus(StrEnum):
    """The options of a probe status enum sensor."""

    NORMAL = "normal"
    WARNING = "warning"
    CRITICAL = "critical"
    SENSOR_FAULT = "sensor_fault"


@dataclass(frozen=True, slots=True)
class Range:
    """Normal between normal_min and normal_max; critical outside the critical bounds."""

    critical_min: float
    normal_min: float
    normal_max: float
    critical_max: float

    def classify(self, value: float) -> ProbeStatus:
        if value < self.critical_min or value > self.critical_max:
            return ProbeStatus.CRITICAL
        if value < self.normal_min or value > self.normal_max:
            return ProbeStatus.WARNING
        return ProbeStatus.NORMAL

    def as_list(self) -> list[float]:
        return [self.critical_min, self.normal_min, self.normal_max, self.critical_max]

    @classmethod
    def from_list(cls, values: Any) -> Range | None:
        """A range from stored options, or None if they are not four ordered numbers."""
        if not isinstance(values, list | tuple) or len(values) != 4:
            return None
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return None
        if not values[0] <= values[1] <= values[2] <= values[3]:
            return None
        return cls(*(float(v) for v in values))


# Sane hydroponics defaults (leafy greens and herbs in recirculating systems): pH 5.5-6.5,
# EC 1.0-2.5 mS/cm (TDS at the 0.5 factor), nutrient solution 18-24 C.
DEFAULT_RANGES: Mapping[SensorType, Range] = {
    SensorType.PH: Range(5.0, 5.5, 6.5, 7.0),
    SensorType.TDS: Range(300, 500, 1250, 1750),
    SensorType.EC: Range(600, 1000, 2500, 3500),
    SensorType.MOISTURE: Range(15, 30, 70, 90),
    SensorType.WATER_TEMPERATURE: Range(15, 18, 24, 28),
    SensorType.WATER_LEVEL: Range(10, 25, 100, 100),
}
STATUS_TYPES = frozenset(DEFAULT_RANGES)


def node_ranges(options: Mapping[str, Any], node_id: str) -> dict[SensorType, Range]:
    """The ranges in force for one node: the user's where set and valid, else the defaults."""
    stored = options.get("ranges", {}).get(node_id, {})
    ranges = dict(DEFAULT_RANGES)
    if isinstance(stored, Mapping):
        for sensor_type in DEFAULT_RANGES:
            if (custom := Range.from_list(stored.get(str(sensor_type)))) is not None:
                ranges[sensor_type] = custom
    return ranges


def probe_status(value: Any, problem: Any, probe_range: Range) -> ProbeStatus | None:
    """Status of one probe: a fault reported by the node wins; no reading means unknown."""
    if problem not in (None, "ok", False):
        return ProbeStatus.SENSOR_FAULT
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return probe_range.classify(value)
