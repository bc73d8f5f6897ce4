"""Conversions and calibration against the published formulas and hand-computed values."""

from __future__ import annotations

import pytest

from pi_bridge import probes
from pi_bridge.probes import CalibrationError, PhCalibration, k_from_standard
from pi_bridge.temperature import parse_w1_slave


def test_dfrobot_tds_at_hand_computed_points():
    # 133.42 - 255.86 + 857.39 = 734.95 uS/cm at 1.000 V, K = 1, 25 degC; TDS = EC25 * 0.5.
    assert probes.ec_from_voltage(1.0, 25.0) == pytest.approx(734.95)
    assert probes.tds_from_ec(734.95) == pytest.approx(367.475)
    # Temperature compensation: EC25 = EC / (1 + 0.02 (T - 25)); at 30 degC divide by 1.1.
    assert probes.ec_from_voltage(1.0, 30.0) == pytest.approx(668.13636, rel=1e-6)
    # K scales linearly: K = 1.5 at 2.0 V: (1067.36 - 1023.44 + 1714.78) * 1.5 = 2637.63... hand value below.
    assert probes.ec_from_voltage(2.0, 25.0, 1.5) == pytest.approx((133.42 * 8 - 255.86 * 4 + 857.39 * 2) * 1.5)
    assert probes.voltage_for_ec(734.95, 25.0) == pytest.approx(1.0, abs=1e-9)


def test_k_from_the_707_ppm_standard():
    # 707 ppm is 1414 uS/cm; at 1.000 V and 25 degC the raw reading is 734.95, so K = 1414 / 734.95.
    assert k_from_standard(1.0, 25.0) == pytest.approx(1.923940404)
    # At 20 degC the standard reads lower; K includes the compensation: 1414 * 0.9 / 734.95.
    assert k_from_standard(1.0, 20.0) == pytest.approx(1.731546364)


@pytest.mark.parametrize("volts", [0.2, 3.5])
def test_k_outside_quarter_to_four_is_rejected(volts):
    # 0.2 V: raw 162.311 -> K 8.71; 3.5 V: raw 5590.6 -> K 0.253... both outside or at the edge of 0.25..4.
    if volts == 3.5:
        assert k_from_standard(volts, 25.0) == pytest.approx(1414 / (133.42 * 42.875 - 255.86 * 12.25 + 857.39 * 3.5))
        with pytest.raises(CalibrationError, match=r"outside 0.25..4"):
            k_from_standard(volts, 25.0, standard_ppm=300)
    else:
        with pytest.raises(CalibrationError, match=r"K would be 8\.71"):
            k_from_standard(volts, 25.0)
    with pytest.raises(CalibrationError, match="no conductivity"):
        k_from_standard(0.0, 25.0)


def test_ph_two_point_calibration():
    # pH 7 at 1.500 V, pH 4 at 1.6775 V: 59.1667 mV/pH, 100.01 % of Nernst (59.16 at 25 degC).
    cal = PhCalibration({7.0: 1.5, 4.0: 1.6775})
    assert cal.slope_pct() == [pytest.approx(100.01, abs=0.01)]
    assert cal.ph(1.5) == pytest.approx(7.0)
    assert cal.ph(1.5 - 0.1183) == pytest.approx(8.99944, abs=1e-4)
    assert cal.offset_mv(1.5) == pytest.approx(0.0)


def test_ph_three_point_calibration_is_piecewise():
    # Acid side (4-7): (1.500 - 1.670) / 3 = -56.667 mV/pH = 95.79 %; base side (7-10): -58.333 mV/pH = 98.60 %.
    cal = PhCalibration({4.0: 1.670, 7.0: 1.500, 10.0: 1.325})
    assert cal.slope_pct() == [pytest.approx(95.785, abs=0.01), pytest.approx(98.603, abs=0.01)]
    assert cal.ph(1.6) == pytest.approx(4 + (1.6 - 1.670) / (-0.17 / 3))  # 5.23529
    assert cal.ph(1.6) == pytest.approx(5.23529, abs=1e-4)
    assert cal.ph(1.4) == pytest.approx(8.71429, abs=1e-4)
    # At 35 degC the electrode's slope is 308.15 / 298.15 steeper: deviations from pH 7 shrink by that.
    assert cal.ph(1.4, 35.0) == pytest.approx(7 + 1.714286 * 298.15 / 308.15, abs=1e-4)


