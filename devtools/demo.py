"""``scripts/demo``: a real Home Assistant with a simulated Hydro Fleet, on this machine.

Starts Mosquitto, ``hass`` on http://127.0.0.1:8123 (onboarded; the user and password
are printed), the MQTT and Hydro Fleet integrations, simulated Pis ``pi-1``..``pi-N``
that backfill a day of history when they start, the add-on's receiver and a simulated
gateway with two charging stations. It watches them: a process that dies is reported
and restarted. Ctrl-C stops everything; no process is left behind.
"""

from __future__ import annotations

import argparse
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
import os
from pathlib import Path
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

from devtools import history, photo_history
from devtools.bridges import BridgeProcess
from devtools.gateway_sim import PASSWORD_ENV, SECRET_ENV
from devtools.homeassistant import DEMO_INTEGRATIONS, REPO, HomeAssistant
from devtools.mosquitto import Mosquitto, free_port, port_is_free, publish
from devtools.processes import stop_process
from devtools.receiver import ReceiverProcess
from hydro_fleet_protocol import DEFAULT_PREFIX, Topic, encode

DASHBOARD_PATH = "hydro-fleet"
# Where the demo's Pis stand: each becomes the suggested area of its device, so the
# device pages are grouped and Assist understands "the pump in the greenhouse".
AREAS = ("Greenhouse", "Balcony", "Kitchen")
PHOTO_INTERVAL = 300.0  # s between the simulated Pis' live photos
# A process that dies this often within RESTART_WINDOW seconds is left down.
MAX_RESTARTS = 3
RESTART_WINDOW = 60.0


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@dataclass
class Watched:
    """A process the demo keeps running: how to see it ended, restart it and show its log."""

    name: str
    exit_code: Callable[[], int | None]
    restart: Callable[[], None]
    log: Path
    restarts: deque[float] = field(default_factory=deque)
    given_up: bool = False

    def check(self, now: float) -> str | None:
        """If the process has ended: restart it (unless it keeps dying) and say what happened."""
        if self.given_up or (code := self.exit_code()) is None:
            return None
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW:
            self.restarts.popleft()
        tail = "\n".join("    " + line for line in _tail(self.log, 8))
        if code == 0:
            # Stopped on purpose (SIGTERM: a bridge says goodbye and exits 0), e.g. to see a node go offline.
            self.given_up = True
            return f"{self.name} stopped (exit code 0); left stopped. Its log ({self.log}) ends with:\n{tail}"
        if len(self.restarts) >= MAX_RESTARTS:
            self.given_up = True
            return f"{self.name} exited with code {code} again; left stopped. Its log ({self.log}) ends with:\n{tail}"
        self.restarts.append(now)
        self.restart()
        return f"{self.name} exited with code {code}; restarted it. Its log ({self.log}) ended with:\n{tail}"


def _tail(path: Path, lines: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ["(no log)"]


def prime_nodes(bridges: list[BridgeProcess], broker_port: int, hours: float) -> int:
    """Queue ``hours`` of history in every node's offline queue and retain its discovery config.

    The bridges backfill the history when they start (see devtools/history.py).
    """
    messages, samples = [], 0
    for process in bridges:
        bridge = history.build(process.config_path)
        try:
            samples += history.queue_history(bridge, hours)
            config = bridge.discovery()
        finally:
            bridge.pumps.close()  # its relay guard process goes with it
            bridge.queue.close()
        messages.append((Topic(DEFAULT_PREFIX, config.node_id).config, encode(config), True))
    publish(broker_port, messages)
    return samples


class Gateway:
    """The simulated Java gateway; its password and signing secret go in its environment, not its arguments."""

    def __init__(self, url: str, email: str, password: str, secret: str, interval: float, log: Path) -> None:
        self.args = [sys.executable, "-m", "devtools.gateway_sim", "--url", url, "--email", email]
        self.args += ["--interval", str(interval)]
        self.env = {**os.environ, PASSWORD_ENV: password, SECRET_ENV: secret}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=self.env, start_new_session=True
            )

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        stop_process(self.process)


