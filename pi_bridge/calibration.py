"""Calibration on the node: started by a command, measured here, stored, reported.

The stored file (``<state_dir>/calibration.json``) survives restarts; config values are
only the defaults until a calibration replaces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import time
from typing import Any

from .probes import CalibrationError, PhCalibration, k_from_standard
from .settings import ProbeSettings
from .store import read_json, write_json

_MIN_SPAN_VOLTS = 0.1
_PH_BUFFERS = (4.0, 7.0, 10.0)


@dataclass(frozen=True, slots=True)
class Calibrated:
    """The values conversion uses right now."""

    k_value: float
    ph: PhCalibration
    dry_volts: float
    wet_volts: float
    empty_volts: float
    full_volts: float


class CalibrationStore:
    """Calibration results per probe, persisted as JSON."""

    def __init__(self, state_dir: Path, probes: ProbeSettings) -> None:
        self.path = state_dir / "calibration.json"
        self.probes = probes
        self.data: dict[str, Any] = read_json(self.path)
        self.current = self._build()

    def _build(self) -> Calibrated:
        p, d = self.probes, self.data
        zero = p.ph.zero_volts if p.ph else 1.5
        ph = PhCalibration.ideal(zero)
        stored_ph = d.get("ph", {})
        if stored_ph.get("points"):
            try:
                ph = PhCalibration(
                    {float(k): float(v) for k, v in stored_ph["points"].items()},
                    float(stored_ph.get("temperature", 25.0)),
                )
            except (CalibrationError, ValueError, TypeError, AttributeError):
                ph = PhCalibration.ideal(zero)  # a stored file we cannot trust is ignored, not fatal
        return Calibrated(
            k_value=float(d.get("tds", {}).get("k_value", p.tds.k_value if p.tds else 1.0)),
            ph=ph,
            dry_volts=float(d.get("moisture", {}).get("dry_volts", p.moisture.dry_volts if p.moisture else 2.8)),
            wet_volts=float(d.get("moisture", {}).get("wet_volts", p.moisture.wet_volts if p.moisture else 1.2)),
            empty_volts=float(d.get("water_level", {}).get("empty_volts", p.water_level.empty_volts)),
            full_volts=float(d.get("water_level", {}).get("full_volts", p.water_level.full_volts)),
        )

    @property
    def last_calibration(self) -> float | None:
        """Unix time of the newest stored calibration of any probe."""
        times = [entry.get("at") for entry in self.data.values() if isinstance(entry, dict)]
        numbers = [t for t in times if isinstance(t, int | float)]
        return max(numbers) if numbers else None

    def _save(self, probe: str, entry: dict[str, Any]) -> None:
        entry["at"] = round(time.time(), 3)
        self.data[probe] = entry
        write_json(self.path, self.data)
        self.current = self._build()

    # --- one step per command --------------------------------------------------------

    def calibrate(self, probe: str, params: dict[str, Any], volts: float, temperature_c: float) -> dict[str, Any]:
        """Apply one calibration step measured at ``volts``; returns the result to report.

        Raises CalibrationError with a readable reason if the step is rejected; nothing is
        stored then, and the previous calibration stays in use.
        """
        if probe == "tds":
            return self._tds(params, volts, temperature_c)
        if probe == "ph":
            return self._ph(params, volts, temperature_c)
        if probe == "moisture":
            return self._two_point("moisture", params, volts, ("dry", "wet"))
        if probe == "water_level":
            return self._two_point("water_level", params, volts, ("empty", "full"))
        raise CalibrationError(f"probe {probe!r} cannot be calibrated (tds, ph, moisture, water_level can)")

    def _tds(self, params: dict[str, Any], volts: float, temperature_c: float) -> dict[str, Any]:
        standard = params.get("standard_ppm", 707.0)
        if isinstance(standard, bool) or not isinstance(standard, int | float) or not 10 <= standard <= 10000:
            raise CalibrationError("standard_ppm must be a number from 10 to 10000 (the solution's TDS in ppm)")
        k = k_from_standard(volts, temperature_c, float(standard))
        self._save("tds", {"k_value": k, "standard_ppm": float(standard), "temperature": temperature_c, "volts": volts})
        return {"k_value": round(k, 4), "standard_ppm": float(standard), "temperature": round(temperature_c, 2)}

    def _ph(self, params: dict[str, Any], volts: float, temperature_c: float) -> dict[str, Any]:
        buffer = params.get("buffer")
        if isinstance(buffer, bool) or not isinstance(buffer, int | float) or float(buffer) not in _PH_BUFFERS:
            raise CalibrationError("buffer must be 4, 7 or 10 (the pH of the buffer solution the probe is in)")
        stored = self.data.get("ph", {}) if not params.get("restart") else {}
        points = {float(k): float(v) for k, v in stored.get("points", {}).items()}
        points[float(buffer)] = volts
        # Points must be measured at about one temperature to share a slope reference.
        calibration = PhCalibration(points, temperature_c)  # raises on a bad slope
        for a, b in zip(sorted(points), sorted(points)[1:], strict=False):
            if abs(points[a] - points[b]) < 0.05:
                raise CalibrationError(f"buffers {a:g} and {b:g} read the same voltage; was the probe moved?")
        zero = self.probes.ph.zero_volts if self.probes.ph else 1.5
        self._save("ph", {"points": {f"{k:g}": v for k, v in points.items()}, "temperature": temperature_c})
        return {
            "points": len(points),
            "buffers": ",".join(f"{k:g}" for k in sorted(points)),
            "slope_pct": min(calibration.slope_pct()),
            "slope_pct_acid": calibration.slope_pct()[0],
            "slope_pct_base": calibration.slope_pct()[-1],
            "offset_mv": round(calibration.offset_mv(zero), 2),
        }

    def _two_point(self, probe: str, params: dict[str, Any], volts: float, names: tuple[str, str]) -> dict[str, Any]:
        point = params.get("point")
        if point not in names:
            raise CalibrationError(f"point must be {names[0]!r} or {names[1]!r}")
        current = self.current
        entry = dict(self.data.get(probe, {}))
        defaults = (
            {"dry": current.dry_volts, "wet": current.wet_volts}
            if probe == "moisture"
            else {"empty": current.empty_volts, "full": current.full_volts}
        )
        values = {name: float(entry.get(f"{name}_volts", defaults[name])) for name in names}
        values[point] = volts
        if abs(values[names[0]] - values[names[1]]) < _MIN_SPAN_VOLTS:
            raise CalibrationError(
                f"{names[0]} and {names[1]} are less than {_MIN_SPAN_VOLTS} V apart; is the probe connected?"
            )
        self._save(probe, {f"{name}_volts": values[name] for name in names})
        return {f"{name}_volts": round(values[name], 4) for name in names} | {"point": point}
