"""The relay outputs: GPIO lines on a Pi, files in ``--simulate``.

Only the pump guard (``guard.py``) and ``pumps-off`` drive relays. On a Pi a line is a
gpiozero ``OutputDevice``; a line released by a process that dies keeps its last level or
drifts (the kernel leaves it undefined), which is why a live process always holds them.
In ``--simulate`` the electrical level of each pin is the file ``<state_dir>/gpio/<pin>``
("1" high, "0" low): it outlives the process like a line does, so a test or ``pumps-off``
in another process sees and drives the same relay. Neither kind imports gpiozero unless
it needs it (its import takes most of a second on a Pi).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol


class Relay(Protocol):
    """One output line: ``set(True)`` energises the relay (whatever the board's polarity)."""

    def set(self, on: bool) -> None: ...

    def close(self) -> None: ...


def gpio_dir(state_dir: Path) -> Path:
    return state_dir / "gpio"


def read_level(state_dir: Path, pin: int) -> bool | None:
    """The level a simulated relay pin was last driven to (None: never driven)."""
    try:
        return (gpio_dir(state_dir) / str(pin)).read_text().strip() == "1"
    except FileNotFoundError:
        return None


class FileRelay:
    """A simulated relay: its electrical level written to a file on every change."""

    def __init__(self, state_dir: Path, pin: int, active_high: bool) -> None:
        directory = gpio_dir(state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / str(pin)
        self._tmp = directory / f"{pin}.tmp"
        self._active_high = active_high

    def set(self, on: bool) -> None:
        self._tmp.write_text("1" if on == self._active_high else "0")
        # rename is atomic: a reader in another process never sees a half-written file.
        os.replace(self._tmp, self._path)

    def close(self) -> None:
        """A file keeps its level; nothing to release."""


class GpioRelay:
    """A relay on a GPIO line, driven off the moment it is claimed."""

    def __init__(self, pin: int, active_high: bool) -> None:
        from gpiozero import OutputDevice

        self._device: Any = OutputDevice(pin, active_high=active_high, initial_value=False)

    def set(self, on: bool) -> None:
        self._device.value = on

    def close(self) -> None:
        self._device.close()


def open_relay(pin: int, active_high: bool, simulate: bool, state_dir: Path | None) -> Relay:
    """The relay on ``pin``, driven off."""
    relay: Relay
    if simulate:
        if state_dir is None:
            raise ValueError("a simulated relay needs a state_dir")
        relay = FileRelay(state_dir, pin, active_high)
    else:
        relay = GpioRelay(pin, active_high)
    relay.set(False)
    return relay
