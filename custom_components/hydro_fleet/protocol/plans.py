"""Protocol v1 additions for nodes that water on their own (the Pi bridge).

Additive only: new command params, event types and health keys; no existing field
changes meaning. Documented in ``docs/bridge.md`` ("Protocol additions").

- ``set_plan``: ``target`` is the plan key (a slot of ``NodeConfig.plans``), ``params``
  the integration's ``Plan.to_dict()`` or a fuller ``WateringPlan.to_params()``;
  ``{"type": "off"}`` or ``{"delete": true}`` clears it. The node reports plans as
  ``Plan`` (``WateringPlan.to_plan``) in every ``State.plans`` and in the ack.
- ``calibrate``: ``target`` is the probe; params per probe in ``CALIBRATE_PARAMS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import re
from typing import Any, Self

from .messages import Plan, PlanType, ProtocolError, _is_key

MAX_PLANS = 16
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


class WateringOutcome(StrEnum):
    """``watering_report`` data ``outcome``."""

    OK = "ok"
    SKIPPED_LOW_WATER = "skipped_low_water"
    SKIPPED_BUSY = "skipped_busy"
    STOPPED_SAFETY = "stopped_safety"
    FAILED = "failed"


# Keys of State.health from a Pi bridge (all flat values; absent when not readable).
HEALTH_KEYS = (
    "uptime",  # s since the bridge started
    "rssi",  # dBm of wlan0, from /proc/net/wireless
    "cpu_temperature",  # degC
    "disk_free",  # MB free where the state directory lives
    "battery",  # % (only with a battery probe)
    "firmware",  # bridge version
    "last_calibration",  # unix seconds of the newest calibration, any probe
    "buffered",  # samples waiting in the offline queue
    # plus "probe_<sensor key>": "ok" | "unavailable" | "disconnected" | "saturated" | "out_of_range"
)

# calibrate: target -> params it takes.
CALIBRATE_PARAMS = {
    "tds": "standard_ppm (number, default 707): the standard solution the probe is in",
    "ph": "buffer (4, 7 or 10): the buffer the probe is in; restart (bool): forget earlier points",
    "moisture": "point ('dry' or 'wet'): the probe is in dry air / in water",
    "water_level": "point ('empty' or 'full'): the reservoir is empty / full",
}


def _positive(data: dict[str, Any], key: str, *, required: bool, maximum: float) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ProtocolError(f"plan field '{key}' is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
        raise ProtocolError(f"plan field '{key}' must be a number above 0 and at most {maximum:g}")
    return float(value)


@dataclass(frozen=True, slots=True)
class WateringPlan:
    """One plan on a node. ``pump`` is the pump key, ``volume_ml`` per run."""

    key: str
    type: PlanType
    volume_ml: float
    pump: str = "pump"
    enabled: bool = True
    start_at: float | None = None  # basic
    threshold_pct: float | None = None  # moisture
    check_interval: float | None = None  # moisture (and a repeating basic), seconds
    min_pause: float = 0.0  # moisture, seconds between runs
    times: tuple[str, ...] = ()  # time_based, "HH:MM" or "HH:MM:SS" local time
    settle_seconds: float = 30.0  # wait after the pump stops before reading "after" values

    @classmethod
    def from_params(cls, key: str, params: dict[str, Any]) -> Self:
        """Validate a set_plan command's params; ProtocolError names the field."""
        if not isinstance(key, str) or not _is_key(key):
            raise ProtocolError("plan key (the command target) must be a lowercase key")
        raw_type = params.get("type")
        if raw_type not in {PlanType.BASIC, PlanType.MOISTURE, PlanType.TIME_BASED}:
            raise ProtocolError("plan field 'type' must be one of: basic, moisture, time_based")
        plan_type = PlanType(raw_type)
        pump = params.get("pump", "pump")
        if not isinstance(pump, str) or not _is_key(pump):
            raise ProtocolError("plan field 'pump' must be a pump key")
        enabled = params.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ProtocolError("plan field 'enabled' must be true or false")
        volume = _positive(params, "volume_ml", required=True, maximum=100_000)
        settle = params.get("settle_seconds", 30.0)
        if isinstance(settle, bool) or not isinstance(settle, int | float) or not 0 <= settle <= 3600:
            raise ProtocolError("plan field 'settle_seconds' must be 0..3600")
        if "threshold" in params and "threshold_pct" not in params:
            params = params | {"threshold_pct": params["threshold"]}  # ``Plan.to_dict()`` spells it so
        fields: dict[str, Any] = {}
        if plan_type is PlanType.BASIC:
            # With check_interval a basic plan repeats (``Plan``'s meaning); without, it runs once.
            fields["check_interval"] = _positive(params, "check_interval", required=False, maximum=7 * 86400)
            start = params.get("start_at")
            if start is not None and (isinstance(start, bool) or not isinstance(start, int | float) or start < 0):
                raise ProtocolError("plan field 'start_at' must be unix seconds")
            fields["start_at"] = None if start is None else float(start)
        elif plan_type is PlanType.MOISTURE:
            fields["threshold_pct"] = _positive(params, "threshold_pct", required=True, maximum=100)
            fields["check_interval"] = _positive(params, "check_interval", required=True, maximum=86400)
            fields["min_pause"] = _positive(params, "min_pause", required=False, maximum=7 * 86400) or 0.0
        else:
            times = params.get("times")
            if not isinstance(times, list) or not times or len(times) > 48:
                raise ProtocolError("plan field 'times' must be a list of 1..48 times of day")
            for value in times:
                if not isinstance(value, str) or not _TIME_OF_DAY.match(value):
                    raise ProtocolError(f"plan field 'times' has {value!r}; use HH:MM or HH:MM:SS (24 h)")
            fields["times"] = tuple(sorted(set(times)))
        return cls(key=key, type=plan_type, volume_ml=volume, pump=pump, enabled=enabled,  # type: ignore[arg-type]
                   settle_seconds=float(settle), **fields)

    def to_params(self) -> dict[str, Any]:
        """The set_plan params (and the stored form); ``key`` is not included."""
        data: dict[str, Any] = {"type": str(self.type), "pump": self.pump, "volume_ml": self.volume_ml,
                                "enabled": self.enabled, "settle_seconds": self.settle_seconds}
        if self.type is PlanType.BASIC and self.start_at is not None:
            data["start_at"] = self.start_at
        if self.type is PlanType.BASIC and self.check_interval is not None:
            data["check_interval"] = self.check_interval
        if self.type is PlanType.MOISTURE:
            data |= {"threshold_pct": self.threshold_pct, "check_interval": self.check_interval,
                     "min_pause": self.min_pause}
        if self.type is PlanType.TIME_BASED:
            data["times"] = list(self.times)
        return data

    def to_dict(self) -> dict[str, Any]:
        """The stored form with its key."""
        return {"key": self.key} | self.to_params()

    def to_plan(self) -> Plan:
        """As ``State.plans`` and set_plan acks report it (the integration's ``Plan``).

        A disabled plan is ``off``; times are given to the minute there ("HH:MM").
        """
        if not self.enabled:
            return Plan(type=PlanType.OFF)
        return Plan(type=self.type, volume_ml=self.volume_ml, threshold=self.threshold_pct,
                    check_interval=self.check_interval, min_pause=self.min_pause or None,
                    times=tuple(sorted({t[:5] for t in self.times})))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise ProtocolError("a plan must be an object")
        return cls.from_params(data.get("key"), {k: v for k, v in data.items() if k != "key"})  # type: ignore[arg-type]


def time_of_day_seconds(value: str) -> int:
    """Seconds after midnight of an "HH:MM[:SS]" string (validated by WateringPlan)."""
    match = _TIME_OF_DAY.match(value)
    if match is None:
        raise ProtocolError(f"not a time of day: {value!r}")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
