"""Duplicates beyond a second Pi: a cloned SD card (same node id and same machine id) is
detected and one bridge stops, with an event; and a bridge that was a silent duplicate
never backfills what it sampled while another machine owned the node id."""

from __future__ import annotations

import asyncio
import signal
import time

from pi_bridge.identity import app_specific_id

from ..helpers import BridgeProcess, Recorder, wait_until, write_config

A, B = "a" * 32, "b" * 32


def kinds(rec: Recorder, since: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic, _ in rec.messages[since:]:
        kind = topic.rsplit("/", 1)[1]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


async def test_cloned_card_one_bridge_stops_with_an_event(mosquitto, tmp_path):
    # One machine id for both (a cloned card, or two bridges on one host); each its own state dir.
    (tmp_path / "machine-id").write_text(A + "\n")
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = write_config(tmp_path / "one" / "bridge.yaml", machine_id_file=str(tmp_path / "machine-id"))
    two = write_config(tmp_path / "two" / "bridge.yaml", machine_id_file=str(tmp_path / "machine-id"))
    async with Recorder(mosquitto.port, "hydro_fleet/pi-15/#") as rec:
        with BridgeProcess(one, "pi-15", mosquitto.port, interval=0.5) as first:
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            await asyncio.sleep(11)  # the first one is well established when its clone comes
            with BridgeProcess(two, "pi-15", mosquitto.port, interval=0.5) as clone:
                event = await rec.wait_for("event", lambda m: m["type"] == "duplicate_node", timeout=20)
                assert event["data"]["machine_id"] == event["data"]["other_machine_id"] == app_specific_id(A)
                assert "same machine id" in event["data"]["message"]
                # From now on the node is stable: no more takeovers, no config or availability churn.
                settled = len(rec.messages)
                await asyncio.sleep(8)
                churn = kinds(rec, settled)
                assert churn.get("config", 0) == 0 and churn.get("availability", 0) == 0, churn
                assert churn.get("state", 0) >= 8, churn  # one bridge keeps publishing
                # Exactly one stopped, and says so; neither crashed.
                silent = [b for b in (first, clone) if "stays silent" in b.log()]
                assert len(silent) == 1, [b.log()[-2000:] for b in (first, clone)]
                assert first.process.poll() is None and clone.process.poll() is None
                assert rec.payloads("availability")[-1] == {"raw": "online"}


async def test_former_duplicate_sends_nothing_it_sampled_while_silent(mosquitto, tmp_path):
    for name, machine in (("a", A), ("b", B)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "machine-id").write_text(machine + "\n")
    first = write_config(tmp_path / "a" / "bridge.yaml")
    second = write_config(tmp_path / "b" / "bridge.yaml")
    id_b = app_specific_id(B)
    async with Recorder(mosquitto.port, "hydro_fleet/pi-16/#") as rec:
        with BridgeProcess(first, "pi-16", mosquitto.port, interval=0.2) as original:
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            second_started = time.time()
            with BridgeProcess(second, "pi-16", mosquitto.port, interval=0.2):
                await rec.wait_for("event", lambda m: m["type"] == "duplicate_node", timeout=15)
                await asyncio.sleep(2)  # the duplicate samples ~10 times while silent
                handed_over = time.time()
                original.stop(signal.SIGTERM)  # a clean exit: offline at once
                await rec.wait_for("config", lambda m: m.get("machine_id") == id_b, timeout=40)
                await wait_until(lambda: len([m for m in rec.payloads("state") if m["ts"] > handed_over]) > 5, 10, "")
    # What the second bridge sampled while the first one had the node id is not sent (the first one's
    # own backfill, from before it connected, and what the second sampled once the id was free may be).
    backfilled = [s for m in rec.payloads("backfill") for s in m["samples"]]
    silent = [s for s in backfilled if second_started <= s["ts"] < handed_over]
    assert not silent, f"{len(silent)} samples of a machine that did not own the node id were backfilled"
