"""What a node's reading entities show, worked out once per sample for all of them.

A sample's sensor, probe status and problem entities all read the same readings: the
plausibility checks, range lookups and probe statuses are done here, once, and only for
the readings that changed; the entities then only compare and write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .protocol import NodeConfig, Reading, SensorConfig, SensorType, State
from .ranges import STATUS_TYPES, ProbeStatus, Range, probe_status
from .readings import MAX_NUMBER, NON_NUMERIC, valid_reading

# What Shown.update reports as changed, for Node.async_notify: a reading's key for its
# value, these for the rest. Protocol keys have no "/", so none of them can clash.
WATER_LOW = "/water_low"
NEEDS_ATTENTION = "/needs_attention"


def status_key(key: str) -> str:
    """What Shown.update reports when the probe status of reading ``key`` changed."""
    return f"{key}/status"


@dataclass(frozen=True, slots=True)
class _Check:
    """How to check one sensor's reading: valid_reading, with the common case inline."""

    key: str
    sensor: SensorConfig
    numeric: bool
    low: float
    high: float
    # The probe's range, for sensors that have a status.
    range: Range | None

    @classmethod
    def of(cls, sensor: SensorConfig, ranges: Mapping[SensorType, Range]) -> _Check:
        low = -MAX_NUMBER if sensor.minimum is None else max(-MAX_NUMBER, sensor.minimum)
        high = MAX_NUMBER if sensor.maximum is None else min(MAX_NUMBER, sensor.maximum)
        probe_range = ranges[sensor.type] if sensor.type in STATUS_TYPES else None
        return cls(sensor.key, sensor, sensor.type not in NON_NUMERIC, low, high, probe_range)

    def value(self, raw: Reading) -> float | str | datetime | None:
        """What the sensor shows for ``raw`` (see valid_reading)."""
        # An exact int or float within bounds (NaN fails the comparison): most readings.
        if self.numeric and (type(raw) is float or type(raw) is int) and self.low <= raw <= self.high:
            return raw
        return valid_reading(self.sensor, raw)


@dataclass(slots=True)
class Shown:
    """Per reading key: its valid value and probe status; per node: water low and why it needs attention."""

    values: dict[str, float | str | datetime | None] = field(default_factory=dict)
    statuses: dict[str, ProbeStatus | None] = field(default_factory=dict)
    water_low: bool | None = None
    # None until the node's first sample; then whether any reason below applies.
    needs_attention: bool | None = None
    reasons: tuple[str, ...] = ()
    # The node's float switches, the keys water low depends on and how to check each reading, from the config
    # and ranges of the last full update.
    _float_switches: tuple[str, ...] = ()
    _water_keys: frozenset[str] = frozenset()
    _plan: tuple[_Check, ...] = ()

    def update(
        self,
        config: NodeConfig,
        state: State | None,
        ranges: Mapping[SensorType, Range],
        keys: frozenset[str] | None = None,
    ) -> frozenset[str] | None:
        """Recompute the readings in ``keys`` (None: all of them) and the node's problems.

        ``keys`` may only leave out readings whose value and probe problem are unchanged
        and must be None when the config, the ranges or the threshold changed. Returns
        what changed (reading keys, ``status_key``s, WATER_LOW, NEEDS_ATTENTION), or None
        for everything when ``keys`` is None.
        """
        if keys is None or state is None:
            self.values.clear()
            self.statuses.clear()
            self._float_switches = tuple(s.key for s in config.sensors if s.type is SensorType.WATER_LOW)
            # WATER_LOW stands for the state's own ``water_low`` (Node.apply_state adds it).
            self._water_keys = frozenset(self._float_switches) | {WATER_LOW}
            self._plan = tuple(_Check.of(sensor, ranges) for sensor in config.sensors)
        if state is None:
            self.water_low = self.needs_attention = None
            self.reasons = ()
            return None
        changed: set[str] = set()
        # The node's problems depend on the statuses and water low only: most samples
        # change neither, and then the reasons are not rebuilt.
        problems_changed = keys is None or self.needs_attention is None
        values, statuses = self.values, self.statuses
        readings, problems = state.readings, state.problems
        for check in self._plan:
            key = check.key
            if keys is not None and key not in keys:
                continue
            value = check.value(readings.get(key))
            if values.get(key) != value:
                values[key] = value
                changed.add(key)
            if (probe_range := check.range) is not None:
                # Status types are numeric: their shown value is valid_number's.
                status = probe_status(value, problems.get(key), probe_range)
                if statuses.get(key) != status:
                    statuses[key] = status
                    changed.add(status_key(key))
                    problems_changed = True
        if keys is None or not keys.isdisjoint(self._water_keys):
            water_low = _water_low(self._float_switches, state)
            if water_low != self.water_low:
                self.water_low = water_low
                changed.add(WATER_LOW)
                problems_changed = True
        if problems_changed:
            reasons = [
                f"{sensor.key}: {status}"
                for sensor in config.sensors
                if (status := statuses.get(sensor.key)) not in (None, ProbeStatus.NORMAL)
            ]
            if self.water_low:
                reasons.append("water low")
            if self.needs_attention is None or tuple(reasons) != self.reasons:
                self.reasons = tuple(reasons)
                self.needs_attention = bool(reasons)
                changed.add(NEEDS_ATTENTION)
        return None if keys is None else frozenset(changed)


def _water_low(float_switches: tuple[str, ...], state: State) -> bool | None:
    """The node's own dry-run decision (``State.water_low``), else its float switch.

    Never a rule of HA's own: the node refuses to water on its decision, so HA showing
    another one could say "not low" while the node refuses (HA's threshold option is sent
    to the node instead, see settings.py). A node with neither shows unknown.
    """
    if state.water_low is not None:
        return state.water_low
    for key in float_switches:  # in the config's order
        if isinstance(value := state.readings.get(key), bool):
            return value
    return None
