"""Backfill throughput: 50,000 queued samples drained to a real broker, and live latency meanwhile.

    python bench/bridge_backfill.py [--samples 50000]

The queue is filled the way an outage fills it (SampleQueue.put, one transaction per
sample); then the bridge starts with the broker up, at 1 Hz. A subscriber on the same
broker measures the time from the bridge's "online" to the last backfilled sample, and
the latency of each live state (receive time - sample timestamp) while the drain runs.
Goal: < 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402

from devtools.bridges import simulate_command  # noqa: E402
from devtools.mosquitto import Mosquitto  # noqa: E402
from hydro_fleet_protocol import Sample  # noqa: E402
from pi_bridge.buffer import SampleQueue, queue_path  # noqa: E402


def fill(state: Path, count: int) -> float:
    queue = SampleQueue(queue_path(state), max_rows=1_000_000, max_days=365)
    readings = {
        "tds": 712.4,
        "ec": 1424.8,
        "ph": 6.02,
        "moisture": 44.1,
        "water_level": 88.0,
        "water_temperature": 21.5,
    }
    start = time.monotonic()
    base = time.time() - count
    for n in range(count):
        queue.put(Sample(ts=round(base + n, 3), seq=n + 1, readings=readings))
    queue.close()
    return time.monotonic() - start


async def measure(port: int, config: Path, count: int, interval: float) -> None:
    received = 0
    online_at = done_at = None
    online_wall = 0.0
    live: list[float] = []
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe("hydro_fleet/pi-1/#", qos=1)
        bridge = subprocess.Popen(  # noqa: ASYNC220  (started once, not awaited)
            simulate_command("pi-1", port, interval, config),
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with asyncio.timeout(120):
                async for message in client.messages:
                    now = time.time()
                    topic = str(message.topic)
                    if topic.endswith("/availability") and message.payload == b"online":
                        online_at, online_wall = time.monotonic(), now
                    elif topic.endswith("/backfill"):
                        received += len(json.loads(message.payload)["samples"])  # type: ignore[arg-type]
                        if received >= count:
                            done_at = time.monotonic()
                            break
                    elif topic.endswith("/state") and online_at is not None:
                        ts = json.loads(message.payload)["ts"]  # type: ignore[arg-type]
                        if ts >= online_wall:  # not the last pre-connection sample, republished on connect
                            live.append((now - ts) * 1000)
        finally:
            bridge.terminate()
            bridge.wait(10)
    assert online_at is not None and done_at is not None
    drain = done_at - online_at
    print(
        f"backfill of {received} samples (bridge sampling every {interval} s): "
        f"{drain:.2f} s from online to the last one "
        f"({received / drain:,.0f} samples/s) (goal < 20 s)"
    )
    if live:
        print(
            f"  live states during the drain: {len(live)}, latency median {statistics.median(live):.1f} ms, "
            f"max {max(live):.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=50_000)
    # 5 Hz rather than 1 Hz so that a drain of a second or two has enough live samples to measure.
    parser.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Mosquitto() as broker:
        state = Path(tmp) / "state"
        took = fill(state, args.samples)
        print(f"queued {args.samples} samples in {took:.1f} s ({args.samples / took:,.0f} inserts/s)")
        config = Path(tmp) / "bridge.yaml"
        config.write_text(f"state_dir: {state}\nmachine_id_file: {tmp}/machine-id\nbuffer:\n  batch_size: 1000\n")
        asyncio.run(measure(broker.port, config, args.samples, args.interval))


if __name__ == "__main__":
    main()
