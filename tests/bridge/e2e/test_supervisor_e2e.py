"""SIGKILL the bridge under a supervisor that does what the systemd unit does: the pump is off within 2 s."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from pi_bridge.relays import read_level

from ..helpers import ROOT, BridgeProcess, Recorder, wait_until, write_config

SUPERVISOR = Path(__file__).with_name("supervisor.py")


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_unit_file_runs_pumps_off_after_every_stop():
    unit = (ROOT / "packaging" / "hydro-fleet-bridge.service").read_text()
    assert "ExecStopPost=/usr/local/bin/hydro-fleet-bridge pumps-off" in unit
    assert "Restart=always" in unit
    assert "WatchdogSec=" in unit
    assert "Type=notify" in unit


async def test_sigkill_under_supervisor_turns_the_pump_off(mosquitto, tmp_path):
    config = write_config(tmp_path / "bridge.yaml", pumps=[{"key": "pump", "pin": 17, "max_runtime": 120}])
    state = tmp_path / "state"
    bridge = BridgeProcess(config, "pi-5", mosquitto.port, interval=0.5)
    out = tmp_path / "supervisor.jsonl"
    with out.open("w") as handle:
        supervisor = subprocess.Popen(
            [sys.executable, str(SUPERVISOR), "--restart-sec", "0.5", "--watchdog-sec", "10", "--", *bridge.command()],
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )
    try:
        async with Recorder(mosquitto.port) as rec:
            await rec.wait_for("availability", lambda m: m.get("raw") == "online")
            assert (await rec.command("pi-5", "pump_on", "pump", duration=100))["ok"]
            assert read_level(state, 17) is True
            first = next(e for e in events(out) if e["event"] == "started")
            # systemd's notify protocol was spoken: ready, then watchdog pings.
            await wait_until(lambda: any(e.get("message") == "READY=1" for e in events(out)), 5, "READY=1")
            await wait_until(lambda: any(e.get("message") == "WATCHDOG=1" for e in events(out)), 8, "WATCHDOG=1")

            killed = time.monotonic()
            os.kill(first["pid"], signal.SIGKILL)
            took = await wait_until(lambda: read_level(state, 17) is False, 5, "relay off after SIGKILL")
            assert took < 2.0, f"pump still on {took:.2f} s after SIGKILL"
            print(f"pump off {time.monotonic() - killed:.2f} s after SIGKILL")

            # The supervisor restarts the bridge; it comes back online with the pump off.
            await wait_until(lambda: sum(e["event"] == "started" for e in events(out)) == 2, 5, "restart")
            rec.messages.clear()
            state_msg = await rec.wait_for("state", timeout=15)
            assert state_msg["pumps"]["pump"]["on"] is False
    finally:
        supervisor.send_signal(signal.SIGTERM)
        await asyncio.to_thread(supervisor.wait, 20)
    log = events(out)
    assert [e["event"] for e in log if e["event"] in ("exited", "pumps_off")][-2:] == ["exited", "pumps_off"]
    assert read_level(state, 17) is False
