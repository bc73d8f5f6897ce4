"""Offline buffer: a broker outage loses no sample, and a SIGKILL loses nothing queued."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3

from ..helpers import BridgeProcess, Recorder, queued_samples, sample_seqs, wait_until, write_config

# 100 samples per second: 6 s of outage is 600 samples, ten minutes of a node sampling at 1 Hz.
INTERVAL = 0.01
OUTAGE_SAMPLES = 600


async def test_outage_loses_nothing_and_backfills_in_order(socket_enabled, tmp_path):
    from devtools.mosquitto import Mosquitto

    # The test's own subscriber keeps a persistent session across the broker restart, so what it did not
    # see is what the bridge did not deliver (not what the test missed while reconnecting).
    work = tmp_path / "mq"
    broker = Mosquitto(workdir=work, extra_config=f"persistence true\npersistence_location {work}/\nuser root")
    broker.start()
    config = write_config(tmp_path / "bridge.yaml", buffer={"batch_size": 200})
    bridge = BridgeProcess(config, "pi-6", broker.port, interval=INTERVAL)
    session = {"identifier": "outage-test", "clean_session": False}
    try:
        with bridge:
            async with Recorder(broker.port, **session) as rec:
                await rec.wait_for("state", lambda m: True)
            # The recorder leaves first (its session keeps collecting), then the broker stops (SIGTERM: it
            # saves that session) and the bridge loses its connection.
            broker.stop()
            db = tmp_path / "state" / "queue.sqlite3"
            await wait_until(lambda: queued_samples(db) >= OUTAGE_SAMPLES, 60, f"{OUTAGE_SAMPLES} samples queued", 0.1)
            broker.start()
            async with Recorder(broker.port, **session) as rec2:
                await wait_until(lambda: queued_samples(db) == 0, 60, "queue drained", 0.1)
                await asyncio.sleep(0.5)
                after = [m["seq"] for m in rec2.payloads("state")]
                await wait_until(
                    lambda: len([m for m in rec2.payloads("state")]) > len(after) + 20,
                    10,
                    "live samples after the drain",
                )
            bridge.stop()
        live1, back1 = sample_seqs(rec)
        live2, back2 = sample_seqs(rec2)
        # QoS 1 is at-least-once: a batch in flight when the broker stopped is redelivered to the session.
        backfilled = list(dict.fromkeys(back1 + back2))
        assert len(backfilled) >= OUTAGE_SAMPLES
        # Oldest first, across batches.
        batches = [[s["seq"] for s in m["samples"]] for m in rec.payloads("backfill") + rec2.payloads("backfill")]
        assert backfilled == sorted(backfilled), [(b[0], b[-1], len(b)) for b in batches]
        # Zero lost: every seq from the first to the last sample the bridge took arrived, live or backfilled.
        seen = set(live1) | set(live2) | set(backfilled)
        first, last = min(seen), max(live2)
        missing = sorted(set(range(first, last + 1)) - seen)
        assert not missing, f"{len(missing)} samples lost, e.g. {missing[:10]}"
        # Each batch respects the protocol's size limit.
        assert all(len(m["samples"]) <= 200 for m in rec2.payloads("backfill"))
    finally:
        broker.stop()


async def test_sigkill_while_buffering_loses_nothing_queued(mosquitto, tmp_path):
    config = write_config(tmp_path / "bridge.yaml")
    db = tmp_path / "state" / "queue.sqlite3"
    port = mosquitto.port
    mosquitto.stop()
    with BridgeProcess(config, "pi-8", port, interval=0.02) as bridge:
        await wait_until(lambda: queued_samples(db) >= 100, 30, "100 samples queued", 0.05)
        bridge.stop(signal.SIGKILL)
    with sqlite3.connect(db) as conn:
        queued = [row[0] for row in conn.execute("SELECT seq FROM samples ORDER BY ts")]
    assert len(queued) >= 100
    mosquitto.start()
    async with Recorder(port) as rec:
        with BridgeProcess(config, "pi-8", port, interval=1.0):
            await wait_until(
                lambda: {s["seq"] for m in rec.payloads("backfill") for s in m["samples"]} >= set(queued),
                20,
                "every queued sample backfilled",
            )
    backfilled = [s["seq"] for m in rec.payloads("backfill") for s in m["samples"]]
    assert backfilled[: len(queued)] == queued
    assert json.loads(json.dumps(rec.payloads("backfill")[0]))["v"] == 1
