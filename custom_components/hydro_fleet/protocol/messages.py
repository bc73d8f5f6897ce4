"""Payloads of protocol v1: parsing with clear errors, and encoding.

Every message is one JSON object carrying ``"v": 1``. Parsing is strict about
structure and types (a message that is wrong anywhere is rejected whole, with a
``ProtocolError`` that names the field) and lenient about extra keys, so that a newer
minor revision of a node can add fields without breaking older readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
import json
import math
from typing import Any, Self, TypeVar

PROTOCOL_VERSION = 1
# A discovery config of a station with 48 slots is about 8 KiB; nothing legitimate
# comes near this, and it bounds what a hostile publisher can make us parse.
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_BACKFILL_SAMPLES = 1000
_MAX_KEY_LEN = 64
_MAX_TEXT_LEN = 256
_MAX_ABS_NUMBER = 1e12

Reading = float | int | str | bool | None


class ProtocolError(ValueError):
    """A payload that does not follow the protocol; the message says where."""


class UnsupportedVersionError(ProtocolError):
    """A payload of a protocol version this code does not speak."""

    def __init__(self, version: object) -> None:
        super().__init__(f"unsupported protocol version {version!r} (this code speaks {PROTOCOL_VERSION})")
        self.version = version


class NodeKind(StrEnum):
    """What a node is."""

    PI = "pi"
    STATION = "station"
    ESPHOME = "esphome"
    RECEIVER = "receiver"
    LORAWAN = "lorawan"


class SensorType(StrEnum):
    """What a sensor measures; decides device class and unit in Home Assistant."""

    TDS = "tds"  # ppm
    EC = "ec"  # uS/cm
    PH = "ph"  # pH
    MOISTURE = "moisture"  # %
    WATER_LEVEL = "water_level"  # %
    WATER_LOW = "water_low"  # bool, from a float switch
    WATER_TEMPERATURE = "water_temperature"  # degC
    TEMPERATURE = "temperature"  # degC
    HUMIDITY = "humidity"  # %
    BATTERY = "battery"  # %
    VOLTAGE = "voltage"  # V
    CURRENT = "current"  # A
    SIGNAL = "signal"  # dBm
    TEXT = "text"  # free text / enum value
    COUNT = "count"  # plain number
    TIMESTAMP = "timestamp"  # unix seconds


class CommandAction(StrEnum):
    """What a command asks a node to do."""

    PUMP_ON = "pump_on"
    PUMP_OFF = "pump_off"
    SET_PLAN = "set_plan"
    CALIBRATE = "calibrate"
    IDENTIFY = "identify"


class HealthKey(StrEnum):
    """Keys of ``State.health`` the integration shows as diagnostic sensors (all optional)."""

    UPTIME = "uptime"  # seconds since the bridge started
    RSSI = "rssi"  # Wi-Fi signal, dBm
    CPU_TEMPERATURE = "cpu_temperature"  # degC
    DISK_FREE = "disk_free"  # MB free on the node's data disk
    BATTERY = "battery"  # %
    LAST_CALIBRATION = "last_calibration"  # unix seconds of the newest probe calibration
    FIRMWARE = "firmware"  # text
    CAMERA_OK = "camera_ok"  # bool: the node's camera delivered its last photo (absent: no camera)
    PHOTOS_DROPPED = "photos_dropped"  # photos dropped from the node's full photo buffer since it started


class PlanType(StrEnum):
    """How a watering plan decides when to water (seed 000's plan kinds, plus off)."""

    OFF = "off"
    BASIC = "basic"  # volume_ml every check_interval
    MOISTURE = "moisture"  # volume_ml when moisture < threshold, checked every check_interval, min_pause apart
    TIME_BASED = "time_based"  # volume_ml at each of times (local "HH:MM" on the node)


class EventType(StrEnum):
    """Event types the integration shows; nodes may send others, which are ignored."""

    WATERING_REPORT = "watering_report"
    SAFETY_STOP = "safety_stop"
    CALIBRATION = "calibration"
    POWER_BANK_RETURNED = "power_bank_returned"
    PUMP_STARTED = "pump_started"
    PUMP_STOPPED = "pump_stopped"
    DUPLICATE_NODE = "duplicate_node"
    BUFFER_DROPPED = "buffer_dropped"


class WateringOutcome(StrEnum):
    """How a plan's run went: the ``outcome`` of a ``watering_report`` event."""

    OK = "ok"
    SKIPPED_LOW_WATER = "skipped_low_water"
    SKIPPED_BUSY = "skipped_busy"
    STOPPED_SAFETY = "stopped_safety"
    FAILED = "failed"


# --- validation helpers ---------------------------------------------------------


def _loads(payload: bytes | str) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES} byte limit")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise ProtocolError(f"payload is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"payload must be a JSON object, not {type(data).__name__}")
    version = data.get("v")
    if version is None:
        raise ProtocolError("field 'v' (protocol version) is missing")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise UnsupportedVersionError(version)
    return data


