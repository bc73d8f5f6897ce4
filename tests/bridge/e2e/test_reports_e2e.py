"""A plan's watering report survives a SIGKILL of the bridge: in the settle time after the pump
stopped, and while the pump runs. The run is stored before the pump starts and reported after
the restart with what the node knew."""

from __future__ import annotations

import json
import signal

from pi_bridge.relays import read_level

from ..helpers import BridgeProcess, Recorder, write_config

# 100 ml at 6 l/min is a 1 s run; a check interval of 1 s starts it a second after the plan is set.
PUMP = {"key": "pump", "pin": 17, "max_runtime": 30, "flow_ml_per_min": 6000}
PLAN = {"type": "basic", "volume_ml": 100.0, "check_interval": 1.0}


def reports(rec: Recorder) -> list[dict]:
    return [m["data"] for m in rec.payloads("event") if m["type"] == "watering_report"]


async def run_and_kill(mosquitto, tmp_path, node_id: str, *, in_settle: bool, pump: dict = PUMP) -> tuple[dict, dict]:
    """Start a plan's run, SIGKILL the bridge (after the pump stopped, or while it runs), restart it;
    returns (the pump_started event of the killed run, the report the restarted bridge sent for it)."""
    config = write_config(tmp_path / "bridge.yaml", pumps=[pump], plan_settle_seconds=30)
    async with Recorder(mosquitto.port, f"hydro_fleet/{node_id}/#") as rec:
        with BridgeProcess(config, node_id, mosquitto.port, interval=0.5) as bridge:
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            assert (await rec.command(node_id, "set_plan", "plan", **PLAN))["ok"]
            started = await rec.wait_for("event", lambda m: m["type"] == "pump_started", timeout=20)
            if in_settle:
                await rec.wait_for("event", lambda m: m["type"] == "pump_stopped", timeout=10)
            else:
                assert read_level(tmp_path / "state", 17) is True
            bridge.stop(signal.SIGKILL)
        assert not reports(rec), "the killed bridge cannot have reported the run"
        with BridgeProcess(config, node_id, mosquitto.port, interval=0.5):
            report = await rec.wait_for("event", lambda m: m["type"] == "watering_report", timeout=20)
            # Reported once: once its report is out the stored run is gone (a pending run now is a new one).
            plans = json.loads((tmp_path / "state" / "plans.json").read_text())
            assert plans["runs"]["plan"].get("pending", {}).get("start") != report["data"]["start"]
    return started, report["data"]


async def test_report_of_a_run_killed_in_the_settle_time(mosquitto, tmp_path):
    started, report = await run_and_kill(mosquitto, tmp_path, "pi-13", in_settle=True)
    assert report["plan"] == "plan" and report["pump"] == "pump"
    assert report["start"] <= started["ts"]
    assert report["outcome"] == "ok"
    assert 0.5 < report["duration"] < 2.0 and report["volume_ml"] > 50
    assert report["moisture_before"] is not None
    assert report["moisture_after"] is None  # never read: the bridge died before it
    assert "restarted before the readings after the run" in report["message"]


async def test_report_of_a_run_killed_while_the_pump_ran(mosquitto, tmp_path):
    slow = PUMP | {"flow_ml_per_min": 600}  # 100 ml is then a 10 s run
    started, report = await run_and_kill(mosquitto, tmp_path, "pi-14", in_settle=False, pump=slow)
    assert report["start"] <= started["ts"]
    assert report["outcome"] == "failed"
    assert report["duration"] is None and report["volume_ml"] is None  # the guard stopped it; when is not known
    assert "restarted while the pump ran" in report["message"]
