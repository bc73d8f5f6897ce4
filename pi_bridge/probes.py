"""Probe conversions: ADC volts to physical values, and calibration.

Formulas follow DESIGN.md (DFRobot TDS, Nernst pH, two-point moisture and level).
Each function is pure so it can be checked against hand-computed values.
"""

from __future__ import annotations

import itertools

NERNST_MV_PER_PH_25C = 59.16
ZERO_CELSIUS_K = 273.15


def ec_from_voltage(volts: float, temperature_c: float, k_value: float = 1.0) -> float:
    """Electrical conductivity at 25 degC in uS/cm from the TDS board's voltage."""
    raw = (133.42 * volts**3 - 255.86 * volts**2 + 857.39 * volts) * k_value
    return raw / (1.0 + 0.02 * (temperature_c - 25.0))


def tds_from_ec(ec25_us_cm: float) -> float:
    """TDS in ppm (mg/l) from EC25, with the 0.5 conversion factor."""
    return ec25_us_cm * 0.5


def voltage_for_ec(ec25_us_cm: float, temperature_c: float, k_value: float = 1.0) -> float:
    """The board voltage that reads as ``ec25_us_cm`` (inverse of ec_from_voltage).

    The polynomial is monotonic on the ADS1115's 0..4.096 V range, so bisection is exact
    enough; used by the simulator and by K calibration.
    """
    low, high = 0.0, 4.096
    for _ in range(60):
        mid = (low + high) / 2
        if ec_from_voltage(mid, temperature_c, k_value) < ec25_us_cm:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def nernst_slope_mv(temperature_c: float) -> float:
    """Ideal electrode slope in mV per pH unit at ``temperature_c``."""
    return NERNST_MV_PER_PH_25C * (temperature_c + ZERO_CELSIUS_K) / (25.0 + ZERO_CELSIUS_K)


def ph_from_mv(
    millivolts: float, temperature_c: float = 25.0, offset_mv: float = 0.0, slope_fraction: float = 1.0
) -> float:
    """pH from electrode millivolts: 0 mV (+offset) is pH 7, acid reads positive."""
    return 7.0 - (millivolts - offset_mv) / (nernst_slope_mv(temperature_c) * slope_fraction)


def percent_between(volts: float, zero_volts: float, full_volts: float) -> float:
    """Linear position of ``volts`` from ``zero_volts`` (0 %) to ``full_volts`` (100 %), clamped."""
    span = full_volts - zero_volts
    if span == 0:
        raise ValueError("calibration points must differ")
    return min(100.0, max(0.0, (volts - zero_volts) / span * 100.0))


# --- calibration maths ---------------------------------------------------------------

K_VALUE_RANGE = (0.25, 4.0)
PH_SLOPE_PCT_RANGE = (80.0, 105.0)
TDS_FACTOR = 0.5


class CalibrationError(ValueError):
    """A calibration that must not be used; the message says why in plain words."""


def ec_raw(volts: float) -> float:
    """The DFRobot polynomial (uS/cm at K = 1, before temperature compensation)."""
    return 133.42 * volts**3 - 255.86 * volts**2 + 857.39 * volts


def k_from_standard(volts: float, temperature_c: float, standard_ppm: float = 707.0) -> float:
    """K so that ``volts`` at ``temperature_c`` reads as the standard solution.

    The standard is given in ppm (TDS, factor 0.5): 707 ppm is 1414 uS/cm at 25 degC.
    """
    raw = ec_raw(volts)
    if raw <= 0:
        raise CalibrationError(f"probe reads {volts:.3f} V, which is no conductivity; is it in the solution?")
    ec25 = standard_ppm / TDS_FACTOR
    k = ec25 * (1.0 + 0.02 * (temperature_c - 25.0)) / raw
    low, high = K_VALUE_RANGE
    if not low <= k <= high:
        raise CalibrationError(
            f"K would be {k:.3f}, outside {low}..{high}: wrong standard, a dirty probe or a bad connection"
        )
    return k


