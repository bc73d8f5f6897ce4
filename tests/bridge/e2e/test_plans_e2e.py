"""Watering plans of each type on a real bridge over a real broker: set by command, acked, reported in
state, persisted, run with nobody but the node (broker and HA gone), reported again on reconnect."""

from __future__ import annotations

import datetime as dt
import math
import time
from zoneinfo import ZoneInfo

from pi_bridge.relays import read_level

from ..helpers import BridgeProcess, Recorder, wait_until, write_config

TZ = "Asia/Kathmandu"  # UTC+05:45: a time of day only fires right if the node's zone is used
PUMPS = [
    {"key": "pump", "pin": 17, "max_runtime": 30, "flow_ml_per_min": 6000},
    {"key": "p2", "pin": 27, "max_runtime": 30, "flow_ml_per_min": 6000},
    {"key": "p3", "pin": 22, "max_runtime": 30, "flow_ml_per_min": 6000},
]
REPORT_KEYS = {
    "plan",
    "plan_type",
    "pump",
    "reason",
    "start",
    "duration",
    "volume_ml",
    "requested_ml",
    "moisture_before",
    "moisture_after",
    "water_level_before",
    "water_level_after",
    "outcome",
    "message",
}
BASIC = {"type": "basic", "volume_ml": 20.0, "check_interval": 4.0}
MOISTURE = {"type": "moisture", "volume_ml": 100.0, "threshold": 99.0, "check_interval": 1.0, "min_pause": 3600.0}


def reports(rec: Recorder, plan: str) -> list[dict]:
    return [m["data"] for m in rec.payloads("event") if m["type"] == "watering_report" and m["data"]["plan"] == plan]


async def test_each_plan_type_is_set_persisted_run_offline_and_reported(mosquitto, tmp_path):
    config = write_config(tmp_path / "bridge.yaml", timezone=TZ, pumps=PUMPS, plan_settle_seconds=0.3)
    state = tmp_path / "state"
    # Times of day are whole minutes: the next one at least 30 s away leaves time to set the plans and restart.
    fire_at = math.ceil((time.time() + 30) / 60) * 60
    local = dt.datetime.fromtimestamp(fire_at, ZoneInfo(TZ)).strftime("%H:%M")
    timed_plan = {"type": "time_based", "volume_ml": 30.0, "times": [local]}
    with BridgeProcess(config, "pi-9", mosquitto.port, interval=0.2) as bridge:
        async with Recorder(mosquitto.port) as rec:
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            discovery = await rec.wait_for("config")
            assert discovery["plans"] == [
                {"key": f"{p}_plan", "pump": p, "name": "Pump plan", "max_volume_ml": 3000.0}
                for p in ("pump", "p2", "p3")
            ]
            first = await rec.wait_for("state")
            # Nothing runs yet; each slot reports default numbers to start from.
            defaults = {"volume_ml": 250.0, "threshold": 30.0, "check_interval": 3600.0, "min_pause": 14400.0}
            assert first["plans"] == {f"{p}_plan": {"type": "off", **defaults} for p in ("pump", "p2", "p3")}

            ack = await rec.command("pi-9", "set_plan", "pump_plan", cmd_id="b", **BASIC)
            assert ack["ok"] and ack["result"] == {"plan": BASIC}, ack
            # The state sent before the ack already shows the plan.
            assert rec.payloads("state")[-1]["plans"]["pump_plan"] == BASIC
            assert (await rec.command("pi-9", "set_plan", "p2_plan", cmd_id="m", **MOISTURE))["ok"]
            assert (await rec.command("pi-9", "set_plan", "p3_plan", cmd_id="t", **timed_plan))["ok"]

            bad = await rec.command(
                "pi-9", "set_plan", "p3_plan", cmd_id="x", type="time_based", volume_ml=5, times=["25:00"]
            )
            assert bad["ok"] is False and bad["code"] == "invalid_plan" and "25:00" in bad["message"]
            big = await rec.command(
                "pi-9", "set_plan", "p3_plan", cmd_id="y", type="basic", volume_ml=3001, check_interval=60
            )
            assert big["ok"] is False and big["code"] == "volume_too_large", big
            missing = await rec.command("pi-9", "set_plan", "p4_plan", cmd_id="z", type="off")
            assert missing["ok"] is False and missing["code"] == "unknown_plan", missing

            moisture = (
                await rec.wait_for(
                    "event", lambda m: m["type"] == "watering_report" and m["data"]["plan"] == "p2_plan", timeout=10
                )
            )["data"]
            basic = (
                await rec.wait_for(
                    "event", lambda m: m["type"] == "watering_report" and m["data"]["plan"] == "pump_plan", timeout=15
                )
            )["data"]
            latest = await rec.wait_for("state", lambda m: m["plans"]["p3_plan"] == timed_plan)
            assert latest["plans"] == {"pump_plan": BASIC, "p2_plan": MOISTURE, "p3_plan": timed_plan}
        assert bridge.stop() == 0

    # basic: 20 ml at 6 l/min is 0.2 s of pumping.
    assert basic.keys() >= REPORT_KEYS
    assert basic["outcome"] == "ok" and basic["plan_type"] == "basic" and basic["pump"] == "pump"
    assert 0.1 < basic["duration"] < 0.8 and 10 <= basic["volume_ml"] <= 60
    assert basic["water_level_after"] < basic["water_level_before"]
    assert moisture["outcome"] == "ok" and "below 99" in moisture["reason"] and moisture["pump"] == "p2"

    # The broker goes away (HA with it) and the bridge restarts: plans come from disk and still run.
    mosquitto.stop()
    assert time.time() < fire_at - 5, "the test took too long to reach the restart before the time of day"
    with BridgeProcess(config, "pi-9", mosquitto.port, interval=0.2) as bridge:
        basic_runs = bridge.log().count("plan pump_plan: ok")
        await wait_until(lambda: read_level(state, 22) is True, fire_at - time.time() + 10, "p3_plan watering")
        await wait_until(lambda: read_level(state, 22) is False, 5, "p3_plan done")
        await wait_until(lambda: "plan p3_plan: ok" in bridge.log(), 5, "p3_plan report")
        await wait_until(lambda: bridge.log().count("plan pump_plan: ok") > basic_runs, 10, "basic runs offline")
        mosquitto.start()
        async with Recorder(mosquitto.port) as rec:
            # The reports taken offline are replayed from the outbox once the bridge's reconnect backoff
            # (doubling up to 60 s while the broker was away) lets it in.
            timed = await rec.wait_for(
                "event", lambda m: m["type"] == "watering_report" and m["data"]["plan"] == "p3_plan", timeout=90
            )
            await rec.wait_for(
                "event", lambda m: m["type"] == "watering_report" and m["data"]["plan"] == "pump_plan", timeout=20
            )
            after = await rec.wait_for("state", timeout=20)
            assert after["plans"] == {"pump_plan": BASIC, "p2_plan": MOISTURE, "p3_plan": timed_plan}
            assert not reports(rec, "p2_plan"), "min_pause survives a restart: no second moisture run"
    fired = timed["data"]["start"]
    assert abs(fired - fire_at) < 1.5, f"time_based ran at {fired}, planned {fire_at} ({local} {TZ})"
    assert timed["data"]["outcome"] == "ok"
    assert timed["data"]["reason"] == f"time of day {local} +0545"
