"""Calibration by command on a real bridge: measured on the node, acknowledged, reported, kept across restarts."""

from __future__ import annotations

from ..helpers import BridgeProcess, Recorder, write_config


async def test_calibrate_by_command_and_survive_a_restart(mosquitto, tmp_path):
    config = write_config(tmp_path / "bridge.yaml")
    async with Recorder(mosquitto.port) as rec:
        with BridgeProcess(config, "pi-11", mosquitto.port, interval=0.3) as bridge:
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            # The simulated tank reads ~1400 uS/cm: taking it for the 707 ppm (1414 uS/cm) standard gives K ~ 1.
            ack = await rec.command("pi-11", "calibrate", "tds", cmd_id="k", standard_ppm=707)
            assert ack["ok"], ack
            assert 0.8 < ack["result"]["k_value"] < 1.25
            event = await rec.wait_for("event", lambda m: m["type"] == "calibration")
            assert event["data"]["probe"] == "tds" and event["data"]["ok"] is True
            # The next sample reads through the new K (the state sent with the ack still has the last sample).
            after = await rec.wait_for(
                "state",
                lambda m: m["health"].get("last_calibration") is not None and abs(m["readings"]["tds"] - 707) < 15,
            )

            # A standard that would need K = 0.05 is refused with the reason; the stored K stays.
            refused = await rec.command("pi-11", "calibrate", "tds", cmd_id="bad", standard_ppm=30)
            assert refused["ok"] is False and refused["code"] == "calibration_rejected"
            assert "outside 0.25..4" in refused["message"]
            bad_event = await rec.wait_for("event", lambda m: m["type"] == "calibration" and not m["data"]["ok"])
            assert "outside 0.25..4" in bad_event["data"]["message"]
            # Unknown probes and bad buffers get clear acks too.
            assert (await rec.command("pi-11", "calibrate", "lux", cmd_id="u"))["code"] == "unknown_probe"
            ph = await rec.command("pi-11", "calibrate", "ph", cmd_id="p", buffer=5)
            assert ph["code"] == "calibration_rejected" and "4, 7 or 10" in ph["message"]
            bridge.stop()
        rec.messages.clear()
        with BridgeProcess(config, "pi-11", mosquitto.port, interval=0.3):
            state = await rec.wait_for("state", lambda m: m["health"].get("last_calibration") is not None)
            assert state["health"]["last_calibration"] == after["health"]["last_calibration"]
            assert abs(state["readings"]["tds"] - 707) < 15
