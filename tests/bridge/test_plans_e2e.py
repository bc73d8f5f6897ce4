"""Watering plans of each type on a real bridge, with nobody but the node: set, persisted, run, reported."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

from pi_bridge.relays import read_level

from .helpers import BridgeProcess, Recorder, wait_until, write_config

TZ = "Asia/Kathmandu"  # UTC+05:45: a time of day only fires right if the node's zone is used
PUMPS = [
    {"key": "pump", "pin": 17, "max_runtime": 30, "flow_ml_per_min": 6000},
    {"key": "p2", "pin": 27, "max_runtime": 30, "flow_ml_per_min": 6000},
    {"key": "p3", "pin": 22, "max_runtime": 30, "flow_ml_per_min": 6000},
]
REPORT_KEYS = {"plan", "plan_type", "pump", "reason", "start", "duration", "volume_ml", "requested_ml",
               "moisture_before", "moisture_after", "water_level_before", "water_level_after", "outcome", "message"}


def reports(rec: Recorder, plan: str) -> list[dict]:
    return [m["data"] for m in rec.payloads("event") if m["type"] == "watering_report" and m["data"]["plan"] == plan]


async def test_each_plan_type_runs_on_the_node_and_reports(mosquitto, tmp_path):
    config = write_config(tmp_path / "bridge.yaml", timezone=TZ, pumps=PUMPS)
    state = tmp_path / "state"
    fire_at = time.time() + 18  # after the first run and the restart, even on a loaded machine
    local = dt.datetime.fromtimestamp(fire_at, ZoneInfo(TZ)).strftime("%H:%M:%S")
    with BridgeProcess(config, "pi-9", mosquitto.port, interval=0.2) as bridge:
        async with Recorder(mosquitto.port) as rec:
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            ack = await rec.command("pi-9", "set_plan", "b1", cmd_id="b",
                                    type="basic", pump="pump", volume_ml=50, settle_seconds=0.3)
            assert ack["ok"], ack
            basic = (await rec.wait_for("event", lambda m: m["type"] == "watering_report", timeout=10))["data"]
            assert (await rec.command("pi-9", "set_plan", "m1", cmd_id="m", type="moisture", pump="p2",
                                      volume_ml=100, threshold_pct=99, check_interval=0.5, min_pause=3600,
                                      settle_seconds=0.3))["ok"]
            assert (await rec.command("pi-9", "set_plan", "t1", cmd_id="t", type="time_based", pump="p3",
                                      volume_ml=30, times=[local], settle_seconds=0.3))["ok"]
            moisture = (await rec.wait_for("event", lambda m: m["type"] == "watering_report"
                                          and m["data"]["plan"] == "m1", timeout=10))["data"]
            discovery = await rec.wait_for("config")
            # The integration's shape: slots in discovery, the plans as run in every state.
            reported = await rec.wait_for("state", lambda m: len(m.get("plans", {})) == 6)
            bad = await rec.command("pi-9", "set_plan", "x1", cmd_id="x", type="time_based", volume_ml=5,
                                    times=["25:00"])
            assert bad["ok"] is False and bad["code"] == "invalid_plan" and "HH:MM" in bad["message"]
            assert time.time() < fire_at - 3, "too slow: t1 would fire before the restart"
        bridge.stop()

    # basic: 50 ml at 6 l/min is 0.5 s of pumping.
    assert basic.keys() >= REPORT_KEYS
    assert basic["outcome"] == "ok" and basic["plan_type"] == "basic" and basic["pump"] == "pump"
    assert 0.4 < basic["duration"] < 1.0 and 40 <= basic["volume_ml"] <= 100
    assert basic["water_level_after"] < basic["water_level_before"]
    assert moisture["outcome"] == "ok" and "below 99" in moisture["reason"]
    assert [(p["key"], p["pump"]) for p in discovery["plans"]] == [("plan", "pump"), ("p2_plan", "p2"),
                                                                    ("p3_plan", "p3")]
    assert discovery["plans"][0]["max_volume_ml"] == 3000  # 6 l/min for at most 30 s
    assert reported["plans"]["plan"] == {"type": "off"}
    assert reported["plans"]["m1"] == {"type": "moisture", "volume_ml": 100, "threshold": 99, "check_interval": 0.5,
                                    "min_pause": 3600}
    assert reported["plans"]["t1"]["times"] == [local[:5]]

    # The broker goes away (HA with it) and the bridge restarts: plans come from disk and still run.
    mosquitto.stop()
    with BridgeProcess(config, "pi-9", mosquitto.port, interval=0.2) as bridge:
        await wait_until(lambda: read_level(state, 22) is True, max(2.0, fire_at - time.time() + 8), "t1 watering")
        await wait_until(lambda: read_level(state, 22) is False, 5, "t1 done")
        await wait_until(lambda: "plan t1: ok" in bridge.log(), 5, "t1 report")
        mosquitto.start()
        async with Recorder(mosquitto.port) as rec:
            # The report taken offline is replayed from the outbox once the bridge reconnects (its backoff
            # after ~20 s without a broker can reach half a minute).
            timed = await rec.wait_for("event", lambda m: m["type"] == "watering_report"
                                       and m["data"]["plan"] == "t1", timeout=70)
            assert not reports(rec, "m1"), "min_pause survives a restart: no second moisture run"
    fired = timed["data"]["start"]
    assert abs(fired - fire_at) < 1.5, f"time_based ran at {fired}, planned {fire_at} ({local} {TZ})"
    assert timed["data"]["outcome"] == "ok"
    assert timed["data"]["reason"] == f"time of day {local} +0545"
