"""Probe conversions: ADC volts to physical values, and calibration.

Formulas follow DESIGN.md (DFRobot TDS, Nernst pH, two-point moisture and level).
Each function is pure so it can be checked against hand-computed values.
"""

from __future__ import annotations

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


def ph_from_mv(millivolts: float, temperature_c: float = 25.0, offset_mv: float = 0.0,
               slope_fraction: float = 1.0) -> float:
    """pH from electrode millivolts: 0 mV (+offset) is pH 7, acid reads positive."""
    return 7.0 - (millivolts - offset_mv) / (nernst_slope_mv(temperature_c) * slope_fraction)


def percent_between(volts: float, zero_volts: float, full_volts: float) -> float:
    """Linear position of ``volts`` from ``zero_volts`` (0 %) to ``full_volts`` (100 %), clamped."""
    span = full_volts - zero_volts
    if span == 0:
        raise ValueError("calibration points must differ")
    return min(100.0, max(0.0, (volts - zero_volts) / span * 100.0))