def test_ph_offset_and_ideal_board():
    ideal = PhCalibration.ideal(1.5)
    assert ideal.ph(1.5 - 0.05916) == pytest.approx(8.0)
    shifted = PhCalibration({7.0: 1.52})  # one point: offset only, Nernst slope
    assert shifted.offset_mv(1.5) == pytest.approx(20.0)
    assert shifted.ph(1.52) == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ({4.0: 1.62, 7.0: 1.5}, r"67\.6 % of Nernst, outside 80..105 %"),
        ({7.0: 1.5, 10.0: 1.31}, r"107\.1 % of Nernst"),
        ({4.0: 1.3, 7.0: 1.5}, r"-112\.7 % of Nernst"),
    ],
)
def test_ph_slope_outside_80_to_105_percent_is_rejected(points, message):
    with pytest.raises(CalibrationError, match=message):
        PhCalibration(points)


def test_moisture_and_level_percent():
    assert probes.percent_between(2.0, 2.8, 1.2) == pytest.approx(50.0)
    assert probes.percent_between(2.4, 2.8, 1.2) == pytest.approx(25.0)
    assert probes.percent_between(3.0, 2.8, 1.2) == 0.0  # drier than the dry point: clamped
    assert probes.percent_between(1.6, 0.2, 3.0) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="must differ"):
        probes.percent_between(1.0, 1.0, 1.0)


def test_ds18b20_sysfs_parsing():
    ok = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
    assert parse_w1_slave(ok) == 23.125
    assert parse_w1_slave(ok.replace("t=23125", "t=-1250")) == -1.25
    from pi_bridge.adc import ProbeFault

    with pytest.raises(ProbeFault, match="CRC"):
        parse_w1_slave(ok.replace("YES", "NO"))
    with pytest.raises(ProbeFault, match="power-on"):
        parse_w1_slave(ok.replace("t=23125", "t=85000"))


def test_queue_cap_drops_oldest_with_one_warning(tmp_path, caplog):
    from hydro_fleet_protocol import Sample
    from pi_bridge.buffer import SampleQueue

    drops: list[int] = []
    queue = SampleQueue(tmp_path / "q.sqlite3", max_rows=100, max_days=1, on_drop=drops.append)
    for seq in range(150):
        queue.put(Sample(ts=1_800_000_000 + seq, seq=seq, readings={"ph": 6.0}))
    assert len(queue) == 100
    ids, samples = queue.peek(1000)
    assert [s.seq for s in samples] == list(range(50, 150))  # oldest dropped first
    assert drops == [1]  # first drop reported; the rest are summed into the next (per-minute) warning
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1
    queue.delete(ids[:10])
    assert len(queue) == 90
    old = Sample(ts=1_800_000_000 - 3 * 86400, seq=1, readings={})
    queue._age_checked = 0.0
    queue.put(old)  # older than max_days: dropped by age at the next check
    queue.close()


def test_queue_survives_a_failing_disk(tmp_path, caplog):
    from hydro_fleet_protocol import Sample
    from pi_bridge.buffer import SampleQueue

    queue = SampleQueue(tmp_path / "q.sqlite3", max_rows=100, max_days=1)
    queue.close()  # stands in for an SD card that stopped taking writes
    assert queue.put(Sample(ts=1.0, seq=1, readings={})) is False
    assert queue.put(Sample(ts=2.0, seq=2, readings={})) is False
    queue.put_message("t", b"x")
    assert queue.lost == 3
    assert len([r for r in caplog.records if "cannot be written" in r.getMessage()]) == 1


def test_ds18b20_found_on_the_1wire_bus(tmp_path):
    from pi_bridge.adc import ProbeFault
    from pi_bridge.settings import TemperatureProbe
    from pi_bridge.temperature import TemperatureReader

    reader = TemperatureReader(TemperatureProbe(source="ds18b20", sysfs_root=tmp_path))
    with pytest.raises(ProbeFault, match="no DS18B20"):
        reader.read()
    device = tmp_path / "28-0123456789ab"
    device.mkdir()
    (device / "w1_slave").write_text("aa 01 4b 46 7f ff 0c 10 1c : crc=1c YES\naa 01 4b 46 7f ff 0c 10 1c t=26625\n")
    assert reader.read() == 26.625
    assert TemperatureReader(TemperatureProbe(source="fixed", value=19.5)).read() == 19.5


def test_queue_hands_out_oldest_first_by_time_not_insertion(tmp_path):
    from hydro_fleet_protocol import Sample
    from pi_bridge.buffer import SampleQueue

    queue = SampleQueue(tmp_path / "q.sqlite3", max_rows=100, max_days=1)
    # A sample whose live publish failed is queued after later ones; two samples may share a millisecond.
    for ts, seq in ((10.0, 3), (10.0, 2), (9.0, 1), (11.0, 4)):
        queue.put(Sample(ts=1_800_000_000 + ts, seq=seq, readings={}))
    _, samples = queue.peek(10)
    assert [s.seq for s in samples] == [1, 2, 3, 4]
    queue.close()
