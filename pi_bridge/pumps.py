"""Pumps on relays, with safety enforced here on the Pi.

A pump only runs with a deadline, never longer than its ``max_runtime``. The deadline is
kept twice: a timer in the bridge's own event loop (which fires whether or not the
broker, the network or Home Assistant are there, and reports the stop), and the pump
guard's own clock (``guard.py``: the process that holds the relay lines, and switches
them off at the deadline, or at once when the bridge dies). Every pump is off when the
bank is created (after a reboot) and when it is closed (every exit path).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
import logging
from pathlib import Path
import time

from .guard_link import GuardLink
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

    def __init__(self, settings: PumpSettings, on_change: Callable[[PumpChange], None], guard: GuardLink) -> None:
        self.settings = settings
        self._guard = guard
        self._on = False
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
        return self._on

    def start(self, seconds: float | None, reason: str) -> tuple[float, bool]:
        """Run for ``seconds`` (None: the max runtime). Returns (granted seconds, clipped)."""
        limit = self.settings.max_runtime
        granted = limit if seconds is None else min(seconds, limit)
        clipped = seconds is not None and seconds > limit
        loop = asyncio.get_running_loop()
        # The guard first: if it cannot switch, this raises with nothing changed here.
        self._guard.switch(self.settings.pin, granted)
        if self._deadline is not None:
            self._deadline.cancel()
        reason_at_deadline = "max_runtime" if seconds is None or clipped else "deadline"
        self._deadline = loop.call_later(granted, self.stop, reason_at_deadline)
        self.until = time.time() + granted
        if not self.is_on:
            self._started_monotonic = time.monotonic()
            self._on = True
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
        self._guard.switch(self.settings.pin, None)
        if self.is_on:  # unless the guard had died and its replacement's start was reported as the stop
            self._stopped(reason)

    def lost(self) -> None:
        """The guard died and its successor drove the relay off: record the stop (no request)."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.until = None
        if self.is_on:
            self._stopped("guard_lost")

    def _stopped(self, reason: str) -> None:
        self._on = False
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


class PumpBank:
    """All pumps of a node, keyed by pump key, and the guard process that holds their relays."""

    def __init__(
        self,
        settings: list[PumpSettings],
        on_change: Callable[[PumpChange], None],
        state_dir: Path,
        *,
        simulate: bool,
        throwaway_state: bool = False,
    ) -> None:
        self.guard = GuardLink(
            [(s.pin, s.active_high) for s in settings],
            simulate,
            state_dir,
            throwaway_state=throwaway_state,
            on_lost=self._guard_lost,
        )
        self.pumps = {s.key: Pump(s, on_change, self.guard) for s in settings}

    def __getitem__(self, key: str) -> Pump:
        return self.pumps[key]

    def __contains__(self, key: object) -> bool:
        return key in self.pumps

    def __iter__(self) -> Iterator[Pump]:
        return iter(self.pumps.values())

    def all_off(self, reason: str) -> None:
        for pump in self.pumps.values():
            pump.stop(reason)

    def _guard_lost(self) -> None:
        for pump in self.pumps.values():
            pump.lost()

    def close(self) -> None:
        """Every pump off, then the guard stopped (it drives every relay off on its way out too)."""
        try:
            self.all_off("shutdown")
        finally:
            self.guard.close()
