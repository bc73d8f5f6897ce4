"""Dry-run protection's test: is the reservoir too low to run a pump?"""

from __future__ import annotations

from collections.abc import Mapping

from hydro_fleet_protocol import Reading

WATER_LOW_HYSTERESIS = 2.0  # percentage points


class WaterLowLatch:
    """Water low from the analog level or the float switch, with hysteresis on the level.

    Once tripped it stays tripped until the level is WATER_LOW_HYSTERESIS above the limit, so
    a level hovering at the mark (sloshing, ADC noise) cannot chatter the relay on and off.
    """

    def __init__(self, limit_pct: float) -> None:
        self.limit_pct = limit_pct
        self._latched = False
        # The last decision, sent in every state (State.water_low); None before the first sample.
        self.low: bool | None = None

    def update(self, readings: Mapping[str, Reading]) -> bool:
        """Feed a sample's readings to the latch; whether the water is low now."""
        self.low = self._decide(readings)
        return self.low

    def _decide(self, readings: Mapping[str, Reading]) -> bool:
        if readings.get("water_low") is True:
            return True
        level = readings.get("water_level")
        if not isinstance(level, int | float) or isinstance(level, bool):
            return False
        if self._latched:
            self._latched = level < self.limit_pct + WATER_LOW_HYSTERESIS
        else:
            self._latched = level < self.limit_pct
        return self._latched
