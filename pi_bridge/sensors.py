"""The node's probes: where their voltages come from and what they mean.

A ``VoltageSource`` is the only thing that differs between a real Pi (an ADS1115) and
``--simulate`` (the plant model); conversion, range checks and reporting are the same.
"""

from __future__ import annotations

from collections.abc import Iterable
import statistics
import time
from typing import Protocol

from hydro_fleet_protocol import Reading, SensorConfig, SensorType

from . import probes
from .pumps import Pump
from .simulation import PlantModel

# Physical ranges of the probes; a value outside is a fault, not a reading.
_RANGES = {
    "tds": (0.0, 5000.0),
    "ec": (0.0, 10000.0),
    "ph": (0.0, 14.0),
    "moisture": (0.0, 100.0),
    "water_level": (0.0, 100.0),
    "water_temperature": (-10.0, 60.0),
}


class VoltageSource(Protocol):
    """Something that reads a probe's voltage."""

    def voltage(self, probe: str) -> float: ...


class SimulatedSource:
    """Voltages from the plant model; pump run time drains the reservoir."""

    def __init__(self, plant: PlantModel, calibration: dict[str, float]) -> None:
        self.plant = plant
        self.calibration = calibration
        self._pumped_seconds: dict[str, float] = {}
        self._last_advance: float | None = None

    def voltage(self, probe: str) -> float:
        return self.plant.voltage(probe, self.calibration)

    def advance(self, pumps: Iterable[Pump], now: float) -> None:
        pumped_ml = 0.0
        for pump in pumps:
            total = pump.running_seconds()
            delta = total - self._pumped_seconds.get(pump.key, 0.0)
            self._pumped_seconds[pump.key] = total
            pumped_ml += delta * pump.settings.flow_ml_per_min / 60.0
        elapsed = 0.0 if self._last_advance is None else now - self._last_advance
        self._last_advance = now
        self.plant.step(elapsed, pumped_ml)


class SensorArray:
    """Reads, smooths, converts and range-checks every probe of the node."""

    def __init__(self, source: VoltageSource, calibration: dict[str, float], *,
                 water_temperature_c: float | None = None, samples: int = 5) -> None:
        self.source = source
        self.calibration = calibration
        self.fixed_temperature = water_temperature_c
        self.samples = samples

    def describe(self) -> tuple[SensorConfig, ...]:
        return (
            SensorConfig("tds", SensorType.TDS, unit="ppm", minimum=0, maximum=5000, precision=0),
            SensorConfig("ec", SensorType.EC, unit="uS/cm", minimum=0, maximum=10000, precision=0),
            SensorConfig("ph", SensorType.PH, minimum=0, maximum=14, precision=2),
            SensorConfig("moisture", SensorType.MOISTURE, unit="%", minimum=0, maximum=100, precision=1),
            SensorConfig("water_level", SensorType.WATER_LEVEL, unit="%", minimum=0, maximum=100, precision=0),
            SensorConfig("water_temperature", SensorType.WATER_TEMPERATURE, unit="°C", minimum=-10, maximum=60,
                         precision=1),
        )

    def advance(self, pumps: Iterable[Pump]) -> None:
        """Let a simulated plant catch up with time and pump runs (no-op on hardware)."""
        if isinstance(self.source, SimulatedSource):
            self.source.advance(pumps, time.monotonic())

    def _volts(self, probe: str) -> float:
        # Median of a few conversions rejects single-sample spikes from pumps switching.
        return statistics.median(self.source.voltage(probe) for _ in range(self.samples))

    def read(self) -> tuple[dict[str, Reading], dict[str, Reading]]:
        """Return (readings, problems); a faulty probe has a None reading and a problem."""
        cal = self.calibration
        if self.fixed_temperature is not None:
            temperature = self.fixed_temperature
        elif isinstance(self.source, SimulatedSource):
            temperature = self.source.plant.water_temperature_c
        else:
            temperature = 25.0
        ec = probes.ec_from_voltage(self._volts("tds"), temperature, cal.get("k_value", 1.0))
        values = {
            "ec": ec,
            "tds": probes.tds_from_ec(ec),
            "ph": probes.ph_from_mv((self._volts("ph") - cal.get("ph_zero_volts", 1.5)) * 1000.0, temperature),
            "moisture": probes.percent_between(self._volts("moisture"), cal.get("dry_volts", 2.8),
                                               cal.get("wet_volts", 1.2)),
            "water_level": probes.percent_between(self._volts("water_level"), cal.get("empty_volts", 0.2),
                                                  cal.get("full_volts", 3.0)),
            "water_temperature": temperature,
        }
        readings: dict[str, Reading] = {}
        problems: dict[str, Reading] = {}
        for key, value in values.items():
            low, high = _RANGES[key]
            if low <= value <= high:
                readings[key] = round(value, 2)
            else:
                readings[key] = None
                problems[key] = "out_of_range"
        return readings, problems
