"""Backfill: readings a node buffered while offline become long-term statistics.

HA cannot backdate states, but the recorder accepts hourly statistics for an entity
(``async_import_statistics``, source ``recorder``): the gap in the history graph's
statistics is then filled. What was merged into each (entity, hour) is kept as a
summary (count, sum, min, max and the sequence numbers merged) and stored with HA's
storage helper: a re-sent batch changes nothing, and a second batch for the same hour
merges with the first instead of replacing it, also after HA restarts.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
import logging
import math
from typing import Any

from homeassistant.components.recorder.models import StatisticData, StatisticMeanType, StatisticMetaData
from homeassistant.components.recorder.statistics import STATISTIC_UNIT_TO_UNIT_CONVERTER, async_import_statistics
from homeassistant.components.sensor.const import UNIT_CONVERTERS
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_FRIENDLY_NAME, ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, unique_id
from .node import Node
from .protocol import Backfill, SensorConfig
from .readings import valid_number

_LOGGER = logging.getLogger(__name__)
# (entity_id, hour start) summaries kept for merging; a week of 1,000 nodes x 6 sensors
# would be a million, so the oldest are dropped first beyond this.
_MAX_BUCKETS = 50_000
_STORAGE_VERSION = 1
# Batches come in bursts while a node drains its buffer: one write per burst, not per batch.
_SAVE_DELAY = 10


@dataclass(slots=True)
class HourSummary:
    """What was merged into one (entity, hour): enough for mean/min/max, and which samples."""

    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    # Sorted, disjoint [first, last] runs of merged sequence numbers: a backfill's samples
    # are consecutive, so an hour of them is one run however many there are.
    runs: list[list[int]] = field(default_factory=list)

    def add(self, seq: int, value: float) -> bool:
        """Merge one sample; False (and nothing changes) if its sequence number was merged before."""
        runs = self.runs
        at = bisect.bisect_right(runs, seq, key=lambda run: run[0])  # the first run starting after seq
        if at and runs[at - 1][1] >= seq:
            return False
        joins_previous = at > 0 and runs[at - 1][1] == seq - 1
        joins_next = at < len(runs) and runs[at][0] == seq + 1
        if joins_previous and joins_next:
            runs[at - 1][1] = runs.pop(at)[1]
        elif joins_previous:
            runs[at - 1][1] = seq
        elif joins_next:
            runs[at][0] = seq
        else:
            runs.insert(at, [seq, seq])
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        return True


def _unit_class(device_class: str | None, unit: str | None) -> str | None:
    """The unit class the sensor platform's own statistics use for this unit."""
    if device_class and (converter := UNIT_CONVERTERS.get(device_class)) and unit in converter.VALID_UNITS:
        return converter.UNIT_CLASS
    if converter := STATISTIC_UNIT_TO_UNIT_CONVERTER.get(unit):
        return converter.UNIT_CLASS
    return None


class BackfillImporter:
    """Turns backfill batches into hourly mean/min/max statistics of the matching sensors."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self.hass = hass
        self._store: Store[dict[str, Any]] = Store(hass, _STORAGE_VERSION, f"{DOMAIN}.{entry_id}.backfill")
        self._buckets: OrderedDict[tuple[str, datetime], HourSummary] = OrderedDict()
        self._unsaved = False

    async def async_load(self) -> None:
        """Read back what earlier runs merged."""
        data = await self._store.async_load() or {}
        for entity_id, start, count, total, low, high, runs in data.get("hours", []):
            hour = datetime.fromtimestamp(start, UTC)
            self._buckets[(entity_id, hour)] = HourSummary(count, total, low, high, runs)

    async def async_remove(self) -> None:
        """Forget everything (the config entry is being removed)."""
        await self._store.async_remove()

    async def async_flush(self) -> None:
        """Write what is not saved yet now (the entry unloads: a reload reads it back at once)."""
        if self._unsaved:
            await self._store.async_save(self._data_to_save())

    @callback
    def _data_to_save(self) -> dict[str, Any]:
        self._unsaved = False
        return {
            "hours": [
                [entity_id, hour.timestamp(), s.count, s.total, s.low, s.high, s.runs]
                for (entity_id, hour), s in self._buckets.items()
            ]
        }

    @callback
    def async_import(self, node: Node, backfill: Backfill) -> int:
        """Import a batch; returns how many hourly rows were written (0 without recorder)."""
        if "recorder" not in self.hass.config.components:
            return 0
        ent_reg = er.async_get(self.hass)
        current_hour = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
        touched: dict[str, set[datetime]] = {}
        sensors: dict[str, SensorConfig] = {}
        for sensor in node.config.sensors:
            entity_id = ent_reg.async_get_entity_id("sensor", DOMAIN, unique_id(node.node_id, sensor.key))
            if entity_id is not None:
                sensors[entity_id] = sensor
        for sample in backfill.samples:
            hour = datetime.fromtimestamp(sample.ts, UTC).replace(minute=0, second=0, microsecond=0)
            # The recorder compiles the running hour from states itself.
            if hour >= current_hour:
                continue
            for entity_id, sensor in sensors.items():
                value = valid_number(sensor, sample.readings.get(sensor.key))
                if value is not None and self._summary(entity_id, hour).add(sample.seq, float(value)):
                    touched.setdefault(entity_id, set()).add(hour)
        rows = 0
        for entity_id, hours in touched.items():
            rows += self._write(entity_id, sorted(hours))
        if touched:
            self._unsaved = True
            self._store.async_delay_save(self._data_to_save, _SAVE_DELAY)
        return rows

    def _summary(self, entity_id: str, hour: datetime) -> HourSummary:
        key = (entity_id, hour)
        summary = self._buckets.get(key)
        if summary is None:
            summary = self._buckets[key] = HourSummary()
            while len(self._buckets) > _MAX_BUCKETS:
                self._buckets.popitem(last=False)
        return summary

    def _write(self, entity_id: str, hours: Iterable[datetime]) -> int:
        state = self.hass.states.get(entity_id)
        if state is None or state.attributes.get("state_class") != "measurement":
            return 0
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.ARITHMETIC,
            has_sum=False,
            name=state.attributes.get(ATTR_FRIENDLY_NAME),
            source="recorder",
            statistic_id=entity_id,
            unit_class=_unit_class(state.attributes.get(ATTR_DEVICE_CLASS), unit),
            unit_of_measurement=unit,
        )
        statistics: list[StatisticData] = []
        for hour in hours:
            summary = self._buckets.get((entity_id, hour))
            if summary is not None and summary.count:
                statistics.append(
                    StatisticData(start=hour, mean=summary.total / summary.count, min=summary.low, max=summary.high)
                )
        if statistics:
            async_import_statistics(self.hass, metadata, statistics)
            _LOGGER.debug("Imported %d backfilled hours of %s", len(statistics), entity_id)
        return len(statistics)
