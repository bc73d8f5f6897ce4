"""What counts as a valid value for a sensor: one rule shared by live states and backfill."""

from __future__ import annotations

from datetime import UTC, datetime
import math

from .protocol import Reading, SensorConfig, SensorType

NON_NUMERIC = frozenset({SensorType.TEXT, SensorType.TIMESTAMP, SensorType.WATER_LOW})
# Beyond this a number is not a reading, whatever the sensor's bounds say.
MAX_NUMBER = 1e15
# Year 3000: a timestamp beyond is a broken clock, not a reading.
_MAX_TIMESTAMP = 32503680000


def valid_number(sensor: SensorConfig, value: Reading) -> float | int | None:
    """The reading if it is a plausible number for a numeric sensor, else None."""
    if sensor.type in NON_NUMERIC or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # The protocol already rejects these; a reading must never be NaN or beyond a float.
    if abs(value) > MAX_NUMBER or not math.isfinite(value):
        return None
    if (sensor.minimum is not None and value < sensor.minimum) or (
        sensor.maximum is not None and value > sensor.maximum
    ):
        return None
    return value


def valid_reading(sensor: SensorConfig, value: Reading) -> float | str | datetime | None:
    """What a sensor shows for a reading: the value in its sensor's kind if plausible, else None."""
    if value is None:
        return None
    if sensor.type is SensorType.TIMESTAMP:
        return valid_timestamp(value)
    if sensor.type is SensorType.TEXT:
        return valid_text(sensor, value)
    return valid_number(sensor, value)


def valid_timestamp(value: Reading) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < _MAX_TIMESTAMP:
        return None
    return datetime.fromtimestamp(value, UTC)


def valid_text(sensor: SensorConfig, value: Reading) -> str | None:
    if not isinstance(value, str) or (sensor.options and value not in sensor.options):
        return None
    return value
