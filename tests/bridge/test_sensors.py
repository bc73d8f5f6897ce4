"""Probes through the real ADS1115 driver on a fake bus: channels, gains, smoothing, faults, calibration."""

from __future__ import annotations

from gpiozero import Device
from gpiozero.pins.mock import MockFactory
import pytest

from pi_bridge.adc import Ads1115Source
from pi_bridge.calibration import CalibrationStore
from pi_bridge.config import validate
from pi_bridge.probes import CalibrationError
from pi_bridge.sensors import FloatSwitch, SensorArray
from pi_bridge.settings import ProbeSettings

from .fake_i2c import FakeAdsBus

SETTINGS = validate(
    ProbeSettings,
    {
        "tds": {"channel": 0, "gain": 1},
        "ph": {"channel": 1, "gain": 2},
        "moisture": {"channel": 0, "address": 0x49, "gain": 1},
        "water_level": {"mode": "analog", "channel": 3, "gain": 1},
        "water_temperature": {"source": "fixed", "value": 25.0},
        "median_of": 5,
    },
)


def array(bus: FakeAdsBus, tmp_path, settings: ProbeSettings = SETTINGS) -> SensorArray:
    store = CalibrationStore(tmp_path, settings)
    return SensorArray(settings, Ads1115Source(settings, i2c=bus), store, lambda: 25.0)


def test_readings_through_the_driver(tmp_path):
    bus = FakeAdsBus({(0x48, 0): 1.0, (0x48, 1): 1.5 - 0.05916, (0x49, 0): 2.0, (0x48, 3): 1.6})
    snap = array(bus, tmp_path).read()
    # ADS1115 quantisation at gain 1 is 125 uV, so values are hand values to within that.
    assert snap.readings["ec"] == pytest.approx(734.95, abs=0.2)
    assert snap.readings["tds"] == pytest.approx(367.48, abs=0.1)
    assert snap.readings["ph"] == pytest.approx(8.0, abs=0.01)
    assert snap.readings["moisture"] == pytest.approx(50.0, abs=0.02)
    assert snap.readings["water_level"] == pytest.approx(50.0, abs=0.02)
    assert snap.problems == {}
    # Each probe used its own converter, channel and gain (pH at gain 2: +-2.048 V).
    assert {(a, c, fs) for a, c, fs in bus.conversions} == {
        (0x48, 0, 4.096),
        (0x48, 1, 2.048),
        (0x49, 0, 4.096),
        (0x48, 3, 4.096),
    }
    assert snap.status()["probe_ph"] == "ok"


def test_median_rejects_a_spike(tmp_path):
    bus = FakeAdsBus({(0x48, 0): 1.0, (0x48, 1): 1.5, (0x49, 0): 2.0, (0x48, 3): 1.6})
    sensors = array(bus, tmp_path)
    values = iter([2.0, 2.0, 0.1, 2.0, 2.0])  # one conversion hit by a pump switching

    class Spiky:
        def voltage(self, probe: str) -> float:
            return next(values)

    sensors.source = Spiky()
    assert sensors.volts("moisture") == 2.0


def test_faulty_probes_are_problems_not_numbers(tmp_path):
    # pH wire off (0 V), moisture converter missing from the bus, TDS saturating the range, level fine.
    bus = FakeAdsBus({(0x48, 0): 5.0, (0x48, 1): 0.0, (0x48, 3): 1.6})
    snap = array(bus, tmp_path).read()
    assert snap.readings["ph"] is None and snap.problems["ph"] == "disconnected"
    assert snap.readings["moisture"] is None and snap.problems["moisture"] == "unavailable"
    assert snap.readings["tds"] is None and snap.problems["tds"] == "saturated"
    assert snap.problems["ec"] == "saturated"
    assert snap.readings["water_level"] == pytest.approx(50.0, abs=0.02)
    assert snap.status()["probe_moisture"] == "unavailable"


def test_out_of_physical_range_is_a_problem(tmp_path):
    # 1.5 V on a pH board calibrated so that this is far below pH 0.
    bus = FakeAdsBus({(0x48, 0): 1.0, (0x48, 1): 2.0, (0x49, 0): 2.0, (0x48, 3): 1.6})
    snap = array(bus, tmp_path).read()
    assert snap.readings["ph"] is None
    assert snap.problems["ph"] == "out_of_range"


def test_calibration_is_stored_and_survives_a_restart(tmp_path):
    bus = FakeAdsBus({(0x48, 0): 1.0, (0x48, 1): 1.5, (0x49, 0): 2.0, (0x48, 3): 1.6})
    sensors = array(bus, tmp_path)
    store = sensors.calibration
    result = store.calibrate("tds", {"standard_ppm": 707}, sensors.volts("tds"), 25.0)
    assert result["k_value"] == pytest.approx(1.9239, abs=1e-3)
    # pH: 7 then 4 then 10 buffers, each measured by the probe.
    store.calibrate("ph", {"buffer": 7, "restart": True}, 1.5, 25.0)
    store.calibrate("ph", {"buffer": 4}, 1.670, 25.0)
    result = store.calibrate("ph", {"buffer": 10}, 1.325, 25.0)
    assert result["points"] == 3 and result["slope_pct_acid"] == pytest.approx(95.79, abs=0.01)
    with pytest.raises(CalibrationError, match="of Nernst"):
        store.calibrate("ph", {"buffer": 10}, 1.45, 25.0)  # a bad point is rejected, the good ones kept
    store.calibrate("moisture", {"point": "dry"}, 2.9, 25.0)
    store.calibrate("moisture", {"point": "wet"}, 1.1, 25.0)
    with pytest.raises(CalibrationError, match=r"less than 0\.1 V apart"):
        store.calibrate("water_level", {"point": "full"}, 0.25, 25.0)

    again = array(bus, tmp_path)  # a new process reading the stored file
    current = again.calibration.current
    assert current.k_value == pytest.approx(1.9239, abs=1e-3)
    assert current.ph.slope_pct() == [pytest.approx(95.79, abs=0.01), pytest.approx(98.6, abs=0.01)]
    assert (current.dry_volts, current.wet_volts) == (2.9, 1.1)
    assert again.read().readings["tds"] == pytest.approx(707.0, abs=0.5)
    assert again.calibration.last_calibration is not None


def test_bad_calibration_params_are_explained(tmp_path):
    store = CalibrationStore(tmp_path, SETTINGS)
    with pytest.raises(CalibrationError, match="buffer must be 4, 7 or 10"):
        store.calibrate("ph", {"buffer": 5}, 1.5, 25.0)
    with pytest.raises(CalibrationError, match="standard_ppm"):
        store.calibrate("tds", {"standard_ppm": "lots"}, 1.0, 25.0)
    with pytest.raises(CalibrationError, match="'dry' or 'wet'"):
        store.calibrate("moisture", {}, 1.0, 25.0)


def test_float_switch_low_and_ok(tmp_path):
    Device.pin_factory = MockFactory()
    try:
        switch = FloatSwitch(27, low_when_closed=True)
        pin = Device.pin_factory.pin(27)
        pin.drive_high()  # open: pulled up
        assert switch.is_low() is False
        pin.drive_low()  # closed to ground: the float dropped
        assert switch.is_low() is True
        switch.close()
    finally:
        Device.pin_factory.close()
        Device.pin_factory = None