def _kelvin_ratio(temperature_c: float, reference_c: float) -> float:
    return (temperature_c + ZERO_CELSIUS_K) / (reference_c + ZERO_CELSIUS_K)


class PhCalibration:
    """pH from board volts through 1, 2 or 3 buffer points (4/7/10), piecewise linear.

    With 3 points the acid side uses the 4-7 slope and the alkaline side the 7-10 slope
    (electrodes are rarely symmetric). Slopes scale with absolute temperature (Nernst),
    from the temperature the buffers were measured at. One point only corrects the
    offset and keeps the ideal slope.
    """

    def __init__(self, points: dict[float, float], temperature_c: float = 25.0) -> None:
        if not points:
            raise CalibrationError("a pH calibration needs at least one buffer point")
        self.points = dict(sorted(points.items()))
        self.temperature_c = temperature_c
        buffers = list(self.points)
        ideal = -nernst_slope_mv(temperature_c) / 1000.0  # volts per pH, negative
        if len(buffers) == 1:
            self.slopes = [ideal]
        else:
            self.slopes = [(self.points[b] - self.points[a]) / (b - a) for a, b in itertools.pairwise(buffers)]
        for slope, (a, b) in zip(self.slopes, itertools.pairwise(buffers), strict=False):
            pct = -slope * 1000.0 / nernst_slope_mv(temperature_c) * 100.0
            low, high = PH_SLOPE_PCT_RANGE
            if not low <= pct <= high:
                raise CalibrationError(
                    f"slope between pH {a:g} and {b:g} is {pct:.1f} % of Nernst, outside {low:g}..{high:g} %: "
                    "old electrode, wrong buffer or the probe was not rinsed"
                )

    @classmethod
    def ideal(cls, zero_volts: float) -> PhCalibration:
        """The uncalibrated board: pH 7 at ``zero_volts`` and the Nernst slope."""
        return cls({7.0: zero_volts})

    def _segment(self, volts: float) -> tuple[float, float, float]:
        """(reference pH, reference volts, slope) of the segment ``volts`` falls in."""
        buffers = list(self.points)
        if len(buffers) == 1:
            return buffers[0], self.points[buffers[0]], self.slopes[0]
        # Volts fall as pH rises; pick the segment whose pH interval holds the reading.
        for index, (a, b) in enumerate(itertools.pairwise(buffers)):
            last = index == len(buffers) - 2
            if volts >= self.points[b] or last:
                return a, self.points[a], self.slopes[index]
        raise AssertionError("unreachable")

    def ph(self, volts: float, temperature_c: float = 25.0) -> float:
        ref_ph, ref_volts, slope = self._segment(volts)
        at_calibration_temperature = ref_ph + (volts - ref_volts) / slope
        # The electrode's mV per pH grows with absolute temperature around pH 7 (isopotential point).
        return 7.0 + (at_calibration_temperature - 7.0) / _kelvin_ratio(temperature_c, self.temperature_c)

    def slope_pct(self) -> list[float]:
        nernst = nernst_slope_mv(self.temperature_c)
        return [round(-s * 1000.0 / nernst * 100.0, 2) for s in self.slopes]

    def volts_at(self, ph: float) -> float:
        """Board volts at ``ph`` at the calibration temperature (inverse of ``ph``)."""
        buffers = list(self.points)
        index = 0
        for i, b in enumerate(buffers[1:-1], start=1):
            if ph >= b:
                index = i
        ref = buffers[min(index, len(buffers) - 1)]
        return self.points[ref] + (ph - ref) * self.slopes[min(index, len(self.slopes) - 1)]

    def offset_mv(self, zero_volts: float) -> float:
        """How far pH 7 sits from the board's nominal zero, in mV."""
        return (self.volts_at(7.0) - zero_volts) * 1000.0
