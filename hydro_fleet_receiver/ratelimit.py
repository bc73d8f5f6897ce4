"""Per-client token buckets: ``limit`` requests per minute with bursts up to ``limit``."""

from __future__ import annotations

from collections.abc import Callable
import math
import time


class RateLimiter:
    """A token bucket per client key; ``hit`` answers 0 if allowed, else seconds to wait."""

    # Buckets of clients gone quiet are dropped so a scan of many addresses cannot grow memory.
    _MAX_CLIENTS = 10_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def hit(self, client: str) -> int:
        """Take one token for ``client``; return 0, or the Retry-After in whole seconds."""
        now = self._clock()
        tokens, last = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._store(client, tokens - 1.0, now)
            return 0
        self._store(client, tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def _store(self, client: str, tokens: float, now: float) -> None:
        if client not in self._buckets and len(self._buckets) >= self._MAX_CLIENTS:
            full_after = self.capacity / self.rate
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        self._buckets[client] = (tokens, now)
