"""A small stand-in for systemd running packaging/hydro-fleet-bridge.service.

It does what the unit asks for: Type=notify (a NOTIFY_SOCKET the bridge talks to),
WatchdogSec (kill with SIGABRT when WATCHDOG=1 stops), ExecStopPost=pumps-off after
every exit, Restart=always with RestartSec. Each step is a JSON line on stdout so a
test can follow along.

    python supervisor.py --restart-sec 1 --watchdog-sec 5 -- <bridge argv...>
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time


def say(event: str, **data: object) -> None:
    print(json.dumps({"event": event, "t": time.time()} | data), flush=True)


def pumps_off_argv(bridge: list[str]) -> list[str]:
    """The bridge's own argv with ``run`` replaced by ``pumps-off`` (what ExecStopPost runs)."""
    argv = list(bridge)
    index = argv.index("pi_bridge") + 1
    if index < len(argv) and argv[index] == "run":
        argv[index] = "pumps-off"
    else:
        argv.insert(index, "pumps-off")
    # pumps-off takes the same config flags but needs no broker.
    return argv


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--restart-sec", type=float, default=1.0)
    parser.add_argument("--watchdog-sec", type=float, default=0.0)
    parser.add_argument("bridge", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    bridge = [a for a in args.bridge if a != "--"]
    stopping = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    with tempfile.TemporaryDirectory(prefix="hf-supervisor-") as tmp:
        path = str(Path(tmp) / "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        env = os.environ | {"NOTIFY_SOCKET": path}
        if args.watchdog_sec:
            env["WATCHDOG_USEC"] = str(int(args.watchdog_sec * 1e6))
        while not stopping:
            child = subprocess.Popen(bridge, env=env)
            say("started", pid=child.pid)
            last_ping = time.monotonic()
            while child.poll() is None:
                if stopping:
                    child.terminate()
                    child.wait(15)
                    break
                ready, _, _ = select.select([sock], [], [], 0.02)
                if ready:
                    message = sock.recv(4096).decode(errors="replace")
                    say("notify", message=message)
                    if "WATCHDOG=1" in message:
                        last_ping = time.monotonic()
                if args.watchdog_sec and time.monotonic() - last_ping > args.watchdog_sec:
                    say("watchdog_timeout", pid=child.pid)
                    child.send_signal(signal.SIGABRT)
                    child.wait(15)
            say("exited", pid=child.pid, code=child.returncode)
            # ExecStopPost: runs after every exit, whatever killed the bridge.
            code = subprocess.run(pumps_off_argv(bridge), env=os.environ, check=False).returncode
            say("pumps_off", code=code)
            if not stopping:
                time.sleep(args.restart_sec)
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
