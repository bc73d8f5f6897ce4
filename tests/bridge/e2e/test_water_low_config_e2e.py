"""The node's one water-low rule (issue #17 item 3) on a real bridge over a real broker: its
decision in every state (``water_low``), and the threshold HA sends with ``set_config``
becoming the node's own, with its hysteresis, announced in its retained config."""

from __future__ import annotations

from ..helpers import BridgeProcess, Recorder, write_config

PUMPS = [{"key": "pump", "pin": 17, "max_runtime": 30, "flow_ml_per_min": 600}]


async def test_set_config_moves_the_nodes_threshold_and_its_state_says_the_decision(mosquitto, tmp_path):
    # The simulated reservoir starts at ~90 % and barely moves with this slow pump.
    config = write_config(tmp_path / "bridge.yaml", water_low_pct=5.0, pumps=PUMPS)
    with BridgeProcess(config, "pi-5", mosquitto.port, interval=0.2):
        async with Recorder(mosquitto.port) as rec:
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            assert (await rec.wait_for("config"))["extra"]["water_low_pct"] == 5.0
            state = await rec.wait_for("state")
            assert state["water_low"] is False and state["readings"]["water_level"] > 80

            # HA's threshold goes to the node as configuration.
            ack = await rec.command("pi-5", "set_config", cmd_id="s1", water_low_pct=95)
            assert ack["ok"] is True and ack["result"] == {"water_low_pct": 95.0}
            # The state sent before the ack already carries the node's new decision...
            acked_at = next(i for i, (t, _) in enumerate(rec.messages) if t.endswith("/ack"))
            before_ack = [m for t, m in rec.messages[:acked_at] if t.endswith("/state")]
            assert b'"water_low":true' in before_ack[-1].replace(b" ", b"")
            # ...its retained config announces the setting...
            await rec.wait_for("config", lambda m: m["extra"]["water_low_pct"] == 95.0)
            # ...and it is the rule the node waters by.
            refused = await rec.command("pi-5", "pump_on", "pump", cmd_id="p1", duration=5)
            assert refused["ok"] is False and refused["code"] == "water_low"
            assert "limit 95 %" in refused["message"]

            # Back to 5 %: ~90 % is 2 points above it, so the latch lets go and pumps run.
            ack = await rec.command("pi-5", "set_config", cmd_id="s2", water_low_pct=5)
            assert ack["ok"] is True
            started = await rec.command("pi-5", "pump_on", "pump", cmd_id="p2", duration=1)
            assert started["ok"] is True
            assert (await rec.wait_for("state", lambda m: m["seq"] > state["seq"] and m["pumps"]["pump"]["on"]))[
                "water_low"
            ] is False

            # Nonsense is refused, naming what set_config takes, and changes nothing.
            for cmd_id, params in (("b1", {"water_low_pct": True}), ("b2", {"water_low_pct": 150}), ("b3", {"x": 1})):
                bad = await rec.command("pi-5", "set_config", cmd_id=cmd_id, **params)
                assert bad["ok"] is False and bad["code"] == "invalid_config", bad
                assert "water_low_pct" in bad["message"]
            configs = rec.payloads("config")
            assert configs[-1]["extra"]["water_low_pct"] == 5.0
