"""What a node's reading entities show, worked out once per sample for all of them.

A sample's sensor, probe status and problem entities all read the same readings: the
plausibility checks, range lookups and probe statuses are done here, once, and only for
the readings that changed; the entities then only compare and write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .protocol import NodeConfig, SensorType, State
from .ranges import STATUS_TYPES, ProbeStatus, Range, probe_status
from .readings import valid_reading

# What Shown.update reports as changed, for Node.async_notify: a reading's key for its
# value, these for the rest. Protocol keys have no "/", so none of them can clash.
WATER_LOW = "/water_low"
NEEDS_ATTENTION = "/needs_attention"


def status_key(key: str) -> str:
    """What Shown.update reports when the probe status of reading ``key`` changed."""
    return f"{key}/status"


@dataclass(slots=True)
class Shown:
    """Per reading key: its valid value and probe status; per node: water low and why it needs attention."""

    values: dict[str, float | str | datetime | None] = field(default_factory=dict)
    statuses: dict[str, ProbeStatus | None] = field(default_factory=dict)
    water_low: bool | None = None
    # None until the node's first sample; then whether any reason below applies.
    needs_attention: bool | None = None
    reasons: tuple[str, ...] = ()
    # The readings water low depends on, from the config of the last full update.
    _water_keys: frozenset[str] = frozenset()

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
            # WATER_LOW stands for the state's own ``water_low`` (Node.apply_state adds it).
            self._water_keys = frozenset(s.key for s in config.sensors if s.type is SensorType.WATER_LOW) | {WATER_LOW}
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
        for sensor in config.sensors:
            key = sensor.key
            if keys is not None and key not in keys:
                continue
            value = valid_reading(sensor, readings.get(key))
            if values.get(key) != value:
                values[key] = value
                changed.add(key)
            if sensor.type in STATUS_TYPES:
                # Status types are numeric: their shown value is valid_number's.
                status = probe_status(value, problems.get(key), ranges[sensor.type])
                if statuses.get(key) != status:
                    statuses[key] = status
                    changed.add(status_key(key))
                    problems_changed = True
        if keys is None or not keys.isdisjoint(self._water_keys):
            water_low = _water_low(config, state)
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


def _water_low(config: NodeConfig, state: State) -> bool | None:
    """The node's own dry-run decision (``State.water_low``), else its float switch.

    Never a rule of HA's own: the node refuses to water on its decision, so HA showing
    another one could say "not low" while the node refuses (HA's threshold option is sent
    to the node instead, see settings.py). A node with neither shows unknown.
    """
    if state.water_low is not None:
        return state.water_low
    for sensor in config.sensors:
        value = state.readings.get(sensor.key)
        if sensor.type is SensorType.WATER_LOW and isinstance(value, bool):
            return value
    return None
