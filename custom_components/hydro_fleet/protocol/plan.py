"""A watering plan as a node runs it: sent as ``set_plan`` params and reported in state."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Self

from .const import PlanType
from .validation import ProtocolError, compact, enum, fields_at, items, optional_number

_MAX_PLAN_TIMES = 24
# The numbers a plan slot starts with: a cup of water when the pot is below 30 %, checked
# hourly, at most every four hours.
DEFAULT_VOLUME_ML = 250.0
DEFAULT_THRESHOLD = 30.0
DEFAULT_CHECK_INTERVAL = 3600.0
DEFAULT_MIN_PAUSE = 4 * 3600.0
_NEEDED: dict[PlanType, tuple[str, ...]] = {
    PlanType.OFF: (),
    PlanType.BASIC: ("volume_ml", "check_interval"),
    PlanType.MOISTURE: ("volume_ml", "threshold", "check_interval"),
    PlanType.TIME_BASED: ("volume_ml", "times"),
}


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

    def missing(self) -> tuple[str, ...]:
        """The fields this plan's type needs that are unset (a zero volume counts as unset), in field order."""
        needed = _NEEDED[self.type]
        return tuple(
            name for name in needed if getattr(self, name) in (None, ()) or (name == "volume_ml" and not self.volume_ml)
        )

    def check_runnable(self) -> None:
        """Raise ProtocolError unless a node can run this plan: every field its type needs is set.

        Parsing accepts partial plans (a state may report an ``off`` plan half filled in, since
        a controller may edit a plan one field at a time); a node calls this before it accepts
        ``set_plan``. The error names every missing field at once.
        """
        if missing := self.missing():
            names = [f"'{name}'" + (" above 0" if getattr(self, name) == 0 else "") for name in missing]
            raise ProtocolError(f"a {self.type} plan needs {', '.join(names)}")

    def with_defaults(self, max_volume_ml: float) -> Plan:
        """This plan with every unset number given its default (the volume capped at the slot's maximum).

        A slot starts as an ``off`` plan with these numbers, so choosing a plan type works
        at once and the numbers are there to adjust; the times of a time-based plan have no
        sensible default.
        """
        return replace(
            self,
            volume_ml=self.volume_ml or min(DEFAULT_VOLUME_ML, max_volume_ml),
            threshold=DEFAULT_THRESHOLD if self.threshold is None else self.threshold,
            check_interval=self.check_interval or DEFAULT_CHECK_INTERVAL,
            min_pause=DEFAULT_MIN_PAUSE if self.min_pause is None else self.min_pause,
        )

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
