"""Only real samples are measurements: a status report is never queued as one, and no sample
goes out twice (live and in the backfill) when the bridge starts or reconnects."""

from __future__ import annotations

import asyncio
import json

from devtools.bridges import build_offline
from devtools.mosquitto import Mosquitto
from hydro_fleet_protocol import State

from ..helpers import BridgeProcess, Recorder, queued_samples, sample_seqs, wait_until, write_config


async def test_a_pump_stop_offline_queues_no_fake_sample(socket_enabled, tmp_path):
    # No broker at the bridge's port: it is unreachable for the whole run.
    bridge = build_offline(tmp_path, sample_interval=30, pumps=[{"key": "pump", "pin": 17, "max_runtime": 60}])
    real: list[State] = []
    take_sample = bridge.sample

    async def recorded() -> State:
        state = await take_sample()
        real.append(state)
        return state

    bridge.sample = recorded
    task = asyncio.get_running_loop().create_task(bridge.run())
    try:
        await wait_until(lambda: len(real) == 1 and len(bridge.queue) == 1, 10, "the first sample queued")
        pump = bridge.pumps["pump"]
        stopped = pump.stopped()
        pump.start(0.3, reason="test")
        await stopped
        await asyncio.sleep(0.3)
        _, queued = bridge.queue.peek(100)
        events = [json.loads(payload)["type"] for _, _, payload in bridge.queue.messages(100)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # The one sample the probes gave is the only one queued; the pump's start and stop are events.
    assert [(s.ts, s.seq) for s in queued] == [(s.ts, s.seq) for s in real]
    assert events == ["pump_started", "pump_stopped"]


async def test_no_sample_is_sent_twice_on_start_and_reconnect(socket_enabled, tmp_path):
    # A persistent session on a persistent broker: the recorder sees everything the bridge
    # published, also while the recorder itself was reconnecting.
    work = tmp_path / "mq"
    broker = Mosquitto(workdir=work, extra_config=f"persistence true\npersistence_location {work}/\nuser root")
    broker.start()
    session = {"identifier": "twice-test", "clean_session": False}
    async with Recorder(broker.port, **session):
        pass
    broker.stop()
    db = tmp_path / "state" / "queue.sqlite3"
    config = write_config(tmp_path / "bridge.yaml")
    try:
        with BridgeProcess(config, "pi-12", broker.port, interval=0.3):
            recorders = []
            for outage in ("start", "reconnect"):
                # The bridge samples into its queue while the broker is away, then connects.
                await wait_until(lambda: queued_samples(db) >= 3, 30, f"samples queued ({outage})", 0.05)
                broker.start()
                async with Recorder(broker.port, **session) as rec:
                    await wait_until(
                        lambda r=rec: queued_samples(db) == 0 and len(r.payloads("state")) >= 3, 30, "drained"
                    )
                    await asyncio.sleep(0.5)
                recorders.append(rec)
                broker.stop()
        for outage, rec in zip(("start", "reconnect"), recorders, strict=True):
            live, backfilled = sample_seqs(rec)
            assert backfilled, outage
            twice = sorted(set(live) & set(backfilled))
            assert not twice, f"{outage}: samples sent live and backfilled: {twice}"
    finally:
        broker.stop()
