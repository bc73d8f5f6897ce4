"""Plan slots, scheduling and outcomes in-process: set_plan checks, persistence, time zones and DST,
low water, safety stops."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from devtools.bridges import build_in_process, build_offline
from hydro_fleet_protocol import Command, CommandAction, Plan, PlanConfig, PlanType
from pi_bridge.health import cpu_temperature, wifi_rssi
from pi_bridge.plans import PlanRejected, next_time_of_day, plan_slots
from pi_bridge.settings import PumpSettings

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
    wireless.write_text(
        "Inter-| sta-|   Quality        |\n face | tus | link level noise |\n"
        " wlan0: 0000   52.  -58.  -256        0      0      0      0     12        0\n"
    )
    assert wifi_rssi(wireless) == -58.0
    assert wifi_rssi(tmp_path / "missing") is None
    thermal = tmp_path / "temp"
    thermal.write_text("48312\n")
    assert cpu_temperature(thermal) == 48.3


def outbox_events(bridge) -> list[dict]:
    return [json.loads(payload) for _, _, payload in bridge.queue.messages(1000)]


async def run_plan(socket_enabled, tmp_path, low_pct: float, params: dict) -> list[dict]:
    # No broker at this port: the node is on its own, and its events wait in the outbox.
    bridge = build_offline(
        tmp_path,
        sample_interval=0.1,
        water_low_pct=low_pct,
        plan_settle_seconds=0,
        pumps=[{"key": "pump", "pin": 17, "max_runtime": 20, "flow_ml_per_min": 6000}],
    )
    task = asyncio.get_running_loop().create_task(bridge.run())
    try:
        await asyncio.sleep(0.3)
        bridge.plans.set_plan("plan", params)
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
    events = await run_plan(socket_enabled, tmp_path, 95.0, {"type": "basic", "volume_ml": 100, "check_interval": 1})
    report = next(e["data"] for e in events if e["type"] == "watering_report")
    assert report["outcome"] == "skipped_low_water"
    assert report["volume_ml"] == 0.0 and report["duration"] == 0.0
    assert "low" in report["message"]
    assert not [e for e in events if e["type"] == "pump_started"]


async def test_plan_stopped_by_safety(socket_enabled, tmp_path):
    # ~90 % at the start; 6 l/min drains 5 %/s, so the 88 % mark trips within the 10 s (1000 ml) run.
    events = await run_plan(socket_enabled, tmp_path, 88.0, {"type": "basic", "volume_ml": 1000, "check_interval": 1})
    report = next(e["data"] for e in events if e["type"] == "watering_report")
    assert report["outcome"] == "stopped_safety"
    assert 0 < report["volume_ml"] < 1000
    assert report["water_level_after"] < report["water_level_before"]
    assert any(e["type"] == "safety_stop" for e in events)


def close(bridge) -> None:
    bridge.pumps.close()
    bridge.queue.close()


def test_one_slot_per_pump_with_the_volume_the_pump_can_deliver():
    single = plan_slots([PumpSettings(key="pump", max_runtime=30, flow_ml_per_min=600)])
    assert single == (PlanConfig("plan", pump="pump", max_volume_ml=300.0),)
    several = plan_slots(
        [
            PumpSettings(key="a", name="Tomatoes", max_runtime=10, flow_ml_per_min=60),
            PumpSettings(key="b", max_plan_volume_ml=40),
        ]
    )
    assert several == (
        PlanConfig("a_plan", pump="a", name="Tomatoes plan", max_volume_ml=10.0),
        PlanConfig("b_plan", pump="b", name="Pump plan", max_volume_ml=40.0),
    )


def test_set_plan_acks_the_plan_and_refuses_what_the_slot_cannot_run(tmp_path):
    bridge = build_in_process(tmp_path)  # one pump: 30 s at 600 ml/min, so at most 300 ml
    try:
        assert bridge.discovery().plans == (PlanConfig("plan", pump="pump", max_volume_ml=300.0),)
        # Nothing runs until HA sets a plan, but the numbers start from defaults (volume capped at 300 ml).
        initial = Plan(type=PlanType.OFF, volume_ml=250, threshold=30, check_interval=3600, min_pause=14400)
        assert bridge.state_now().plans == {"plan": initial}

        def set_plan(target, **params):
            return bridge.commands.execute(Command("c", CommandAction.SET_PLAN, target, params))

        ack = set_plan("plan", type="moisture", volume_ml=250, threshold=35, check_interval=600)
        assert ack.ok, ack
        plan = Plan(type=PlanType.MOISTURE, volume_ml=250, threshold=35, check_interval=600)
        assert ack.result == {"plan": plan.to_dict()}
        assert bridge.state_now().plans == {"plan": plan}

        refused = {
            "invalid_plan": set_plan("plan", type="moisture", volume_ml=250, check_interval=600),
            "volume_too_large": set_plan("plan", type="basic", volume_ml=301, check_interval=60),
            "unknown_plan": set_plan("p9", type="off"),
        }
        for code, ack in refused.items():
            assert not ack.ok and ack.code == code, ack
        assert "needs 'threshold'" in refused["invalid_plan"].message
        assert "max_volume_ml 300" in refused["volume_too_large"].message
        assert bridge.state_now().plans == {"plan": plan}, "a refused plan changes nothing"
        with pytest.raises(PlanRejected, match=r"'params.times\[0\]' must be a time of day"):
            bridge.plans.set_plan("plan", {"type": "time_based", "volume_ml": 5, "times": ["7pm"]})

        # Off clears the slot (nothing runs) but keeps the fields HA sent, for switching it on again.
        assert set_plan("plan", type="off", volume_ml=250, threshold=35).ok
        assert bridge.plans.next_run("plan", bridge.plans.plans["plan"], 0.0) is None
        assert bridge.state_now().plans["plan"].type is PlanType.OFF
    finally:
        close(bridge)


def test_plans_survive_a_restart_and_the_old_format_is_dropped_with_one_line(tmp_path, caplog):
    (tmp_path / "plans.json").write_text(json.dumps({"plans": {"b1": {"type": "basic", "volume_ml": 5}}}))
    bridge = build_in_process(tmp_path)
    try:
        assert bridge.plans.reported() == {"plan": Plan(type=PlanType.OFF).with_defaults(300.0)}
        assert [r.message for r in caplog.records if "old plans.json" in r.message] == [
            "ignoring 1 plan(s) stored in the old plans.json format; set them again from Home Assistant"
        ]
        bridge.plans.set_plan("plan", {"type": "time_based", "volume_ml": 80, "times": ["19:30", "07:00"]})
    finally:
        close(bridge)
    caplog.clear()
    again = build_in_process(tmp_path)
    try:
        assert again.plans.reported() == {
            "plan": Plan(type=PlanType.TIME_BASED, volume_ml=80, times=("07:00", "19:30"))
        }
        assert not [r for r in caplog.records if "old plans.json" in r.message], "said once, not at every start"
    finally:
        close(again)


def test_basic_waters_every_interval_and_not_twice_after_a_restart(tmp_path):
    bridge = build_in_process(tmp_path)
    try:
        runner = bridge.plans
        started: list[str] = []
        runner._track = lambda key, coro: (started.append(key), coro.close())  # count runs, water nothing
        runner.set_plan("plan", {"type": "basic", "volume_ml": 50, "check_interval": 3600})
        set_at = runner.runs["plan"]["set_at"]
        runner.tick(set_at + 3599)
        assert started == []
        runner.tick(set_at + 3600)
        assert started == ["plan"]
        last_run = runner.runs["plan"]["last_run"]
    finally:
        close(bridge)
    # A crash right after the pump started: last_run was stored first, so no second run until an interval later.
    again = build_in_process(tmp_path)
    try:
        runner = again.plans
        started = []
        runner._track = lambda key, coro: (started.append(key), coro.close())
        runner.tick(last_run + 10)
        assert started == []
        runner.tick(last_run + 3600)
        assert started == ["plan"]
    finally:
        close(again)


def test_time_based_plans_fire_at_the_nodes_wall_clock(tmp_path):
    bridge = build_in_process(tmp_path, timezone="Asia/Kathmandu")
    try:
        runner = bridge.plans
        started: list[str] = []
        runner._track = lambda key, coro: (started.append(key), coro.close())
        runner.set_plan("plan", {"type": "time_based", "volume_ml": 50, "times": ["07:00"]})
        kathmandu = ZoneInfo("Asia/Kathmandu")
        seven = dt.datetime(2030, 1, 2, 7, 0, tzinfo=kathmandu).timestamp()
        runner._next_fire.clear()
        runner.runs["plan"].pop("last_run", None)
        runner.tick(seven - 60)  # schedules 07:00 local (01:15 UTC)
        runner.tick(seven - 1)
        assert started == []
        runner.tick(seven)
        assert started == ["plan"]
        runner.tick(seven + 1)
        assert started == ["plan"], "once per time of day"
        assert runner._next_fire["plan"] == seven + 86400
    finally:
        close(bridge)
