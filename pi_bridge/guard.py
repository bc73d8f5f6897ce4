"""The pump guard: a small process that owns the relay outputs and their deadlines.

The bridge times every pump run in its event loop, but a bridge that is SIGKILLed,
OOM-killed or frozen cannot switch a relay off, and a GPIO line keeps (or, released,
drifts from) its last level. So the lines belong to this process, which does nothing
else and imports almost nothing. The bridge asks it over a socket pair to switch a pin
on for N seconds, or off; the guard

- drives every pin off when it starts, before it says ``ready``;
- switches a pin off at its deadline by its own clock, whether or not the bridge does;
- switches every pin off and exits when the bridge's end of the socket closes (the
  bridge exited, crashed or was killed: the kernel closes it), and on SIGTERM/SIGINT.

If the guard dies, the bridge sees its end of the socket close, starts a new guard
(which drives every pin off first) and reports the pumps that were running as stopped
(``guard_link.py``). Both gone at once (a cgroup kill, a power cut of the Pi alone) is what
systemd's ``ExecStopPost=pumps-off`` is for.

Wire, one ASCII line each way: ``on <pin> <seconds>``, ``off <pin>`` or ``bye`` (a clean
stop: keep the state directory), answered by ``ok`` or ``error <why>``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path
import select
import shutil
import signal
import socket
import sys
import time

from .relays import Relay, open_relay

_LOGGER = logging.getLogger(__name__)


class _Stop(Exception):
    """SIGTERM or SIGINT: drive everything off and exit."""


class Guard:
    """The relays and their deadlines, served over one socket."""

    def __init__(self, relays: dict[int, Relay]) -> None:
        self.relays = relays
        self.deadlines: dict[int, float] = {}

    def handle(self, line: str) -> str:
        parts = line.split()
        try:
            if parts == ["bye"]:
                raise _Stop
            pin = int(parts[1])
            relay = self.relays[pin]
            if parts[0] == "on" and len(parts) == 3:
                seconds = float(parts[2])
                self.deadlines[pin] = time.monotonic() + seconds
                relay.set(True)
                return "ok"
            if parts[0] == "off" and len(parts) == 2:
                self.deadlines.pop(pin, None)
                relay.set(False)
                return "ok"
        except (IndexError, ValueError, KeyError) as err:
            return f"error {line!r}: {err!r}"
        return f"error {line!r}: unknown request"

    def expire(self, now: float) -> None:
        for pin, deadline in list(self.deadlines.items()):
            if deadline <= now:
                del self.deadlines[pin]
                self.relays[pin].set(False)

    def serve(self, sock: socket.socket) -> bool:
        """Serve until the bridge's end closes (True) or it says ``bye`` / a signal comes (False)."""
        pending = b""
        while True:
            timeout = max(0.0, min(self.deadlines.values()) - time.monotonic()) if self.deadlines else None
            readable, _, _ = select.select([sock], [], [], timeout)
            self.expire(time.monotonic())
            if not readable:
                continue
            try:
                data = sock.recv(4096)
            except OSError:  # ECONNRESET: the bridge died with our answer unread
                return True
            if not data:
                return True
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                try:
                    sock.sendall(self.handle(line.decode(errors="replace")).encode() + b"\n")
                except OSError:  # the bridge died between its request and our answer
                    return True

    def all_off(self) -> None:
        for relay in self.relays.values():
            with contextlib.suppress(OSError):  # one broken output must not keep the others on
                relay.set(False)
            relay.close()


def _raise_stop(_signum: int, _frame: object) -> None:
    raise _Stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pi_bridge.guard")
    parser.add_argument("--fd", type=int, required=True, help="this end of the bridge's socket pair")
    parser.add_argument("--pin", action="append", default=[], help="PIN:1 (active high) or PIN:0")
    parser.add_argument("--simulate", action="store_true")
    parser.add_argument("--state-dir", type=Path)
    parser.add_argument("--remove-if-orphaned", action="store_true", help="remove state-dir if the bridge dies")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    sock = socket.socket(fileno=args.fd)
    pins = [(int(pin), flag != "0") for pin, _, flag in (p.partition(":") for p in args.pin)]
    guard = Guard({pin: open_relay(pin, active_high, args.simulate, args.state_dir) for pin, active_high in pins})
    orphaned = False
    try:
        sock.sendall(b"ready\n")
        orphaned = guard.serve(sock)
    except (_Stop, OSError):
        pass
    finally:
        guard.all_off()
    if orphaned:
        _LOGGER.warning("the bridge is gone; all %d pumps driven off", len(pins))
        if args.remove_if_orphaned and args.state_dir is not None:
            shutil.rmtree(args.state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
