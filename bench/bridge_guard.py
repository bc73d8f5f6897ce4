"""Pumps with the bridge process gone: 100 runs, no systemd, no supervisor.

    python bench/bridge_guard.py [--runs 100] [--duration 2.0] [--mode kill|freeze|both]

Each run starts a real simulated bridge (``python -m pi_bridge --simulate``) on a real
Mosquitto, switches its pump on for ``duration`` seconds with a ``pump_on`` command, takes
the deadline the node announced (``State.pumps.pump.until``), then, at a random moment
of the run:

- ``kill``: SIGKILLs the bridge process. Only its pump guard is left to stop the pump.
- ``freeze``: SIGSTOPs it (alive, its event loop never runs again until SIGCONT), so the
  stop must come from the guard's own deadline.

The relay file (the simulated GPIO line) is polled every millisecond; a run counts as on
time if the relay is off by deadline + 1 s. Printed: runs on time, and the worst
lateness (off time - deadline; negative is before the deadline) and, for ``kill``, the
time from SIGKILL to relay off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402
import yaml  # noqa: E402

from devtools.bridges import simulate_command  # noqa: E402
from devtools.mosquitto import Mosquitto  # noqa: E402
from pi_bridge.relays import read_level  # noqa: E402

_POLL = 0.001


async def pump_on(port: int, node_id: str, duration: float) -> float:
    """Wait for the node, switch its pump on, return the announced deadline."""
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(f"hydro_fleet/{node_id}/#", qos=1)
        sent = False
        async with asyncio.timeout(60):
            async for message in client.messages:
                topic = str(message.topic)
                body = bytes(message.payload)  # type: ignore[arg-type]
                if topic.endswith("/availability") and body == b"online" and not sent:
                    command = {"v": 1, "id": "on", "action": "pump_on", "target": "pump", "params": {}}
                    command["params"] = {"duration": duration}
                    await client.publish(f"hydro_fleet/{node_id}/cmd", json.dumps(command), qos=1)
                    sent = True
                elif topic.endswith("/state") and sent:
                    pump = json.loads(body)["pumps"]["pump"]
                    if pump["on"]:
                        return float(pump["until"])
    raise AssertionError("unreachable")


def start_bridge(port: int, work: Path, node_id: str) -> subprocess.Popen[bytes]:
    config = work / f"{node_id}.yaml"
    pump = {"key": "pump", "pin": 17, "max_runtime": 60}
    config.write_text(
        yaml.safe_dump({"state_dir": str(work / node_id), "machine_id_file": str(work / "id"), "pumps": [pump]})
    )
    with (work / f"{node_id}.log").open("wb") as log:
        return subprocess.Popen(
            simulate_command(node_id, port, 1.0, config),
            stdout=log,
            stderr=log,
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )


async def one_run(port: int, work: Path, index: int, duration: float, mode: str) -> tuple[float, float]:
    """(off time - deadline, off time - signal time) of one run."""
    node_id = f"bench-{index}"
    state = work / node_id
    bridge = start_bridge(port, work, node_id)
    try:
        try:
            deadline = await pump_on(port, node_id, duration)
        except TimeoutError:
            print(f"run {index}: the node never started its pump; its log:", file=sys.stderr)
            print((work / f"{node_id}.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        assert read_level(state, 17) is True, "pump not on"
        # Somewhere in the run, leaving at least 0.2 s of it.
        await asyncio.sleep(max(0.0, deadline - time.time() - 0.2) * random.random())
        hit = time.time()
        bridge.send_signal(signal.SIGKILL if mode == "kill" else signal.SIGSTOP)
        while read_level(state, 17) is not False:
            if time.time() > deadline + 5:
                raise AssertionError(f"run {index}: pump still on 5 s after its deadline")
            await asyncio.sleep(_POLL)
        off = time.time()
        return off - deadline, off - hit
    finally:
        if mode == "freeze":
            with contextlib.suppress(ProcessLookupError):
                bridge.send_signal(signal.SIGCONT)
        bridge.kill()
        bridge.wait()


async def bench(runs: int, duration: float, mode: str) -> None:
    with Mosquitto() as broker, tempfile.TemporaryDirectory(prefix="hf-guard-") as tmp:
        late: list[float] = []
        after: list[float] = []
        for index in range(runs):
            lateness, since = await one_run(broker.port, Path(tmp), index, duration, mode)
            late.append(lateness)
            after.append(since)
        on_time = sum(x <= 1.0 for x in late)
        what = "SIGKILLed" if mode == "kill" else "SIGSTOPped (frozen)"
        print(f"bridge {what} mid-run, {runs} runs of {duration:g} s pumping, no systemd:")
        print(f"  pump off by deadline + 1 s: {on_time}/{runs}")
        print(
            f"  off - deadline: worst {max(late) * 1000:+.1f} ms, best {min(late) * 1000:+.1f} ms "
            f"(negative: before the deadline)"
        )
        if mode == "kill":
            median = sorted(after)[len(after) // 2]
            print(f"  SIGKILL -> relay off: median {median * 1000:.1f} ms, max {max(after) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--mode", choices=("kill", "freeze", "both"), default="both")
    args = parser.parse_args()
    for mode in ("kill", "freeze") if args.mode == "both" else (args.mode,):
        asyncio.run(bench(args.runs, args.duration, mode))


if __name__ == "__main__":
    main()
