"""Water temperature: a DS18B20 on the 1-Wire bus (kernel sysfs) or a fixed value."""

from __future__ import annotations

from pathlib import Path

from .adc import ProbeFault
from .settings import TemperatureProbe

# The DS18B20 answers 85.000 degC after a power glitch before its first conversion.
_POWER_ON_RESET_MILLI = 85000


def parse_w1_slave(text: str) -> float:
    """Degrees C from a ``w1_slave`` file: line 1 ends in YES if the CRC matched, line 2 has t=milli-degC."""
    lines = text.strip().splitlines()
    if len(lines) < 2 or not lines[0].strip().endswith("YES"):
        raise ProbeFault("DS18B20 CRC check failed (noisy or loose wire)")
    _, sep, milli = lines[1].rpartition("t=")
    if not sep:
        raise ProbeFault("DS18B20 answered without a temperature")
    try:
        value = int(milli)
    except ValueError:
        raise ProbeFault(f"DS18B20 answered {milli!r}") from None
    if value == _POWER_ON_RESET_MILLI:
        raise ProbeFault("DS18B20 reports its power-on value 85 degC (power glitch)")
    return value / 1000.0


class TemperatureReader:
    """``read()`` in degC, or ProbeFault."""

    def __init__(self, settings: TemperatureProbe) -> None:
        self.settings = settings

    def _device_file(self) -> Path:
        root = self.settings.sysfs_root
        if self.settings.device:
            return root / self.settings.device / "w1_slave"
        found = sorted(root.glob("28-*"))
        if not found:
            raise ProbeFault(f"no DS18B20 under {root} (is dtoverlay=w1-gpio set?)")
        return found[0] / "w1_slave"

    def read(self) -> float:
        if self.settings.source == "fixed":
            return self.settings.value
        path = self._device_file()
        try:
            text = path.read_text()
        except OSError as err:
            raise ProbeFault(f"cannot read {path}: {err.strerror}") from None
        return parse_w1_slave(text)
