"""The probes a Pi can carry, in one table: what each reports, when it is fitted, whether it calibrates.

``SensorArray`` (its keys, discovery, calibration and the physical ranges a reading must
fall in) and the tests' Pi config (``tests/pi_node.py``) take the probe set from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hydro_fleet_protocol import SensorConfig, SensorType

from .settings import ProbeSettings


def _never(_settings: ProbeSettings) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe: its sensor as announced (``minimum``/``maximum`` are its physical range)."""

    sensor: SensorConfig
    fitted: Callable[[ProbeSettings], bool]
    calibratable: Callable[[ProbeSettings], bool] = _never

    @property
    def key(self) -> str:
        return self.sensor.key


def _analog_level(settings: ProbeSettings) -> bool:
    return settings.water_level.mode == "analog"


# In the order a Pi reports them. A reading outside its sensor's minimum..maximum is a
# fault (out_of_range), not a reading.
PROBES: tuple[Probe, ...] = (
    Probe(
        SensorConfig("tds", SensorType.TDS, unit="ppm", minimum=0, maximum=5000, precision=0),
        fitted=lambda s: s.tds is not None,
        calibratable=lambda s: s.tds is not None,
    ),
    Probe(
        SensorConfig("ec", SensorType.EC, unit="uS/cm", minimum=0, maximum=10000, precision=0),
        fitted=lambda s: s.tds is not None,  # the same probe as TDS
    ),
    Probe(
        SensorConfig("ph", SensorType.PH, minimum=0, maximum=14, precision=2),
        fitted=lambda s: s.ph is not None,
        calibratable=lambda s: s.ph is not None,
    ),
    Probe(
        SensorConfig("moisture", SensorType.MOISTURE, unit="%", minimum=0, maximum=100, precision=1),
        fitted=lambda s: s.moisture is not None,
        calibratable=lambda s: s.moisture is not None,
    ),
    Probe(
        SensorConfig("water_level", SensorType.WATER_LEVEL, unit="%", minimum=0, maximum=100, precision=0),
        fitted=lambda s: s.water_level.mode != "float_switch",
        calibratable=_analog_level,
    ),
    Probe(
        SensorConfig("water_low", SensorType.WATER_LOW, name="Water low"),
        fitted=lambda s: s.water_level.mode == "float_switch",
    ),
    Probe(
        SensorConfig(
            "water_temperature", SensorType.WATER_TEMPERATURE, unit="°C", minimum=-10, maximum=60, precision=1
        ),
        fitted=lambda _s: True,
    ),
    Probe(
        SensorConfig("battery", SensorType.BATTERY, unit="%", minimum=0, maximum=100, precision=0, diagnostic=True),
        fitted=lambda s: s.battery is not None,
    ),
)
PROBES_BY_KEY = {probe.key: probe for probe in PROBES}
# The physical range of each numeric probe.
RANGES: dict[str, tuple[float, float]] = {
    p.key: (p.sensor.minimum, p.sensor.maximum)
    for p in PROBES
    if p.sensor.minimum is not None and p.sensor.maximum is not None
}
