"""The node's probes: where their voltages come from and what they mean.

A voltage source is the only thing that differs between a real Pi (an ADS1115) and
``--simulate`` (the plant model); smoothing, conversion, calibration, fault detection
and reporting are the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
import logging
import statistics
import time
from typing import Protocol

from hydro_fleet_protocol import Reading, SensorConfig

from . import probes
from .adc import ProbeFault
from .calibration import CalibrationStore
from .probe_table import PROBES, RANGES
from .pumps import Pump
from .settings import ProbeSettings
from .simulation import PlantModel

_LOGGER = logging.getLogger(__name__)

# Below these board voltages the probe's signal is gone: the boards idle well above 0 V
# (pH ~1.5 V at pH 7, capacitive moisture ~1.2 V in water), so ~0 V means a lost wire.
_DISCONNECTED_BELOW = {"ph": 0.05, "moisture": 0.05}


class VoltageSource(Protocol):
    """Something that reads a probe's voltage (or raises ProbeFault)."""

    def voltage(self, probe: str) -> float: ...


class SimulatedSource:
    """Voltages from the plant model through nominal board constants; pumping drains the reservoir."""

    def __init__(self, plant: PlantModel, conversion_seconds: float = 0.0) -> None:
        self.plant = plant
        # A real ADS1115 at its default 128 SPS blocks ~8 ms per conversion; benchmarks set this
        # to see the bridge under that load.
        self.conversion_seconds = conversion_seconds
        self._pumped_seconds: dict[str, float] = {}
        self._last_advance: float | None = None

    def voltage(self, probe: str) -> float:
        if self.conversion_seconds:
            time.sleep(self.conversion_seconds)
        return self.plant.voltage(probe)

    def full_scale(self, probe: str) -> float:
        return 4.096

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


class FloatSwitch:
    """A float switch on a GPIO input with the internal pull-up; closed pulls the pin low."""

    def __init__(self, pin: int, low_when_closed: bool) -> None:
        from gpiozero import DigitalInputDevice

        self._device = DigitalInputDevice(pin, pull_up=True)
        self.low_when_closed = low_when_closed

    def is_low(self) -> bool:
        closed = bool(self._device.is_active)
        return closed if self.low_when_closed else not closed

    def close(self) -> None:
        self._device.close()


@dataclass(slots=True)
class Snapshot:
    """One reading of every probe."""

    readings: dict[str, Reading] = field(default_factory=dict)
    problems: dict[str, Reading] = field(default_factory=dict)

    def status(self) -> dict[str, Reading]:
        """Per-probe status for health: ``probe_<key>`` is ok or the problem."""
        return {f"probe_{key}": self.problems.get(key, "ok") for key in self.readings}


class SensorArray:
    """Reads, smooths, converts and fault-checks every fitted probe of the node."""

    def __init__(
        self,
        settings: ProbeSettings,
        source: VoltageSource,
        calibration: CalibrationStore,
        temperature: Callable[[], float],
        float_switch: FloatSwitch | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.calibration = calibration
        self.temperature = temperature
        self.float_switch = float_switch
        self._logged: set[tuple[str, str]] = set()

    @property
    def keys(self) -> list[str]:
        """The fitted probes' reading keys, in the order they are reported (see probe_table)."""
        return [probe.key for probe in PROBES if probe.fitted(self.settings)]

    def describe(self) -> tuple[SensorConfig, ...]:
        return tuple(probe.sensor for probe in PROBES if probe.fitted(self.settings))

    def advance(self, pumps: Iterable[Pump]) -> None:
        """Let a simulated plant catch up with time and pump runs (no-op on hardware)."""
        if isinstance(self.source, SimulatedSource):
            self.source.advance(pumps, time.monotonic())

    @property
    def calibratable(self) -> list[str]:
        return [probe.key for probe in PROBES if probe.calibratable(self.settings)]

    def temperature_or_default(self) -> float:
        """The water temperature now, or the configured value when the sensor fails."""
        try:
            return self.temperature()
        except ProbeFault:
            return self.settings.temperature.value

    def volts(self, probe: str) -> float:
        """Median of N conversions: rejects single-sample spikes from pumps switching."""
        return statistics.median(self.source.voltage(probe) for _ in range(self.settings.median_of))

    def _problem(self, key: str, problem: str, detail: str) -> None:
        # One log line per probe and kind of fault, not one per sample.
        if (key, problem) not in self._logged:
            self._logged.add((key, problem))
            _LOGGER.warning("probe %s: %s (%s)", key, problem, detail)

    def _checked_volts(self, key: str, snapshot: Snapshot) -> float | None:
        try:
            volts = self.volts(key)
        except ProbeFault as err:
            snapshot.problems[key] = "unavailable"
            self._problem(key, "unavailable", str(err))
            return None
        full_scale = getattr(self.source, "full_scale", lambda _probe: 4.096)(key)
        if volts >= full_scale * 0.999:
            snapshot.problems[key] = "saturated"
            self._problem(key, "saturated", f"{volts:.3f} V at the top of the {full_scale} V range")
            return None
        if volts < _DISCONNECTED_BELOW.get(key, -1.0):
            snapshot.problems[key] = "disconnected"
            self._problem(key, "disconnected", f"{volts:.3f} V")
            return None
        return volts

    def read(self) -> Snapshot:
        """Every probe now; a faulty probe has a None reading and a problem."""
        s, cal = self.settings, self.calibration.current
        snap = Snapshot()
        values: dict[str, float | None] = {}
        try:
            temperature = self.temperature()
            values["water_temperature"] = temperature
        except ProbeFault as err:
            # Compensate with the configured fallback, but say the reading is missing.
            temperature = s.temperature.value
            values["water_temperature"] = None
            snap.problems["water_temperature"] = "unavailable"
            self._problem("water_temperature", "unavailable", str(err))
        if s.tds:
            volts = self._checked_volts("tds", snap)
            if volts is None:
                values["ec"] = values["tds"] = None
                snap.problems["ec"] = snap.problems["tds"]
            else:
                ec = probes.ec_from_voltage(volts, temperature, cal.k_value)
                values["ec"], values["tds"] = ec, probes.tds_from_ec(ec)
        if s.ph:
            volts = self._checked_volts("ph", snap)
            values["ph"] = None if volts is None else cal.ph.ph(volts, temperature)
        if s.moisture:
            volts = self._checked_volts("moisture", snap)
            values["moisture"] = None if volts is None else probes.percent_between(volts, cal.dry_volts, cal.wet_volts)
        if s.water_level.mode == "analog":
            volts = self._checked_volts("water_level", snap)
            values["water_level"] = (
                None if volts is None else probes.percent_between(volts, cal.empty_volts, cal.full_volts)
            )
        if s.battery:
            volts = self._checked_volts("battery", snap)
            values["battery"] = (
                None if volts is None else probes.percent_between(volts, s.battery.empty_volts, s.battery.full_volts)
            )
        for key, value in values.items():
            low, high = RANGES[key]
            if value is None:
                snap.readings[key] = None
            elif low <= value <= high:
                snap.readings[key] = round(value, 2)
            else:
                snap.readings[key] = None
                snap.problems[key] = "out_of_range"
                self._problem(key, "out_of_range", f"{value:.2f} outside {low:g}..{high:g}")
        if self.float_switch is not None:
            snap.readings["water_low"] = self.float_switch.is_low()
        ordered = {key: snap.readings.get(key) for key in self.keys}
        snap.readings = ordered
        return snap

    def close(self) -> None:
        if self.float_switch is not None:
            self.float_switch.close()
