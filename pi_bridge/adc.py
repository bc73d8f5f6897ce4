"""Probe voltages from ADS1115 converters over I2C (``adafruit-circuitpython-ads1x15``).

Each probe names its converter (I2C address), single-ended channel and gain; several
probes can share one converter with different gains, so the gain is set before each
conversion. Tests hand in a fake I2C bus that answers like an ADS1115; everything
from the register protocol up is the real driver and our code.
"""

from __future__ import annotations

import threading
from typing import Any

from .settings import AnalogInput, ProbeSettings


class ProbeFault(Exception):
    """A probe that cannot be read right now (I2C error, no converter)."""


def analog_inputs(probes: ProbeSettings) -> dict[str, AnalogInput]:
    """The probes of ``probes`` that are read through an ADS1115 channel."""
    inputs: dict[str, AnalogInput] = {}
    for key in ("tds", "ph", "moisture", "battery"):
        probe = getattr(probes, key)
        if probe is not None:
            inputs[key] = probe
    if probes.water_level.mode == "analog":
        inputs["water_level"] = probes.water_level
    return inputs


class Ads1115Source:
    """Reads ``volts(probe)`` from the ADS1115 channel configured for it."""

    def __init__(self, probes: ProbeSettings, i2c: Any | None = None) -> None:
        self.inputs = analog_inputs(probes)
        self._i2c = i2c
        self._bus_number = probes.i2c_bus
        self._chips: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _bus(self) -> Any:
        if self._i2c is None:
            # Blinka's busio picks the Pi's I2C bus 1 (GPIO 2/3); other buses go through extended_bus.
            if self._bus_number == 1:
                import board
                import busio

                self._i2c = busio.I2C(board.SCL, board.SDA)
            else:
                from adafruit_extended_bus import ExtendedI2C  # type: ignore[import-not-found]

                self._i2c = ExtendedI2C(self._bus_number)
        return self._i2c

    def _chip(self, address: int) -> Any:
        chip = self._chips.get(address)
        if chip is None:
            from adafruit_ads1x15 import ADS1115

            chip = ADS1115(self._bus(), address=address)
            self._chips[address] = chip
        return chip

    def voltage(self, probe: str) -> float:
        from adafruit_ads1x15 import AnalogIn

        spec = self.inputs.get(probe)
        if spec is None:
            raise ProbeFault(f"{probe} has no ADC channel configured")
        try:
            with self._lock:
                chip = self._chip(spec.address)
                if chip.gain != spec.gain:
                    chip.gain = spec.gain
                return float(AnalogIn(chip, spec.channel).voltage)
        except (OSError, ValueError, RuntimeError) as err:
            # A missing converter or a loose wire shows up as an I2C error (ENXIO/EIO).
            self._chips.pop(spec.address, None)
            raise ProbeFault(f"ADS1115 at 0x{spec.address:02x} channel {spec.channel}: {err}") from err

    def full_scale(self, probe: str) -> float:
        """The largest voltage the probe's gain can read."""
        gain = self.inputs[probe].gain
        return {2 / 3: 6.144, 1: 4.096, 2: 2.048, 4: 1.024, 8: 0.512, 16: 0.256}[gain]