def _number(
    data: Mapping[str, Any],
    key: str,
    *,
    required: bool = True,
    minimum: float | None = None,
    maximum: float | None = None,
    where: str = "",
) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ProtocolError(f"field '{where}{key}' is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"field '{where}{key}' must be a number, not {type(value).__name__}")
    if abs(value) > _MAX_ABS_NUMBER or not math.isfinite(value):  # abs first: isfinite overflows on huge ints
        raise ProtocolError(f"field '{where}{key}' is not a finite number in range: {value!r}")
    if minimum is not None and value < minimum:
        raise ProtocolError(f"field '{where}{key}' must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ProtocolError(f"field '{where}{key}' must be <= {maximum}, got {value}")
    return value


def _text(
    data: Mapping[str, Any], key: str, *, required: bool = True, where: str = "", max_len: int = _MAX_TEXT_LEN
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ProtocolError(f"field '{where}{key}' is missing")
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"field '{where}{key}' must be a string, not {type(value).__name__}")
    if len(value) > max_len:
        raise ProtocolError(f"field '{where}{key}' is longer than {max_len} characters")
    return value


def _key(data: Mapping[str, Any], key: str, *, where: str = "", required: bool = True) -> str | None:
    value = _text(data, key, where=where, required=required, max_len=_MAX_KEY_LEN)
    if value is not None and not _is_key(value):
        raise ProtocolError(f"field '{where}{key}' must be lowercase letters, digits, '_' or '-': {value!r}")
    return value


# Keys already found valid: the same few come in every message, so most checks are a
# set lookup. Only valid keys (at most 64 characters) are kept, and at most this many.
_VALID_KEYS: set[str] = set()
_MAX_VALID_KEYS = 4096


def _is_key(value: str) -> bool:
    if value in _VALID_KEYS:
        return True
    valid = (
        bool(value)
        and len(value) <= _MAX_KEY_LEN
        and value.replace("_", "a").replace("-", "a").isalnum()
        and value.isascii()
        and value == value.lower()
    )
    if valid and len(_VALID_KEYS) < _MAX_VALID_KEYS:
        _VALID_KEYS.add(value)
    return valid


def _object(data: Mapping[str, Any], key: str, *, where: str = "") -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"field '{where}{key}' must be an object, not {type(value).__name__}")
    return value


def _list(data: Mapping[str, Any], key: str, *, where: str = "", max_items: int = 256) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"field '{where}{key}' must be a list, not {type(value).__name__}")
    if len(value) > max_items:
        raise ProtocolError(f"field '{where}{key}' has more than {max_items} items")
    return value


def _fields_at(data: Any, where: str, *, what: str = "") -> str:
    """Check that ``data``, found at ``where``, is an object; returns the prefix of its fields' names."""
    if not isinstance(data, dict):
        raise ProtocolError(f"'{where or what}' must be an object")
    return f"{where}." if where else ""


