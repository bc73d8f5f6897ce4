"""Simulated relays whose state outlives the process, like a real GPIO line does.

On a Pi the relay keeps its last level when the bridge dies, which is why systemd runs
``pumps-off`` after every exit. ``--simulate`` must show the same thing, so each mock
pin's electrical level is mirrored to ``<state_dir>/gpio/<pin>`` ("1" high, "0" low),
and ``pumps-off`` in another process drives that same file low.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin


def gpio_dir(state_dir: Path) -> Path:
    return state_dir / "gpio"


def read_level(state_dir: Path, pin: int) -> bool | None:
    """The level a simulated relay pin was last driven to (None: never driven)."""
    try:
        return (gpio_dir(state_dir) / str(pin)).read_text().strip() == "1"
    except FileNotFoundError:
        return None


class FilePin(MockPin):
    """A mock pin that writes its level to a file on every write."""

    def _set_state(self, value: Any) -> None:
        super()._set_state(value)
        factory: FileMockFactory = self.factory
        path = factory.directory / str(self.info.name).removeprefix("GPIO")
        tmp = path.with_suffix(".tmp")
        tmp.write_text("1" if value else "0")
        # rename is atomic: a reader in another process never sees a half-written file.
        os.replace(tmp, path)


class FileMockFactory(MockFactory):
    """gpiozero's MockFactory with ``FilePin`` pins stored under ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(pin_class=FilePin)
        self.directory = gpio_dir(state_dir)
        self.directory.mkdir(parents=True, exist_ok=True)
