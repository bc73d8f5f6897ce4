"""A watering plan as a node runs it: sent as ``set_plan`` params and reported in state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from .const import PlanType
from .validation import ProtocolError, compact, enum, fields_at, items, optional_number

_MAX_PLAN_TIMES = 24


def _time_of_day(value: Any, where: str) -> str:
    """A local time of day as zero-padded "HH:MM"."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":" or not (value[:2] + value[3:]).isdigit():
        raise ProtocolError(f"'{where}' must be a time of day \"HH:MM\", not {str(value)[:20]!r}")
    if int(value[:2]) > 23 or int(value[3:]) > 59:
        raise ProtocolError(f"'{where}' is not a valid time of day: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Plan:
    """A watering plan as the node runs it; sent as ``set_plan`` params and reported in state."""

    type: PlanType
    volume_ml: float | None = None
    threshold: float | None = None  # moisture %, for PlanType.MOISTURE
    check_interval: float | None = None  # seconds
    min_pause: float | None = None  # seconds between two waterings
    times: tuple[str, ...] = ()  # "HH:MM", for PlanType.TIME_BASED

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Self:
        w = fields_at(data, where, what="plan")
        times = items(data, "times", where=w, max_items=_MAX_PLAN_TIMES)
        return cls(
            type=enum(PlanType, data, "type", w),
            volume_ml=optional_number(data, "volume_ml", minimum=0, maximum=100_000, where=w),
            threshold=optional_number(data, "threshold", minimum=0, maximum=100, where=w),
            check_interval=optional_number(data, "check_interval", minimum=1, maximum=604_800, where=w),
            min_pause=optional_number(data, "min_pause", minimum=0, maximum=604_800, where=w),
            times=tuple(sorted({_time_of_day(t, f"{w}times[{i}]") for i, t in enumerate(times)})),
        )

    def check_runnable(self) -> None:
        """Raise ProtocolError unless a node can run this plan: every field its type needs is set.

        Parsing accepts partial plans (a state may report an ``off`` plan half filled in, since
        a controller may edit a plan one field at a time); a node calls this before it accepts
        ``set_plan``.
        """
        if self.type is PlanType.OFF:
            return
        needed = {
            PlanType.BASIC: ("volume_ml", "check_interval"),
            PlanType.MOISTURE: ("volume_ml", "threshold", "check_interval"),
            PlanType.TIME_BASED: ("volume_ml", "times"),
        }[self.type]
        for name in needed:
            if getattr(self, name) in (None, ()):
                raise ProtocolError(f"a {self.type} plan needs '{name}'")
        if not self.volume_ml:
            raise ProtocolError(f"a {self.type} plan needs 'volume_ml' above 0")

    def to_dict(self) -> dict[str, Any]:
        return compact(
            {
                "type": str(self.type),
                "volume_ml": self.volume_ml,
                "threshold": self.threshold,
                "check_interval": self.check_interval,
                "min_pause": self.min_pause,
                "times": list(self.times),
            }
        )
