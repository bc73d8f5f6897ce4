"""Pump safety on a real bridge process: deadline without a broker, clipping, dry-run stop."""

from __future__ import annotations

import time

from pi_bridge.relays import read_level

from ..helpers import BridgeProcess, Recorder, wait_until, write_config


async def test_deadline_holds_with_the_broker_killed_mid_run(mosquitto, tmp_path):
    config = write_config(tmp_path / "bridge.yaml", pumps=[{"key": "pump", "pin": 17, "max_runtime": 2.0}])
    state = tmp_path / "state"
    with BridgeProcess(config, "pi-3", mosquitto.port):
        async with Recorder(mosquitto.port) as rec:
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            ack = await rec.command("pi-3", "pump_on", "pump", duration=600)
            started = time.monotonic()
        # Asked for 600 s; the pump's max runtime is 2 s and the ack says it was clipped.
        assert ack["ok"] is True
        assert ack["result"] == {"duration": 2.0, "clipped": True, "requested": 600}
        assert "clipped" in ack["message"]
        assert read_level(state, 17) is True
        mosquitto.kill()  # the broker is gone; only the bridge's own timer can stop the pump now
        await wait_until(lambda: read_level(state, 17) is False, 6, "pump off after its deadline")
        ran = time.monotonic() - started
        assert 1.5 < ran < 3.5, ran


async def test_dry_run_protection_stops_and_refuses(mosquitto, tmp_path):
    # The simulated reservoir starts at ~90 %; 6 l/min drains it 5 %/s, so a 85 % low mark trips quickly.
    config = write_config(
        tmp_path / "bridge.yaml",
        water_low_pct=85.0,
        pumps=[{"key": "pump", "pin": 17, "max_runtime": 60, "flow_ml_per_min": 6000}],
    )
    with BridgeProcess(config, "pi-4", mosquitto.port, interval=0.2):
        async with Recorder(mosquitto.port) as rec:
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            ack = await rec.command("pi-4", "pump_on", "pump", duration=30)
            assert ack["ok"] is True
            stop = await rec.wait_for("event", lambda m: m["type"] == "safety_stop", timeout=10)
            assert stop["data"]["reason"] == "water_low"
            assert stop["data"]["water_level"] < 85.0
            stopped = await rec.wait_for("event", lambda m: m["type"] == "pump_stopped")
            assert stopped["data"]["reason"] == "water_low"
            assert read_level(tmp_path / "state", 17) is False
            # And now it refuses to start at all, saying why.
            refused = await rec.command("pi-4", "pump_on", "pump", cmd_id="c2", duration=5)
            assert refused["ok"] is False
            assert refused["code"] == "water_low"
            assert "not started" in refused["message"]
            assert read_level(tmp_path / "state", 17) is False
