"""Pumps on relays, with safety enforced here on the Pi.

A pump only runs with a deadline, never longer than its ``max_runtime``; the deadline
is a timer in the bridge's own event loop, so it fires whether or not the broker,
the network or Home Assistant are there. Every pump is driven off when the bank is
created (after a reboot) and when it is closed (every exit path).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
import logging
import time

from gpiozero import OutputDevice

from .settings import PumpSettings

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PumpChange:
    """A start or stop, reported as an event."""

    pump: str
    on: bool
    reason: str
    duration: float | None = None  # requested run time (start) or time it ran (stop)


class Pump:
    """One relay-driven pump with a deadline."""

    def __init__(self, settings: PumpSettings, on_change: Callable[[PumpChange], None]) -> None:
        self.settings = settings
        # initial_value=False: the relay is driven to "off" the moment we own the pin.
        self._device = OutputDevice(settings.pin, active_high=settings.active_high, initial_value=False)
        self._on_change = on_change
        self._deadline: asyncio.TimerHandle | None = None
        self._started_monotonic: float | None = None
        self.until: float | None = None  # wall-clock deadline, reported to HA
        self.ran_seconds = 0.0  # total run time, for flow accounting
        self._stop_waiters: list[asyncio.Future[tuple[str, float]]] = []

    @property
    def key(self) -> str:
        return self.settings.key

    @property
    def is_on(self) -> bool:
        return bool(self._device.value)

    def start(self, seconds: float | None, reason: str) -> tuple[float, bool]:
        """Run for ``seconds`` (None: the max runtime). Returns (granted seconds, clipped)."""
        limit = self.settings.max_runtime
        granted = limit if seconds is None else min(seconds, limit)
        clipped = seconds is not None and seconds > limit
        loop = asyncio.get_running_loop()
        if self._deadline is not None:
            self._deadline.cancel()
        reason_at_deadline = "max_runtime" if seconds is None or clipped else "deadline"
        self._deadline = loop.call_later(granted, self.stop, reason_at_deadline)
        self.until = time.time() + granted
        if not self.is_on:
            self._started_monotonic = time.monotonic()
            self._device.on()
        _LOGGER.info("pump %s on for %.1f s (%s)", self.key, granted, reason)
        self._on_change(PumpChange(self.key, True, reason, granted))
        return granted, clipped

    def stop(self, reason: str) -> None:
        """Stop now (a no-op when already off)."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.until = None
        if not self.is_on:
            return
        self._device.off()
        ran = time.monotonic() - (self._started_monotonic or time.monotonic())
        self.ran_seconds += ran
        self._started_monotonic = None
        _LOGGER.info("pump %s off after %.2f s (%s)", self.key, ran, reason)
        waiters, self._stop_waiters = self._stop_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result((reason, ran))
        self._on_change(PumpChange(self.key, False, reason, round(ran, 3)))

    def stopped(self) -> asyncio.Future[tuple[str, float]]:
        """A future for the next stop: (reason, seconds it ran). Take it before ``start``."""
        waiter: asyncio.Future[tuple[str, float]] = asyncio.get_running_loop().create_future()
        self._stop_waiters.append(waiter)
        return waiter

    def running_seconds(self) -> float:
        """Total run time including the current run."""
        current = time.monotonic() - self._started_monotonic if self._started_monotonic else 0.0
        return self.ran_seconds + current

    def close(self) -> None:
        self.stop("shutdown")
        self._device.off()
        self._device.close()


class PumpBank:
    """All pumps of a node, keyed by pump key."""

    def __init__(self, settings: list[PumpSettings], on_change: Callable[[PumpChange], None]) -> None:
        self.pumps = {s.key: Pump(s, on_change) for s in settings}

    def __getitem__(self, key: str) -> Pump:
        return self.pumps[key]

    def __contains__(self, key: object) -> bool:
        return key in self.pumps

    def __iter__(self) -> Iterator[Pump]:
        return iter(self.pumps.values())

    def all_off(self, reason: str) -> None:
        for pump in self.pumps.values():
            pump.stop(reason)

    def close(self) -> None:
        for pump in self.pumps.values():
            pump.close()


def drive_all_off(settings: list[PumpSettings]) -> None:
    """Drive every configured relay to off and release it (``hydro-fleet-bridge pumps-off``)."""
    for pump in settings:
        device = OutputDevice(pump.pin, active_high=pump.active_high, initial_value=False)
        device.off()
        device.close()
