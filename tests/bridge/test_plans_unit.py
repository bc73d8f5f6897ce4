"""Plan scheduling and outcomes in-process: time zones and DST, low water, safety stops."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from devtools.mosquitto import free_port
from pi_bridge.cli import _build
from pi_bridge.config import load_config
from pi_bridge.health import cpu_temperature, wifi_rssi
from pi_bridge.plans import next_time_of_day

BERLIN = ZoneInfo("Europe/Berlin")


def test_time_of_day_in_the_nodes_zone_across_dst():
    # 2026-03-29: Berlin springs forward at 02:00 -> 03:00. 07:00 that day is 05:00 UTC, the day before 06:00 UTC.
    before = dt.datetime(2026, 3, 28, 8, 0, tzinfo=BERLIN).timestamp()
    first = next_time_of_day(("07:00",), before, BERLIN)
    assert dt.datetime.fromtimestamp(first, dt.UTC) == dt.datetime(2026, 3, 29, 5, 0, tzinfo=dt.UTC)
    second = next_time_of_day(("07:00",), first, BERLIN)
    assert dt.datetime.fromtimestamp(second, dt.UTC) == dt.datetime(2026, 3, 30, 5, 0, tzinfo=dt.UTC)
    # Several times a day: the next one strictly after now.
    noon = dt.datetime(2026, 6, 1, 12, 0, tzinfo=BERLIN).timestamp()
    nxt = next_time_of_day(("07:00", "19:30", "12:00"), noon, BERLIN)
    assert dt.datetime.fromtimestamp(nxt, BERLIN).strftime("%H:%M") == "19:30"


def test_health_readers(tmp_path):
    wireless = tmp_path / "wireless"
    wireless.write_text("Inter-| sta-|   Quality        |\n face | tus | link level noise |\n"
                        " wlan0: 0000   52.  -58.  -256        0      0      0      0     12        0\n")
    assert wifi_rssi(wireless) == -58.0
    assert wifi_rssi(tmp_path / "missing") is None
    thermal = tmp_path / "temp"
    thermal.write_text("48312\n")
    assert cpu_temperature(thermal) == 48.3


def outbox_events(bridge) -> list[dict]:
    return [json.loads(payload) for _, _, payload in bridge.queue.messages(1000)]


async def run_plan(socket_enabled, tmp_path, low_pct: float, params: dict) -> list[dict]:
    # No broker at this port: the node is on its own, and its events wait in the outbox.
    config = load_config(None, {"simulate": True, "node_id": "pi-1", "broker.host": "127.0.0.1",
                                "broker.port": free_port(), "sample_interval": 0.1, "state_dir": str(tmp_path),
                                "machine_id_file": str(tmp_path / "mid"), "water_low_pct": low_pct,
                                "pumps": [{"key": "pump", "pin": 17, "max_runtime": 20, "flow_ml_per_min": 6000}]})
    bridge = _build(config, tmp_path)
    task = asyncio.get_running_loop().create_task(bridge.run())
    try:
        await asyncio.sleep(0.3)
        bridge.plans.set_plan("p", params)
        for _ in range(200):
            reports = [e for e in outbox_events(bridge) if e["type"] == "watering_report"]
            if reports:
                return outbox_events(bridge)
            await asyncio.sleep(0.05)
        raise AssertionError("no watering report")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_plan_skipped_for_low_water(socket_enabled, tmp_path):
    events = await run_plan(socket_enabled, tmp_path, 95.0, {"type": "basic", "volume_ml": 100, "settle_seconds": 0})
    report = next(e["data"] for e in events if e["type"] == "watering_report")
    assert report["outcome"] == "skipped_low_water"
    assert report["volume_ml"] == 0.0 and report["duration"] == 0.0
    assert "low" in report["message"]
    assert not [e for e in events if e["type"] == "pump_started"]


async def test_plan_stopped_by_safety(socket_enabled, tmp_path):
    # ~90 % at the start; 6 l/min drains 5 %/s, so the 88 % mark trips within the 10 s (1000 ml) run.
    events = await run_plan(socket_enabled, tmp_path, 88.0,
                            {"type": "basic", "volume_ml": 1000, "settle_seconds": 0})
    report = next(e["data"] for e in events if e["type"] == "watering_report")
    assert report["outcome"] == "stopped_safety"
    assert 0 < report["volume_ml"] < 1000
    assert report["water_level_after"] < report["water_level_before"]
    assert any(e["type"] == "safety_stop" for e in events)


def test_set_plan_rejects_unknown_pump(tmp_path):
    config = load_config(None, {"simulate": True, "node_id": "pi-1", "state_dir": str(tmp_path),
                                "machine_id_file": str(tmp_path / "mid")})
    bridge = _build(config, tmp_path)
    try:
        from hydro_fleet_protocol import ProtocolError

        with pytest.raises(ProtocolError, match="no pump 'p9'"):
            bridge.plans.set_plan("x", {"type": "basic", "volume_ml": 5, "pump": "p9"})
        with pytest.raises(KeyError):
            bridge.plans.set_plan("x", {"delete": True})
    finally:
        bridge.pumps.close()
        bridge.queue.close()
