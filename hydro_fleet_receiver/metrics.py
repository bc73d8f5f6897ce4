"""Sync metrics shown on the receiver's own node: counts, success rate, latency.

The success rate measures the gateway: accepted requests against the rejected ones that
carried a valid access token. Requests without one (scanners, a wrong token, anyone who
can reach the port) are counted as ``rejected_unauthenticated`` and left out of it, or
they could push the rate below the alert threshold while every real sync succeeds.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
import time

from hydro_fleet_protocol import Reading

from .nodes import REJECT_REASONS

_HOUR = 3600
_BUCKET = 60  # the last-hour success rate is kept in one-minute buckets
_LATENCY_SAMPLES = 2048
# Below this the integration raises a repair issue (the seed's 95 % target).
SUCCESS_RATE_TARGET = 95.0
BACKLOG_WARNING = 1000


def _quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


class Metrics:
    """In-memory counters; they restart from zero with the process (the DB has the sync log)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.unauthenticated = 0
        self.last_sync: float | None = None
        self._latencies: deque[float] = deque(maxlen=_LATENCY_SAMPLES)
        # (minute, accepted, rejected with a valid token) for the rolling hour
        self._buckets: deque[list[int]] = deque()

    def clock(self) -> float:
        return self._clock()

    def _bucket(self) -> list[int]:
        minute = int(self._clock() // _BUCKET)
        if not self._buckets or self._buckets[-1][0] != minute:
            self._buckets.append([minute, 0, 0])
        while self._buckets and self._buckets[0][0] <= minute - _HOUR // _BUCKET:
            self._buckets.popleft()
        return self._buckets[-1]

    def accept(self, latency: float) -> None:
        self.accepted += 1
        self.last_sync = self._clock()
        self._latencies.append(latency)
        self._bucket()[1] += 1

    def reject(self, reason: str, *, authenticated: bool) -> None:
        if reason not in REJECT_REASONS:
            reason = "error"
        self.rejected[reason] += 1
        if authenticated:
            self._bucket()[2] += 1
        else:
            self.unauthenticated += 1

    def success_rate(self) -> float | None:
        """Accepted share of the gateway's (authenticated) requests in the last hour, in
        percent; None if there were none."""
        self._bucket()
        accepted = sum(b[1] for b in self._buckets)
        total = accepted + sum(b[2] for b in self._buckets)
        return None if total == 0 else round(100.0 * accepted / total, 2)

    def readings(self, backlog: int, stations: int) -> dict[str, Reading]:
        latencies = sorted(self._latencies)
        p50, p99 = _quantile(latencies, 0.50), _quantile(latencies, 0.99)
        readings: dict[str, Reading] = {
            "accepted": self.accepted,
            "rejected": sum(self.rejected.values()),
            "rejected_unauthenticated": self.unauthenticated,
            "success_rate": self.success_rate(),
            "latency_p50": None if p50 is None else round(p50 * 1000, 2),
            "latency_p99": None if p99 is None else round(p99 * 1000, 2),
            "last_sync": self.last_sync,
            "outbox_backlog": backlog,
            "stations": stations,
        }
        for reason in REJECT_REASONS:
            readings[f"rejected_{reason}"] = self.rejected[reason]
        return readings

    def problems(self, backlog: int) -> dict[str, Reading]:
        """What the integration turns into repair issues."""
        problems: dict[str, Reading] = {}
        rate = self.success_rate()
        if rate is not None and rate < SUCCESS_RATE_TARGET:
            problems["success_rate"] = "below_target"
        if backlog >= BACKLOG_WARNING:
            problems["outbox_backlog"] = "growing"
        return problems
