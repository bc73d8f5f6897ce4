"""Discovery: who a node is and what it has (retained on ``<node>/config``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from .const import PROTOCOL_VERSION, NodeKind, Reading, SensorType
from .photo import CameraConfig, cameras_from
from .validation import (
    ProtocolError,
    compact,
    enum,
    fields_at,
    is_key,
    items,
    key,
    loads,
    number,
    obj,
    optional_number,
    optional_text,
)

# The JSON value kind each sensor type reports; everything else is a number.
_NUMBER = (int, float)
_VALUE_KINDS: dict[SensorType, tuple[type, ...]] = {
    SensorType.TEXT: (str,),
    SensorType.WATER_LOW: (bool,),
}


@dataclass(frozen=True, slots=True)
class SensorConfig:
    """One sensor a node has. ``key`` names its value in ``State.readings``."""

    key: str
    type: SensorType
    name: str | None = None
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    precision: int | None = None
    diagnostic: bool = False
    options: tuple[str, ...] = ()
    # A Material Design Icons name ("mdi:sync") for what the type alone does not say.
    icon: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Self:
        w = fields_at(data, where)
        precision = optional_number(data, "precision", minimum=0, maximum=6, where=w)
        options = items(data, "options", where=w, max_items=32)
        if not all(isinstance(o, str) and is_key(o) for o in options):
            raise ProtocolError(f"field '{w}options' must be a list of lowercase keys")
        return cls(
            key=key(data, "key", where=w),
            type=enum(SensorType, data, "type", w),
            name=optional_text(data, "name", where=w),
            unit=optional_text(data, "unit", where=w, max_len=16),
            minimum=optional_number(data, "min", where=w),
            maximum=optional_number(data, "max", where=w),
            precision=None if precision is None else int(precision),
            diagnostic=data.get("diagnostic") is True,
            options=tuple(options),
            icon=optional_text(data, "icon", where=w, max_len=64),
        )

    def to_dict(self) -> dict[str, Any]:
        return compact(
            {
                "key": self.key,
                "type": str(self.type),
                "name": self.name,
                "unit": self.unit,
                "min": self.minimum,
                "max": self.maximum,
                "precision": self.precision,
                "diagnostic": self.diagnostic or None,
                "options": list(self.options),
                "icon": self.icon,
            }
        )


@dataclass(frozen=True, slots=True)
class PumpConfig:
    """One pump a node drives. ``max_runtime`` is enforced on the node itself."""

    key: str
    name: str | None = None
    max_runtime: float = 60.0
    flow_ml_per_min: float | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Self:
        w = fields_at(data, where)
        return cls(
            key=key(data, "key", where=w),
            name=optional_text(data, "name", where=w),
            max_runtime=number(data, "max_runtime", minimum=0.1, maximum=86400, where=w),
            flow_ml_per_min=optional_number(data, "flow_ml_per_min", minimum=0, where=w),
        )

    def to_dict(self) -> dict[str, Any]:
        return compact(
            {
                "key": self.key,
                "name": self.name,
                "max_runtime": self.max_runtime,
                "flow_ml_per_min": self.flow_ml_per_min,
            }
        )


@dataclass(frozen=True, slots=True)
class PlanConfig:
    """A watering plan slot a node has: which pump it drives and the largest volume it accepts."""

    key: str
    pump: str
    name: str | None = None
    max_volume_ml: float = 5000.0

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Self:
        w = fields_at(data, where)
        return cls(
            key=key(data, "key", where=w),
            pump=key(data, "pump", where=w),
            name=optional_text(data, "name", where=w),
            max_volume_ml=optional_number(data, "max_volume_ml", minimum=1, maximum=100_000, where=w) or 5000.0,
        )

    def to_dict(self) -> dict[str, Any]:
        return compact({"key": self.key, "pump": self.pump, "name": self.name, "max_volume_ml": self.max_volume_ml})


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Discovery: who a node is and what it has (retained on ``<node>/config``)."""

    node_id: str
    kind: NodeKind
    name: str
    model: str | None = None
    manufacturer: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None
    machine_id: str | None = None
    configuration_url: str | None = None
    # Where the node stands ("Greenhouse"): a place name a person would use.
    area: str | None = None
    sample_interval: float | None = None
    sensors: tuple[SensorConfig, ...] = ()
    pumps: tuple[PumpConfig, ...] = ()
    plans: tuple[PlanConfig, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    cameras: tuple[CameraConfig, ...] = ()  # none: an old node, an ESPHome node, a Pi without a camera

    @classmethod
    def parse(cls, payload: bytes | str) -> Self:
        data = loads(payload)
        sensors = tuple(SensorConfig.from_dict(s, f"sensors[{i}]") for i, s in enumerate(items(data, "sensors")))
        pumps = tuple(PumpConfig.from_dict(p, f"pumps[{i}]") for i, p in enumerate(items(data, "pumps", max_items=32)))
        plans = tuple(PlanConfig.from_dict(p, f"plans[{i}]") for i, p in enumerate(items(data, "plans", max_items=32)))
        pump_keys = {p.key for p in pumps}
        for index, plan in enumerate(plans):
            if plan.pump not in pump_keys:
                raise ProtocolError(f"field 'plans[{index}].pump' names no pump of this node: {plan.pump!r}")
        for what, entries in (("sensors", sensors), ("pumps", pumps), ("plans", plans)):
            keys = [entry.key for entry in entries]
            if len(set(keys)) != len(keys):
                raise ProtocolError(f"field '{what}' has duplicate keys")
        node_id = key(data, "node_id")
        return cls(
            node_id=node_id,
            kind=enum(NodeKind, data, "kind"),
            name=optional_text(data, "name") or node_id,
            model=optional_text(data, "model"),
            manufacturer=optional_text(data, "manufacturer"),
            sw_version=optional_text(data, "sw_version"),
            hw_version=optional_text(data, "hw_version"),
            machine_id=optional_text(data, "machine_id"),
            configuration_url=optional_text(data, "configuration_url"),
            area=optional_text(data, "area"),
            sample_interval=optional_number(data, "sample_interval", minimum=0.01),
            sensors=sensors,
            pumps=pumps,
            plans=plans,
            extra=obj(data, "extra"),
            cameras=cameras_from(data.get("cameras")),
        )

    def check_readings(self, readings: Mapping[str, Reading], where: str = "readings") -> None:
        """Raise ProtocolError if a reading has the wrong kind of value for its sensor.

        A pH that arrives as a string is a broken node, not a sample: the whole message
        is rejected rather than shown as a gap.
        """
        for sensor in self.sensors:
            value = readings.get(sensor.key)
            if value is None:
                continue
            expected = _VALUE_KINDS.get(sensor.type, _NUMBER)
            if type(value) in expected:  # the usual case, decided without the bool subtlety below
                continue
            if isinstance(value, bool) is not (expected == (bool,)) or not isinstance(value, expected):
                raise ProtocolError(
                    f"reading '{where}.{sensor.key}' of a {sensor.type} sensor must be "
                    f"{' or '.join(t.__name__ for t in expected)}, not {type(value).__name__}"
                )

    def to_dict(self) -> dict[str, Any]:
        return compact(
            {
                "v": PROTOCOL_VERSION,
                "node_id": self.node_id,
                "kind": str(self.kind),
                "name": self.name,
                "model": self.model,
                "manufacturer": self.manufacturer,
                "sw_version": self.sw_version,
                "hw_version": self.hw_version,
                "machine_id": self.machine_id,
                "configuration_url": self.configuration_url,
                "area": self.area,
                "sample_interval": self.sample_interval,
                "sensors": [s.to_dict() for s in self.sensors],
                "pumps": [p.to_dict() for p in self.pumps],
                "plans": [p.to_dict() for p in self.plans],
                "extra": self.extra,
                "cameras": [c.to_dict() for c in self.cameras],
            }
        )
