"""Backfill: readings a node buffered while offline become long-term statistics.

HA cannot backdate states, but the recorder accepts hourly statistics for an entity
(``async_import_statistics``, source ``recorder``): the gap in the history graph's
statistics is then filled. Samples are kept per (entity, hour) keyed by their sequence
number, so a re-sent batch changes nothing and a second batch for the same hour merges
with the first instead of replacing it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
import logging
import math

from homeassistant.components.recorder.models import StatisticData, StatisticMeanType, StatisticMetaData
from homeassistant.components.recorder.statistics import STATISTIC_UNIT_TO_UNIT_CONVERTER, async_import_statistics
from homeassistant.components.sensor.const import UNIT_CONVERTERS
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_FRIENDLY_NAME, ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .node import Node
from .protocol import Backfill, SensorConfig
from .readings import valid_number

_LOGGER = logging.getLogger(__name__)
# (entity_id, hour start) buckets kept for merging; a week of 1,000 nodes x 6 sensors
# would be a million, so the oldest are dropped first beyond this.
_MAX_BUCKETS = 50_000

type Bucket = dict[int, float]  # sequence number -> value


def _unit_class(device_class: str | None, unit: str | None) -> str | None:
    """The unit class the sensor platform's own statistics use for this unit."""
    if device_class and (converter := UNIT_CONVERTERS.get(device_class)) and unit in converter.VALID_UNITS:
        return converter.UNIT_CLASS
    if converter := STATISTIC_UNIT_TO_UNIT_CONVERTER.get(unit):
        return converter.UNIT_CLASS
    return None


class BackfillImporter:
    """Turns backfill batches into hourly mean/min/max statistics of the matching sensors."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self._buckets: OrderedDict[tuple[str, datetime], Bucket] = OrderedDict()

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
            entity_id = ent_reg.async_get_entity_id("sensor", DOMAIN, f"{node.node_id}_{sensor.key}")
            if entity_id is not None:
                sensors[entity_id] = sensor
        for sample in backfill.samples:
            hour = datetime.fromtimestamp(sample.ts, UTC).replace(minute=0, second=0, microsecond=0)
            # The recorder compiles the running hour from states itself.
            if hour >= current_hour:
                continue
            for entity_id, sensor in sensors.items():
                value = valid_number(sensor, sample.readings.get(sensor.key))
                if value is None:
                    continue
                self._bucket(entity_id, hour)[sample.seq] = float(value)
                touched.setdefault(entity_id, set()).add(hour)
        rows = 0
        for entity_id, hours in touched.items():
            rows += self._write(entity_id, sorted(hours))
        return rows

    def _bucket(self, entity_id: str, hour: datetime) -> Bucket:
        key = (entity_id, hour)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = {}
            while len(self._buckets) > _MAX_BUCKETS:
                self._buckets.popitem(last=False)
        return bucket

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
            values = list(self._buckets.get((entity_id, hour), {}).values())
            if values:
                statistics.append(
                    StatisticData(start=hour, mean=math.fsum(values) / len(values), min=min(values), max=max(values))
                )
        if statistics:
            async_import_statistics(self.hass, metadata, statistics)
            _LOGGER.debug("Imported %d backfilled hours of %s", len(statistics), entity_id)
        return len(statistics)
