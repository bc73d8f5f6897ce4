"""The pump guard, with no systemd and no supervisor: a pump stops when the bridge process is
SIGKILLed, at its deadline when the bridge is frozen, and at once when the guard itself dies."""

from __future__ import annotations

import os
from pathlib import Path
import signal
import time

import psutil
import yaml

from pi_bridge.relays import read_level

from ..helpers import BridgeProcess, Recorder, run_cli, wait_until, write_config

PUMP = {"key": "pump", "pin": 17, "max_runtime": 60}


async def start_pump(rec: Recorder, node_id: str, seconds: float) -> float:
    """pump_on for ``seconds``; returns the deadline (wall clock) the node announced."""
    await rec.wait_for("availability", lambda m: m.get("raw") == "online", timeout=20)
    assert (await rec.command(node_id, "pump_on", "pump", cmd_id=f"on-{node_id}", duration=seconds))["ok"]
    state = await rec.wait_for("state", lambda m: m["pumps"]["pump"]["on"])
    return float(state["pumps"]["pump"]["until"])


def guards_of(bridge: BridgeProcess) -> list[psutil.Process]:
    assert bridge.process is not None
    return [p for p in psutil.Process(bridge.process.pid).children() if "pi_bridge.guard" in p.cmdline()]


def guard_of(bridge: BridgeProcess) -> psutil.Process:
    (guard,) = guards_of(bridge)
    return guard


def gone(process: psutil.Process) -> bool:
    return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


async def test_sigkilled_bridge_leaves_no_pump_running(mosquitto, tmp_path):
    config = write_config(tmp_path / "bridge.yaml", pumps=[PUMP])
    state = tmp_path / "state"
    for run in range(3):
        node_id = f"pi-8{run}"
        with BridgeProcess(config, node_id, mosquitto.port) as bridge:
            async with Recorder(mosquitto.port, f"hydro_fleet/{node_id}/#") as rec:
                deadline = await start_pump(rec, node_id, 3.0)
                assert read_level(state, 17) is True
                guards = guards_of(bridge)
                bridge.stop(signal.SIGKILL)
                killed = time.time()
                await wait_until(lambda: read_level(state, 17) is False, deadline + 1 - time.time(), "relay off")
                off = time.time()
                assert off <= deadline + 1.0, f"pump on {off - deadline:.2f} s past its deadline"
                print(f"run {run}: off {off - killed:.3f} s after SIGKILL ({off - deadline:+.3f} s vs deadline)")
                # The guard does not outlive the bridge it guarded.
                await wait_until(lambda g=guards: all(gone(guard) for guard in g), 5, "the guard exited")


async def test_frozen_bridge_pump_stops_at_its_deadline(mosquitto, tmp_path):
    # SIGSTOP: the bridge is alive but its event loop never runs, as with a hung probe read or swap storm.
    config = write_config(tmp_path / "bridge.yaml", pumps=[PUMP])
    state = tmp_path / "state"
    with BridgeProcess(config, "pi-9", mosquitto.port) as bridge:
        assert bridge.process is not None
        async with Recorder(mosquitto.port, "hydro_fleet/pi-9/#") as rec:
            deadline = await start_pump(rec, "pi-9", 1.5)
            os.kill(bridge.process.pid, signal.SIGSTOP)
            try:
                await wait_until(lambda: read_level(state, 17) is False, deadline + 1 - time.time(), "relay off")
                late = time.time() - deadline
                assert -0.05 < late < 1.0, late  # the guard's own clock, not the frozen bridge's
                print(f"off {late * 1000:.1f} ms after the deadline with the bridge frozen")
            finally:
                os.kill(bridge.process.pid, signal.SIGCONT)
            # Thawed, the bridge's timer (long overdue) reports the stop it did not make.
            stopped = await rec.wait_for("event", lambda m: m["type"] == "pump_stopped")
            assert stopped["data"]["reason"] == "deadline"


async def test_guard_killed_pump_off_and_a_new_guard_takes_over(mosquitto, tmp_path):
    config = write_config(tmp_path / "bridge.yaml", pumps=[PUMP])
    state = tmp_path / "state"
    with BridgeProcess(config, "pi-10", mosquitto.port) as bridge:
        async with Recorder(mosquitto.port, "hydro_fleet/pi-10/#") as rec:
            await start_pump(rec, "pi-10", 30.0)
            first = guard_of(bridge)
            first.kill()
            took = await wait_until(lambda: read_level(state, 17) is False, 5, "relay off after the guard died")
            assert took < 2.0, took
            stopped = await rec.wait_for("event", lambda m: m["type"] == "pump_stopped")
            assert stopped["data"]["reason"] == "guard_lost"
            off = await rec.wait_for("state", lambda m: not m["pumps"]["pump"]["on"])
            assert off["pumps"]["pump"].get("until") is None
            await wait_until(lambda: "the pump guard died" in bridge.log(), 5, "a log line")
            # The bridge runs on with a new guard that obeys.
            assert (await rec.command("pi-10", "pump_on", "pump", cmd_id="again", duration=30))["ok"]
            assert read_level(state, 17) is True
            assert guard_of(bridge).pid != first.pid
            assert bridge.stop() == 0
            assert read_level(state, 17) is False


async def test_simulation_without_state_dir_leaves_nothing_behind(mosquitto, tmp_path):
    config = tmp_path / "bridge.yaml"
    config.write_text(yaml.safe_dump({"machine_id_file": str(tmp_path / "machine-id"), "pumps": [PUMP]}))
    with BridgeProcess(config, "pi-11", mosquitto.port) as bridge:
        async with Recorder(mosquitto.port, "hydro_fleet/pi-11/#") as rec:
            await start_pump(rec, "pi-11", 30.0)
        line = next(line for line in bridge.log().splitlines() if "simulated node state in" in line)
        temp = Path(line.split("simulated node state in ")[1].split(" (")[0])
        assert read_level(temp, 17) is True
        bridge.stop(signal.SIGKILL)
        await wait_until(lambda: not temp.exists(), 5, f"{temp} removed after SIGKILL")
    result = run_cli("pumps-off", "--simulate", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "nothing to do" in result.stderr
