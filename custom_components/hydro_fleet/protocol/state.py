"""What nodes report: live state, buffered samples (backfill) and events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from .const import MAX_BACKFILL_SAMPLES, PROTOCOL_VERSION, Reading
from .plan import Plan
from .validation import (
    ProtocolError,
    compact,
    fields_at,
    is_key,
    items,
    key,
    loads,
    number,
    obj,
    optional_bool,
    optional_number,
    readings,
)


@dataclass(frozen=True, slots=True)
class PumpState:
    """Whether a pump runs, and until when (unix seconds) if it does."""

    on: bool
    until: float | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Self:
        w = fields_at(data, where)
        on = data.get("on")
        if not isinstance(on, bool):
            raise ProtocolError(f"field '{w}on' must be true or false")
        return cls(on=on, until=optional_number(data, "until", minimum=0, where=w))

    def to_dict(self) -> dict[str, Any]:
        return compact({"on": self.on, "until": self.until})


def _sample_fields(data: Mapping[str, Any], where: str = "") -> tuple[float, int, dict[str, Reading]]:
    """``ts``, ``seq`` and ``readings`` of a sample or state."""
    ts = number(data, "ts", minimum=0, where=where)
    seq = number(data, "seq", minimum=0, where=where)
    return ts, int(seq), readings(data, "readings", where)


@dataclass(frozen=True, slots=True)
class Sample:
    """Readings taken at one moment."""

    ts: float
    seq: int
    readings: dict[str, Reading]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "") -> Self:
        return cls(*_sample_fields(data, where))

    def to_dict(self) -> dict[str, Any]:
        return {"ts": self.ts, "seq": self.seq, "readings": self.readings}


@dataclass(frozen=True, slots=True)
class State:
    """One live sample of a node: readings, probe problems, pumps and health."""

    ts: float
    seq: int
    readings: dict[str, Reading]
    problems: dict[str, Reading] = field(default_factory=dict)
    pumps: dict[str, PumpState] = field(default_factory=dict)
    health: dict[str, Reading] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    # The node's own dry-run decision: true while it refuses and stops pumps for low
    # water. None from a node that makes no such decision (or predates the field).
    water_low: bool | None = None

    @classmethod
    def parse(cls, payload: bytes | str) -> Self:
        data = loads(payload)
        ts, seq, values = _sample_fields(data)
        plans_raw = obj(data, "plans")
        if len(plans_raw) > 32:
            raise ProtocolError("field 'plans' has more than 32 entries")
        plans: dict[str, Plan] = {}
        for name, value in plans_raw.items():
            if not is_key(name):
                raise ProtocolError(f"field 'plans' has an invalid key {name[:70]!r}")
            plans[name] = Plan.from_dict(value, f"plans.{name}")
        pumps_raw = obj(data, "pumps")
        pumps: dict[str, PumpState] = {}
        for name, value in pumps_raw.items():
            if not is_key(name):
                raise ProtocolError(f"field 'pumps' has an invalid key {name[:70]!r}")
            pumps[name] = PumpState.from_dict(value, f"pumps.{name}")
        return cls(
            ts=ts,
            seq=seq,
            readings=values,
            problems=readings(data, "problems"),
            pumps=pumps,
            health=readings(data, "health"),
            plans=plans,
            water_low=optional_bool(data, "water_low"),
        )

    def to_dict(self) -> dict[str, Any]:
        return compact(
            {
                "v": PROTOCOL_VERSION,
                "ts": self.ts,
                "seq": self.seq,
                "readings": self.readings,
                "problems": self.problems,
                "pumps": {k: p.to_dict() for k, p in self.pumps.items()},
                "health": self.health,
                "plans": {k: p.to_dict() for k, p in self.plans.items()},
                "water_low": self.water_low,
            }
        ) | {"readings": self.readings}


@dataclass(frozen=True, slots=True)
class Backfill:
    """Samples a node buffered while it could not publish, oldest first."""

    samples: tuple[Sample, ...]

    @classmethod
    def parse(cls, payload: bytes | str) -> Self:
        data = loads(payload)
        raw = items(data, "samples", max_items=MAX_BACKFILL_SAMPLES)
        samples = []
        for index, item in enumerate(raw):
            samples.append(Sample.from_dict(item, fields_at(item, f"samples[{index}]")))
        return cls(samples=tuple(samples))

    def to_dict(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "samples": [s.to_dict() for s in self.samples]}


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened on a node: a pump start/stop, a watering report..."""

    ts: float
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, payload: bytes | str) -> Self:
        data = loads(payload)
        return cls(
            ts=number(data, "ts", minimum=0),
            type=key(data, "type"),
            data=readings(data, "data"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "ts": self.ts, "type": self.type, "data": self.data}
