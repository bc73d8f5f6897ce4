"""systemd's notify protocol (READY=1, WATCHDOG=1, STOPPING=1) in a few lines.

The unit uses ``Type=notify`` and ``WatchdogSec``: if the event loop stalls, the
watchdog pings stop, systemd kills the bridge and ``ExecStopPost`` drives the pumps off.
Without ``$NOTIFY_SOCKET`` (not under systemd) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket

_LOGGER = logging.getLogger(__name__)


class Notifier:
    """Sends datagrams to ``$NOTIFY_SOCKET``."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        if address and address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace socket
        self.address = address or None
        self._sock: socket.socket | None = None
        if self.address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def watchdog_interval(self) -> float | None:
        """Half of systemd's WatchdogSec (``$WATCHDOG_USEC``), the usual ping period."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return int(usec) / 1e6 / 2
        except ValueError:
            return None

    def notify(self, state: str) -> bool:
        if self._sock is None or self.address is None:
            return False
        try:
            self._sock.sendto(state.encode(), self.address)
        except OSError as err:
            _LOGGER.debug("sd_notify %s failed: %s", state, err)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