def _reading(value: Any, where: str) -> Reading:
    """Validate one reading value: a finite number, a short string, a bool or null."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if abs(value) > _MAX_ABS_NUMBER or not math.isfinite(value):  # abs first: isfinite overflows on huge ints
            raise ProtocolError(f"reading '{where}' is not a finite number in range: {value!r}")
        return value
    if isinstance(value, str):
        if len(value) > _MAX_TEXT_LEN:
            raise ProtocolError(f"reading '{where}' is longer than {_MAX_TEXT_LEN} characters")
        return value
    raise ProtocolError(f"reading '{where}' must be a number, string, bool or null, not {type(value).__name__}")


def _readings(data: Mapping[str, Any], key: str, where: str = "") -> dict[str, Reading]:
    """The readings object at ``key``, validated; it is returned itself (callers pass decoded JSON)."""
    raw = _object(data, key, where=where)
    if len(raw) > 512:
        raise ProtocolError(f"field '{where}{key}' has more than 512 entries")
    # Every live sample passes here: the common case (an exact float or int in range, or
    # null) is checked inline, everything else by _reading, which also names the field.
    for name, value in raw.items():
        if not _is_key(name):
            raise ProtocolError(f"field '{where}{key}' has an invalid key {name[:70]!r}")
        kind = type(value)
        if (kind is float or kind is int) and -_MAX_ABS_NUMBER <= value <= _MAX_ABS_NUMBER:  # NaN fails too
            continue
        if value is not None:
            _reading(value, f"{where}{key}.{name}")
    # _reading returns every valid value unchanged, so the decoded object is the result.
    return raw


# A TypeVar, not PEP 695 syntax: the Pi runs Raspberry Pi OS's Python 3.11.
_E = TypeVar("_E", bound=StrEnum)


def _enum(enum: type[_E], data: Mapping[str, Any], key: str, where: str = "") -> _E:
    value = _text(data, key, where=where)
    try:
        return enum(value or "")
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ProtocolError(f"field '{where}{key}' is {value!r}, expected one of: {allowed}") from None


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """Drop None values and empty containers so payloads stay small."""
    return {k: v for k, v in data.items() if v is not None and v not in ({}, [])}


from .photo import CameraConfig, cameras_from  # noqa: E402  (photo.py uses the helpers above)


def encode(message: NodeConfig | State | Backfill | Event | Command | Ack) -> bytes:
    """Encode a message as compact UTF-8 JSON."""
    return json.dumps(message.to_dict(), separators=(",", ":"), allow_nan=False).encode()


# --- discovery -------------------------------------------------------------------

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

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Self:
        w = _fields_at(data, where)
        precision = _number(data, "precision", required=False, minimum=0, maximum=6, where=w)
        options = _list(data, "options", where=w, max_items=32)
        if not all(isinstance(o, str) and _is_key(o) for o in options):
            raise ProtocolError(f"field '{w}options' must be a list of lowercase keys")
        return cls(
            key=_key(data, "key", where=w),  # type: ignore[arg-type]
            type=_enum(SensorType, data, "type", w),
            name=_text(data, "name", required=False, where=w),
            unit=_text(data, "unit", required=False, where=w, max_len=16),
            minimum=_number(data, "min", required=False, where=w),
            maximum=_number(data, "max", required=False, where=w),
            precision=None if precision is None else int(precision),
            diagnostic=data.get("diagnostic") is True,
            options=tuple(options),
        )

    def to_dict(self) -> dict[str, Any]:
        return _compact(
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
        w = _fields_at(data, where)
        return cls(
            key=_key(data, "key", where=w),  # type: ignore[arg-type]
            name=_text(data, "name", required=False, where=w),
            max_runtime=_number(data, "max_runtime", minimum=0.1, maximum=86400, where=w),  # type: ignore[arg-type]
            flow_ml_per_min=_number(data, "flow_ml_per_min", required=False, minimum=0, where=w),
        )

    def to_dict(self) -> dict[str, Any]:
        return _compact(
            {
                "key": self.key,
                "name": self.name,
                "max_runtime": self.max_runtime,
                "flow_ml_per_min": self.flow_ml_per_min,
            }
        )


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
        w = _fields_at(data, where, what="plan")
        times = _list(data, "times", where=w, max_items=_MAX_PLAN_TIMES)
        return cls(
            type=_enum(PlanType, data, "type", w),
            volume_ml=_number(data, "volume_ml", required=False, minimum=0, maximum=100_000, where=w),
            threshold=_number(data, "threshold", required=False, minimum=0, maximum=100, where=w),
            check_interval=_number(data, "check_interval", required=False, minimum=1, maximum=604_800, where=w),
            min_pause=_number(data, "min_pause", required=False, minimum=0, maximum=604_800, where=w),
            times=tuple(sorted({_time_of_day(t, f"{w}times[{i}]") for i, t in enumerate(times)})),
        )

    def check_runnable(self) -> None:
        """Raise ProtocolError unless a node can run this plan: every field its type needs is set.

        Parsing accepts partial plans (a state may report an ``off`` plan half filled in, since
        HA edits a plan one field at a time); a node calls this before it accepts ``set_plan``.
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
        return _compact(
            {
                "type": str(self.type),
                "volume_ml": self.volume_ml,
                "threshold": self.threshold,
                "check_interval": self.check_interval,
                "min_pause": self.min_pause,
                "times": list(self.times),
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
        w = _fields_at(data, where)
        return cls(
            key=_key(data, "key", where=w),  # type: ignore[arg-type]
            pump=_key(data, "pump", where=w),  # type: ignore[arg-type]
            name=_text(data, "name", required=False, where=w),
            max_volume_ml=_number(data, "max_volume_ml", required=False, minimum=1, maximum=100_000, where=w) or 5000.0,
        )

    def to_dict(self) -> dict[str, Any]:
        return _compact({"key": self.key, "pump": self.pump, "name": self.name, "max_volume_ml": self.max_volume_ml})


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
    sample_interval: float | None = None
    sensors: tuple[SensorConfig, ...] = ()
    pumps: tuple[PumpConfig, ...] = ()
    plans: tuple[PlanConfig, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    cameras: tuple[CameraConfig, ...] = ()

    @classmethod
    def parse(cls, payload: bytes | str) -> Self:
        data = _loads(payload)
        sensors = tuple(SensorConfig.from_dict(s, f"sensors[{i}]") for i, s in enumerate(_list(data, "sensors")))
        pumps = tuple(PumpConfig.from_dict(p, f"pumps[{i}]") for i, p in enumerate(_list(data, "pumps", max_items=32)))
        plans = tuple(PlanConfig.from_dict(p, f"plans[{i}]") for i, p in enumerate(_list(data, "plans", max_items=32)))
        pump_keys = {p.key for p in pumps}
        for index, plan in enumerate(plans):
            if plan.pump not in pump_keys:
                raise ProtocolError(f"field 'plans[{index}].pump' names no pump of this node: {plan.pump!r}")
        for what, items in (("sensors", sensors), ("pumps", pumps), ("plans", plans)):
            keys = [item.key for item in items]
            if len(set(keys)) != len(keys):
                raise ProtocolError(f"field '{what}' has duplicate keys")
        node_id = _key(data, "node_id")
        return cls(
            node_id=node_id,  # type: ignore[arg-type]
            kind=_enum(NodeKind, data, "kind"),
            name=_text(data, "name", required=False) or node_id,  # type: ignore[arg-type]
            model=_text(data, "model", required=False),
            manufacturer=_text(data, "manufacturer", required=False),
            sw_version=_text(data, "sw_version", required=False),
            hw_version=_text(data, "hw_version", required=False),
            machine_id=_text(data, "machine_id", required=False),
            configuration_url=_text(data, "configuration_url", required=False),
            sample_interval=_number(data, "sample_interval", required=False, minimum=0.01),
            sensors=sensors,
            pumps=pumps,
            plans=plans,
            extra=_object(data, "extra"),
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
        return _compact(
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
                "sample_interval": self.sample_interval,
                "sensors": [s.to_dict() for s in self.sensors],
                "pumps": [p.to_dict() for p in self.pumps],
                "plans": [p.to_dict() for p in self.plans],
                "extra": self.extra,
                "cameras": [c.to_dict() for c in self.cameras],
            }
        )


# --- state ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PumpState:
    """Whether a pump runs, and until when (unix seconds) if it does."""

    on: bool
    until: float | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Self:
        w = _fields_at(data, where)
        on = data.get("on")
        if not isinstance(on, bool):
            raise ProtocolError(f"field '{w}on' must be true or false")
        return cls(on=on, until=_number(data, "until", required=False, minimum=0, where=w))

    def to_dict(self) -> dict[str, Any]:
        return _compact({"on": self.on, "until": self.until})


def _sample_fields(data: Mapping[str, Any], where: str = "") -> tuple[float, int, dict[str, Reading]]:
    """``ts``, ``seq`` and ``readings`` of a sample or state."""
    ts = _number(data, "ts", minimum=0, where=where)
    seq = _number(data, "seq", minimum=0, where=where)
    return ts, int(seq), _readings(data, "readings", where)  # type: ignore[arg-type,return-value]


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

    @classmethod
    def parse(cls, payload: bytes | str) -> Self:
        data = _loads(payload)
        ts, seq, readings = _sample_fields(data)
        plans_raw = _object(data, "plans")
        if len(plans_raw) > 32:
            raise ProtocolError("field 'plans' has more than 32 entries")
        plans: dict[str, Plan] = {}
        for key, value in plans_raw.items():
            if not _is_key(key):
                raise ProtocolError(f"field 'plans' has an invalid key {key[:70]!r}")
            plans[key] = Plan.from_dict(value, f"plans.{key}")
        pumps_raw = _object(data, "pumps")
        pumps: dict[str, PumpState] = {}
        for key, value in pumps_raw.items():
            if not _is_key(key):
                raise ProtocolError(f"field 'pumps' has an invalid key {key[:70]!r}")
            pumps[key] = PumpState.from_dict(value, f"pumps.{key}")
        return cls(
            ts=ts,
            seq=seq,
            readings=readings,
            problems=_readings(data, "problems"),
            pumps=pumps,
            health=_readings(data, "health"),
            plans=plans,
        )

    def to_dict(self) -> dict[str, Any]:
        return _compact(
            {
                "v": PROTOCOL_VERSION,
                "ts": self.ts,
                "seq": self.seq,
                "readings": self.readings,
                "problems": self.problems,
                "pumps": {k: p.to_dict() for k, p in self.pumps.items()},
                "health": self.health,
                "plans": {k: p.to_dict() for k, p in self.plans.items()},
            }
        ) | {"readings": self.readings}


@dataclass(frozen=True, slots=True)
class Backfill:
    """Samples a node buffered while it could not publish, oldest first."""

    samples: tuple[Sample, ...]

    @classmethod
    def parse(cls, payload: bytes | str) -> Self:
        data = _loads(payload)
        raw = _list(data, "samples", max_items=MAX_BACKFILL_SAMPLES)
        samples = []
        for index, item in enumerate(raw):
            samples.append(Sample.from_dict(item, _fields_at(item, f"samples[{index}]")))
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
        data = _loads(payload)
        return cls(
            ts=_number(data, "ts", minimum=0),  # type: ignore[arg-type]
            type=_key(data, "type"),  # type: ignore[arg-type]
            data=_readings(data, "data"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "ts": self.ts, "type": self.type, "data": self.data}


# --- commands ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """A request to a node; the node answers on ``<node>/ack`` with the same id."""

    id: str
    action: CommandAction
    target: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, payload: bytes | str) -> Self:
        data = _loads(payload)
        return cls(
            id=_text(data, "id", max_len=_MAX_KEY_LEN),  # type: ignore[arg-type]
            action=_enum(CommandAction, data, "action"),
            target=_key(data, "target", required=False),
            params=_object(data, "params"),
        )

    def to_dict(self) -> dict[str, Any]:
        return _compact(
            {
                "v": PROTOCOL_VERSION,
                "id": self.id,
                "action": str(self.action),
                "target": self.target,
                "params": self.params,
            }
        )


@dataclass(frozen=True, slots=True)
class Ack:
    """The result of one command: ok, or an error code with a readable message."""

    id: str
    ok: bool
    code: str | None = None
    message: str | None = None
    result: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, payload: bytes | str) -> Self:
        data = _loads(payload)
        ok = data.get("ok")
        if not isinstance(ok, bool):
            raise ProtocolError("field 'ok' must be true or false")
        return cls(
            id=_text(data, "id", max_len=_MAX_KEY_LEN),  # type: ignore[arg-type]
            ok=ok,
            code=_key(data, "code", required=not ok),
            message=_text(data, "message", required=False),
            result=_object(data, "result"),
        )

    def to_dict(self) -> dict[str, Any]:
        return _compact(
            {
                "v": PROTOCOL_VERSION,
                "id": self.id,
                "ok": self.ok,
                "code": self.code,
                "message": self.message,
                "result": self.result,
            }
        ) | {"ok": self.ok}


def as_dict(message: Any) -> dict[str, Any]:
    """A plain dict of any protocol dataclass (for diagnostics)."""
    return asdict(message)
