"""A ``full`` sync is the station's snapshot (issue #17 item 14): slots it leaves out do not
keep an earlier sync's power bank and battery, in the database nor in the retained state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devtools.gateway_sim import full_payload
from devtools.mosquitto import Mosquitto
from hydro_fleet_protocol import State
from hydro_fleet_receiver.publisher import MqttSettings

from .conftest import running
from .mqtt_helpers import Collector

pytestmark = pytest.mark.usefixtures("backend")

STATE = "hydro_fleet/station-ps001/state"


def _bank(serial: str, slot: int | None, battery: int) -> dict[str, Any]:
    return {
        "serial_number": serial,
        "slot_number": slot,
        "battery_level": battery,
        "status": "AVAILABLE",
        "hardware_info": {"temperature": 25.0, "voltage": 4.1, "current": 0.5},
    }


def _first() -> dict[str, Any]:
    """Built when the test runs: the receiver refuses a timestamp over 300 s old."""
    return full_payload(
        "PS001",
        [
            {"slot_number": 1, "status": "OCCUPIED", "battery_level": 80, "power_bank_serial": "PB-1"},
            {"slot_number": 2, "status": "OCCUPIED", "battery_level": 60, "power_bank_serial": "PB-2"},
            {"slot_number": 3, "status": "OCCUPIED", "battery_level": 40, "power_bank_serial": "PB-3"},
        ],
        [_bank("PB-1", 1, 80), _bank("PB-2", 2, 60), _bank("PB-3", 3, 40)],
        4,
        timestamp=None,
    )


# Slot 1 listed, slot 2 left out, slot 3 left out but named by a listed bank, slot 4 never reported.
def _second() -> dict[str, Any]:
    return full_payload(
        "PS001",
        [{"slot_number": 1, "status": "OCCUPIED", "battery_level": 81, "power_bank_serial": "PB-1"}],
        [_bank("PB-1", 1, 81), _bank("PB-3", 3, 41)],
        4,
        timestamp=None,
    )


async def test_left_out_slots_are_unknown_not_stale(mosquitto: Mosquitto, tmp_path: Path) -> None:
    mqtt = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    async with Collector(mosquitto) as live, running(tmp_path, mqtt=mqtt) as h:
        first, second = _first(), _second()
        assert (await h.post(first)).status == 200
        await live.wait_for(lambda: live.on(STATE), what="first state")
        assert (await h.post(second, ts=int(first["timestamp"]) + 1)).status == 200
        await live.wait_for(lambda: len(live.on(STATE)) == 2, what="second state")
        readings = State.parse(live.on(STATE)[-1].payload).readings
        with h.db() as db:
            rows = db.execute("SELECT slot_number, status, power_bank, battery FROM slots")
            slots = {r[0]: tuple(r)[1:] for r in rows}
            banks = {r[0]: tuple(r)[1:] for r in db.execute("SELECT serial, station, slot_number FROM power_banks")}

    assert (readings["slot_1_status"], readings["slot_1_power_bank"], readings["slot_1_battery"]) == (
        "occupied",
        "PB-1",
        81,
    )
    # Left out: unknown, not the 60 % bank PB-2 of the first sync.
    for key in ("status", "power_bank", "battery", "temperature", "voltage", "current"):
        assert readings[f"slot_2_{key}"] is None, key
        assert readings[f"slot_4_{key}"] is None, key
    # Left out of ``slots`` but placed by a listed bank: occupied by it.
    assert (readings["slot_3_status"], readings["slot_3_power_bank"], readings["slot_3_battery"]) == (
        "occupied",
        "PB-3",
        41,
    )
    assert readings["slot_3_voltage"] == 4.1
    assert slots == {1: ("occupied", "PB-1", 81), 3: ("occupied", "PB-3", 41)}
    # PB-2 is no longer placed in the station; the others are where the snapshot says.
    assert banks == {"PB-1": ("PS001", 1), "PB-2": (None, None), "PB-3": ("PS001", 3)}
