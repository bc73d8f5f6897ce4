"""The bridge's side of the pump guard (``guard.py``): switch requests, and a new guard if it dies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import logging
import os
from pathlib import Path
import socket
import subprocess
import sys

_LOGGER = logging.getLogger(__name__)
_REPLY_TIMEOUT = 5.0
_START_TIMEOUT = 20.0  # gpiozero's import alone takes most of a second on a Pi Zero


class GuardError(Exception):
    """The guard could not be started or did not carry out a request."""


class GuardLink:
    """The bridge's connection to its guard: switch requests, and a new guard if it dies.

    Requests are synchronous (a line out, a line back, well under a millisecond), so when
    ``switch`` returns the relay has switched. ``on_lost`` is called (in the event loop)
    when the guard died and a new one, with every pin off, has taken its place.
    """

    def __init__(
        self,
        pins: list[tuple[int, bool]],
        simulate: bool,
        state_dir: Path,
        *,
        throwaway_state: bool = False,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.pins = pins
        self.simulate = simulate
        self.state_dir = state_dir
        self.throwaway_state = throwaway_state
        self.on_lost = on_lost
        self.process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._watched: int | None = None
        self._spawn()

    def _command(self, fd: int) -> list[str]:
        command = [sys.executable, "-m", "pi_bridge.guard", "--fd", str(fd)]
        command += [f"--pin={pin}:{int(active_high)}" for pin, active_high in self.pins]
        if self.simulate:
            command += ["--simulate", "--state-dir", str(self.state_dir)]
        if self.throwaway_state:
            command.append("--remove-if-orphaned")
        return command

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        path = os.pathsep.join(filter(None, [_package_root(), os.environ.get("PYTHONPATH")]))
        try:
            # Its own session: a Ctrl+C for the bridge's terminal or a signal to the bridge's process
            # group must reach the bridge, which stops the pumps in order, not the guard under it.
            self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                self._command(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                env=os.environ | {"PYTHONPATH": path},
            )
        finally:
            theirs.close()
        ours.settimeout(_START_TIMEOUT)
        self._sock = ours
        try:
            ready = self._read_line()
        except (OSError, GuardError) as err:
            self._discard()
            raise GuardError(f"the pump guard did not start: {err}") from None
        if ready != "ready":
            self._discard()
            raise GuardError(f"the pump guard did not start: said {ready!r}")
        ours.settimeout(_REPLY_TIMEOUT)
        _LOGGER.debug("pump guard %d owns pins %s", self.process.pid, [pin for pin, _ in self.pins])

    def _read_line(self) -> str:
        assert self._sock is not None
        data = b""
        while not data.endswith(b"\n"):
            chunk = self._sock.recv(256)
            if not chunk:
                raise GuardError("the pump guard closed its socket")
            data += chunk
        return data.decode().strip()

    def _request(self, line: str) -> None:
        if self._sock is None:
            raise GuardError("the pump guard is not running")
        self._sock.sendall(line.encode() + b"\n")
        reply = self._read_line()
        if reply != "ok":
            raise GuardError(f"the pump guard refused {line!r}: {reply}")

    def switch(self, pin: int, seconds: float | None) -> None:
        """Relay on for ``seconds`` (the guard's own deadline), or off (None)."""
        line = f"off {pin}" if seconds is None else f"on {pin} {seconds!r}"
        self._watch()
        try:
            self._request(line)
        except (OSError, GuardError) as err:
            if self.process is not None and self.process.poll() is None:
                raise GuardError(str(err)) from None
            # Died since the last request: a new guard drives everything off, then try once more.
            self._replace(f"{err}")
            self._request(line)

    def _watch(self) -> None:
        """Notice a dead guard at once, not at the next request: a pump may be running."""
        with contextlib.suppress(RuntimeError):  # no running loop (start-up, tests): requests notice instead
            loop = asyncio.get_running_loop()
            if self._sock is not None and self._watched != self._sock.fileno():
                loop.add_reader(self._sock.fileno(), self._on_readable)
                self._watched = self._sock.fileno()

    def _on_readable(self) -> None:
        # Between requests the guard never speaks: readable means its end closed.
        self._replace("its socket closed")

    def _replace(self, why: str) -> None:
        code = self.process.wait(5) if self.process is not None else None
        _LOGGER.error("the pump guard died (%s, exit code %s); starting a new one, all pumps off", why, code)
        self._discard()
        self._spawn()
        self._watch()
        if self.on_lost is not None:
            self.on_lost()

    def _discard(self) -> None:
        if self._sock is not None:
            if self._watched is not None:
                with contextlib.suppress(RuntimeError):
                    asyncio.get_running_loop().remove_reader(self._watched)
                self._watched = None
            self._sock.close()
            self._sock = None
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        """Every pin off and the guard gone (a clean stop: the state directory stays)."""
        with contextlib.suppress(OSError, GuardError):
            for pin, _ in self.pins:
                self._request(f"off {pin}")
            self._request("bye")
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._watched = None
        if self.process is not None:
            try:
                self.process.wait(_REPLY_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _package_root() -> str:
    """The directory holding ``pi_bridge``, so ``python -m pi_bridge.guard`` finds it from any cwd."""
    return str(Path(__file__).resolve().parent.parent)