def _make_timelapses(hass: HomeAssistant, nodes: list[str], photos: int) -> None:
    """Make a time-lapse of each Pi's photos once they are in Home Assistant, and say where it is."""
    try:
        lines = photo_history.make_timelapses(hass, nodes, photos)
    except Exception as err:  # the demo goes on without them
        print(f"No time-lapses: {err}", flush=True)
        return
    print("Time-lapses (Media > Hydro Fleet > node > timelapses):", flush=True)
    for line in lines:
        print(f"  {line}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8123, help="Home Assistant's HTTP port (default 8123)")
    parser.add_argument("--nodes", type=int, default=3, help="how many simulated Pis (default 3)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument("--history", type=float, default=24.0, help="hours of history to backfill (default 24)")
    args = parser.parse_args()
    if not port_is_free(args.port):
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
    bridges = [
        BridgeProcess(
            node,
            broker.port,
            workdir / "bridges",
            interval=args.interval,
            area=AREAS[i % len(AREAS)],
            camera={"photo_interval": PHOTO_INTERVAL, "growth_speed": photo_history.GROWTH_SPEED},
        )
        for i, node in enumerate(nodes)
    ]
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
    gateway = Gateway(
        receiver.url, "gateway@example.com", gateway_password, gateway_secret, args.interval, workdir / "gateway.log"
    )

    with ExitStack() as running:
        try:
            started = time.monotonic()
            print(f"Starting Mosquitto on 127.0.0.1:{broker.port}")
            broker.start()
            running.callback(broker.stop)
            if args.history > 0:
                print(f"Queueing {args.history:g} h of history on each simulated Pi, to backfill when it starts")
                samples = prime_nodes(bridges, broker.port, args.history)
            print("Buffering two days of plant photos on each simulated Pi, to send when it starts")
            primed_photos = min(photo_history.queue_photos(b.node_id, b.workdir / b.node_id) for b in bridges)
            print(f"Starting the add-on receiver on {receiver.url} and a simulated gateway with two stations")
            running.callback(receiver.stop)
            receiver.start()
            running.callback(gateway.stop)
            gateway.start()
            print(f"Starting Home Assistant on {hass.url} (config in {hass.config_dir})")
            running.callback(hass.stop)
            hass.start_with_mqtt(broker.port, username, password)
            hass.accept_discovery()
            dashboard = hass.add_dashboard(DASHBOARD_PATH)
            hass.set_default_dashboard(DASHBOARD_PATH)
            blueprints = hass.install_blueprints()
            entry_created = time.monotonic()
            expected = [f"sensor.{node.replace('-', '_')}_ph" for node in nodes]
            # A backfill is imported into sensors that exist: the Pis start once HA has made them.
            hass.wait_for(lambda: all(hass.state(e) is not None for e in expected), 60, "the Pis' sensors")
            print(f"Starting {len(bridges)} simulated Pis: {', '.join(nodes)}")
            for bridge in bridges:
                bridge.start()
                running.callback(bridge.stop)
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
            backfill = f"{samples} samples ({args.history:g} h) backfilled" if args.history > 0 else "no backfill"
            print(
                "\n"
                f"  Home Assistant:  {dashboard}  (lands on the Hydro Fleet dashboard)\n"
                f"  user:            {username}\n"
                f"  password:        {password}\n"
                f"  Hydro Fleet:     {devices} devices, {entities} entities; first readings "
                f"{first_state:.1f} s after setup ({time.monotonic() - started:.0f} s after start)\n"
                f"  history:         {backfill}\n"
                f"  blueprints:      {len(blueprints)} under Settings > Automations > Blueprints\n"
                f"  MQTT broker:     127.0.0.1:{broker.port}"
                f"  (watch it: mosquitto_sub -p {broker.port} -t 'hydro_fleet/#' -v)\n"
                f"  logs:            {workdir}\n"
                "\nPress Ctrl-C to stop everything.",
                flush=True,
            )
            # The buffered photos take a minute or two to arrive (a node sends one per 2.5 s).
            timelapses = threading.Thread(
                target=_make_timelapses, args=(hass, nodes, primed_photos), name="timelapses", daemon=True
            )
            timelapses.start()
            watched = [Watched(f"The {b.node_id} bridge", b.exit_code, b.start, b.log_path) for b in bridges]
            watched += [
                Watched("The simulated gateway", gateway.exit_code, gateway.start, gateway.log),
                Watched("The receiver", receiver.exit_code, receiver.start, receiver.log_path),
                Watched("Mosquitto", broker.exit_code, broker.start, broker.log_path),
            ]
            while True:
                time.sleep(1)
                for process in watched:
                    if message := process.check(time.monotonic()):
                        print(message, flush=True)
                if (code := hass.exit_code()) is not None:
                    print(f"Home Assistant exited with code {code}; its log ends with:\n{hass.log_tail(20)}")
                    break
        except KeyboardInterrupt:
            print("\nStopping...", flush=True)
        except Exception:
            print(f"The demo failed to start. Home Assistant's log ends with:\n{hass.log_tail()}", file=sys.stderr)
            raise
    print("Stopped; no process left behind.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
