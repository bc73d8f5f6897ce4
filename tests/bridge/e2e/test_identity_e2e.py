"""Two Pis with one node id: the second one reports the clash instead of publishing over the first."""

from __future__ import annotations

from pi_bridge.identity import app_specific_id

from ..helpers import BridgeProcess, Recorder, wait_until, write_config

A, B = "a" * 32, "b" * 32


async def test_duplicate_node_id_is_reported_not_merged(mosquitto, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "machine-id").write_text(A + "\n")
    (tmp_path / "b" / "machine-id").write_text(B + "\n")
    id_a, id_b = app_specific_id(A), app_specific_id(B)
    first = write_config(tmp_path / "a" / "bridge.yaml")
    second = write_config(tmp_path / "b" / "bridge.yaml")
    async with Recorder(mosquitto.port) as rec:
        with BridgeProcess(first, "pi-7", mosquitto.port, interval=0.5):
            await rec.wait_for("config", lambda m: m.get("machine_id") == id_a)
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            with BridgeProcess(second, "pi-7", mosquitto.port, interval=0.5) as dup:
                event = await rec.wait_for("event", lambda m: m["type"] == "duplicate_node", timeout=15)
                assert event["data"]["machine_id"] == id_b
                assert event["data"]["other_machine_id"] == id_a
                await wait_until(lambda: "already used by machine" in dup.log(), 5, "a clear log line")
            # The first node kept its identity: no config from the second machine was ever published.
            assert all(m["machine_id"] == id_a for m in rec.payloads("config"))
            # The duplicate's exit did not mark the original offline (it connected without a last will).
            states_before = len(rec.payloads("state"))
            await wait_until(lambda: len(rec.payloads("state")) > states_before + 2, 5, "original still live")
            assert rec.payloads("availability")[-1] == {"raw": "online"}
