"""``scripts/demo``: a real Home Assistant with a simulated Hydro Fleet, on this machine.

Starts Mosquitto, ``hass`` on http://localhost:8123 (onboarded; the user and password
are printed), the MQTT and Hydro Fleet integrations, and simulated Pis ``pi-1``..``pi-N``.
Ctrl-C stops everything; no process is left behind.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from devtools.bridges import BridgeProcess
from devtools.homeassistant import DEMO_INTEGRATIONS, REPO, HomeAssistant
from devtools.mosquitto import Mosquitto, free_port
from devtools.processes import stop_process
from devtools.receiver import ReceiverProcess


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8123, help="Home Assistant's HTTP port (default 8123)")
    parser.add_argument("--nodes", type=int, default=3, help="how many simulated Pis (default 3)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples (default 5)")
    args = parser.parse_args()
    if not _port_is_free(args.port):
        print(f"Port {args.port} is in use; stop what uses it or pass --port.", file=sys.stderr)
        return 1
    # Ctrl-C must stop the demo even when a shell started it with SIGINT ignored (in the background).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGHUP, _stop_on_sigterm)

    workdir = REPO / ".demo"
    shutil.rmtree(workdir, ignore_errors=True)  # every demo starts from a clean slate
    broker = Mosquitto(port=free_port(), workdir=workdir / "mosquitto")
    hass = HomeAssistant(workdir / "homeassistant", args.port, integrations=DEMO_INTEGRATIONS, log_level="warning")
    nodes = [f"pi-{n}" for n in range(1, args.nodes + 1)]
    bridges = [BridgeProcess(node, broker.port, workdir / "bridges", interval=args.interval) for node in nodes]
    username, password = "demo", secrets.token_urlsafe(12)
    # The add-on's receiver as a plain process, and a simulated Java gateway posting signed
    # syncs of two charging stations to it, exactly as the real gateway does.
    gateway_secret, gateway_password = secrets.token_urlsafe(32), secrets.token_urlsafe(12)
    receiver = ReceiverProcess(
        workdir / "receiver",
        secrets=[gateway_secret],
        email="gateway@example.com",
        password=gateway_password,
        broker_port=broker.port,
    )

    with ExitStack() as running:
        try:
            started = time.monotonic()
            print(f"Starting Mosquitto on 127.0.0.1:{broker.port}")
            broker.start()
            running.callback(broker.stop)
            print(f"Starting {len(bridges)} simulated Pis: {', '.join(nodes)}")
            for bridge in bridges:
                bridge.start()
                running.callback(bridge.stop)
            print(f"Starting the add-on receiver on {receiver.url} and a simulated gateway with two stations")
            running.callback(receiver.stop)
            receiver.start()
            gateway_log = (workdir / "gateway.log").open("ab")
            gateway = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "devtools.gateway_sim",
                    "--url",
                    receiver.url,
                    "--email",
                    "gateway@example.com",
                    "--password",
                    gateway_password,
                    "--secret",
                    gateway_secret,
                    "--interval",
                    str(args.interval),
                ],
                stdout=gateway_log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                start_new_session=True,
            )
            running.callback(stop_process, gateway)
            print(f"Starting Home Assistant on http://localhost:{args.port} (config in {hass.config_dir})")
            running.callback(hass.stop)
            hass.start_with_mqtt(broker.port, username, password)
            hass.accept_discovery()
            dashboard = hass.add_dashboard()
            blueprints = hass.install_blueprints()
            entry_created = time.monotonic()
            expected = [f"sensor.{node.replace('-', '_')}_ph" for node in nodes]
            hass.wait_for(
                lambda: all(hass.state(e) not in (None, "unknown", "unavailable") for e in expected),
                60,
                "the first readings",
            )
            first_state = time.monotonic() - entry_created
            entities = hass.template("{{ integration_entities('hydro_fleet') | count }}")
            hass.wait_for(
                lambda: len(hass.devices_of("hydro_fleet")) >= len(nodes) + 3, 60, "the two stations and the receiver"
            )
            devices = len(hass.devices_of("hydro_fleet"))
            print(
                "\n"
                f"  Home Assistant:  http://localhost:{args.port}\n"
                f"  user:            {username}\n"
                f"  password:        {password}\n"
                f"  Hydro Fleet:     {devices} devices, {entities} entities; first readings "
                f"{first_state:.1f} s after setup ({time.monotonic() - started:.0f} s after start)\n"
                f"  dashboard:       {dashboard}\n"
                f"  blueprints:      {len(blueprints)} under Settings > Automations > Blueprints\n"
                f"  MQTT broker:     127.0.0.1:{broker.port}"
                f"  (watch it: mosquitto_sub -p {broker.port} -t 'hydro_fleet/#' -v)\n"
                f"  logs:            {workdir}\n"
                "\nPress Ctrl-C to stop everything.",
                flush=True,
            )
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nStopping...", flush=True)
        except Exception:
            print(f"The demo failed to start. Home Assistant's log ends with:\n{hass.log_tail()}", file=sys.stderr)
            raise
    print("Stopped; no process left behind.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
