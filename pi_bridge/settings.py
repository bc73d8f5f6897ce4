"""The bridge's settings: frozen dataclasses, every constraint a piece of ``Annotated`` metadata.

Secrets are ``Secret`` so they never print by accident. The constraints
(``annotated_types`` and the small classes below) are read by pydantic only when it
validates (see ``config``), so this module itself never imports pydantic: the
long-running bridge validates its file in a short-lived child process and keeps only
the resulting dataclasses. pydantic's compiled core and the validators it builds are
about 7 MB of resident memory that a Pi would otherwise carry for the bridge's whole life.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import socket
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from annotated_types import Ge, Gt, Le, MaxLen, MinLen

from hydro_fleet_protocol import DEFAULT_PREFIX, broker_address, is_valid_node_id

from .hostname import warn_if_generic

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

_MASK = "**********"
_T = TypeVar("_T")


class _After:
    """``Annotated`` metadata: run ``check`` on the value after pydantic's type validation.

    A ValueError from ``check`` becomes a validation error naming the key.
    """

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.check, handler(source))


class _Pattern:
    """``Annotated`` metadata: the string must match ``pattern`` (pydantic's own check and message)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.str_schema(pattern=self.pattern)


class Secret:
    """A password: ``repr``, ``str`` and the dumped config show ``**********``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:  # pickled from the validating child
        return (Secret, (self._value,))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _secret: _MASK),
        )


NodeId = Annotated[str, _Pattern(r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Key = Annotated[str, _Pattern(r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Channel = Annotated[int, Ge(0), Le(3)]
Volts = Annotated[float, Ge(0), Le(5)]
Address = Annotated[int, Ge(0x48), Le(0x4B)]
GpioPin = Annotated[int, Ge(0), Le(27)]


def _gain(gain: float) -> float:
    for allowed in (2 / 3, 1, 2, 4, 8, 16):
        if abs(gain - allowed) < 1e-3:
            return allowed
    raise ValueError("gain must be one of 2/3, 1, 2, 4, 8, 16 (ADS1115 ranges)")


# ADS1115 programmable gain: 2/3 -> +-6.144 V, 1 -> +-4.096 V, 2 -> 2.048 V, ... 16 -> 0.256 V.
Gain = Annotated[float, _After(_gain)]


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name


class _Strict:
    # Unknown keys are errors (a typo must not silently fall back to a default).
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerSettings(_Strict):
    """How to reach the MQTT broker: ``host``/``port``, or the members of a broker cluster
    in ``hosts`` (``"host"`` or ``"host:port"``, port default ``port``), tried in turn."""

    host: str = "localhost"
    port: Annotated[int, Ge(1), Le(65535)] = 1883
    hosts: tuple[str, ...] = ()
    username: str | None = None
    password: Secret | None = None
    keepalive: Annotated[int, Ge(5), Le(3600)] = 30
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    # Only for test brokers with self-signed certificates; never on by default.
    tls_insecure: bool = False

    def __post_init__(self) -> None:
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name} {str(path)!r} is not a readable file")
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file (the client certificate)")
        if (self.ca_file or self.cert_file) and not self.tls:
            raise ValueError("ca_file/cert_file are set but tls is false; set tls: true")
        if self.password is not None and self.username is None:
            raise ValueError("password is set but username is not")
        for entry in self.hosts:
            broker_address(entry, self.port)  # raises ValueError naming the entry

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        """Every broker member to try, in order: ``hosts``, else ``host``/``port``."""
        if not self.hosts:
            return ((self.host, self.port),)
        return tuple(broker_address(entry, self.port) for entry in self.hosts)


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpSettings(_Strict):
    """One pump on a relay. ``max_runtime`` is enforced here on the Pi, whatever HA asks."""

    key: Key = "pump"
    name: str = "Pump"
    pin: GpioPin = 17
    active_high: bool = True
    max_runtime: Annotated[float, Gt(0), Le(3600)] = 30.0
    flow_ml_per_min: Annotated[float, Gt(0)] = 600.0
    # The largest volume a watering plan of this pump may ask for; default: what the pump
    # delivers in max_runtime (a bigger plan would be clipped every time).
    max_plan_volume_ml: Annotated[float, Ge(1), Le(100_000)] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalogInput(_Strict):
    """Where a probe's voltage comes from: an ADS1115 channel (single-ended A0..A3)."""

    channel: Channel
    gain: Gain = 1
    address: Address = 0x48


@dataclass(frozen=True, slots=True, kw_only=True)
class TdsProbe(AnalogInput):
    """DFRobot-style TDS board; K comes from calibration (1.0 until calibrated)."""

    channel: Channel = 0
    k_value: Annotated[float, Ge(0.25), Le(4.0)] = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PhProbe(AnalogInput):
    """pH board: the board's output at pH 7 (volts) until a calibration replaces it."""

    channel: Channel = 1
    zero_volts: Volts = 1.5


@dataclass(frozen=True, slots=True, kw_only=True)
class MoistureProbe(AnalogInput):
    """Capacitive moisture probe: higher voltage is drier."""

    channel: Channel = 2
    dry_volts: Volts = 2.8
    wet_volts: Volts = 1.2


@dataclass(frozen=True, slots=True, kw_only=True)
class WaterLevelProbe(AnalogInput):
    """Reservoir level: an analog sensor (%), or a float switch (low/ok)."""

    mode: Literal["analog", "float_switch"] = "analog"
    channel: Channel = 3
    empty_volts: Volts = 0.2
    full_volts: Volts = 3.0
    # Float switch on a GPIO input; "low_when_closed": the switch closes (pin to GND) when water is low.
    pin: GpioPin | None = None
    low_when_closed: bool = True

    def __post_init__(self) -> None:
        if self.mode == "float_switch" and self.pin is None:
            raise ValueError("mode float_switch needs 'pin' (the GPIO the switch is on)")


@dataclass(frozen=True, slots=True, kw_only=True)
class TemperatureProbe(_Strict):
    """Water temperature: a DS18B20 on 1-Wire (sysfs), or a fixed value."""

    source: Literal["ds18b20", "fixed"] = "fixed"
    value: Annotated[float, Ge(-10), Le(60)] = 25.0
    device: str | None = None  # e.g. 28-0123456789ab; None: the first 28-* device found
    sysfs_root: Path = Path("/sys/bus/w1/devices")


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryProbe(AnalogInput):
    """A battery's voltage through a divider, reported as % between empty and full."""

    channel: Channel = 3
    empty_volts: float = 1.0
    full_volts: float = 1.4


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeSettings(_Strict):
    """The node's probes; a probe set to null is not fitted."""

    tds: TdsProbe | None = TdsProbe()
    ph: PhProbe | None = PhProbe()
    moisture: MoistureProbe | None = MoistureProbe()
    water_level: WaterLevelProbe = WaterLevelProbe()
    # None (not configured): 25 °C on a Pi; in --simulate, the simulated plant's water.
    water_temperature: TemperatureProbe | None = None
    battery: BatteryProbe | None = None
    i2c_bus: Annotated[int, Ge(0)] = 1
    # Median of this many conversions per reading; rejects spikes from pumps switching.
    median_of: Annotated[int, Ge(1), Le(31)] = 5

    @property
    def temperature(self) -> TemperatureProbe:
        """The configured water temperature source, or the fixed default."""
        return self.water_temperature or TemperatureProbe()


@dataclass(frozen=True, slots=True, kw_only=True)
class BufferSettings(_Strict):
    """The offline queue: how much to keep while the broker is unreachable."""

    max_days: Annotated[float, Gt(0), Le(365)] = 7.0
    max_rows: Annotated[int, Ge(100)] = 500_000
    batch_size: Annotated[int, Ge(1), Le(1000)] = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraSettings(_Strict):
    """The plant camera: a Pi camera module (picamera2) or a USB webcam (V4L2 through linuxpy).

    ``simulated`` draws a plant that follows the simulated pot; it is the default with
    ``simulate``, and ``picamera2`` without.
    """

    key: Key = "plant"
    name: str = "Plant"
    source: Literal["picamera2", "usb", "simulated"] | None = None
    device: Path = Path("/dev/video0")  # usb only
    width: Annotated[int, Ge(160), Le(4056)] = 1280
    height: Annotated[int, Ge(120), Le(3040)] = 960
    quality: Annotated[int, Ge(10), Le(95)] = 85
    # A JPEG over this is encoded again at a lower quality, then a smaller size, until it fits.
    max_bytes: Annotated[int, Ge(20_000), Le(1_000_000)] = 400_000
    photo_interval: Annotated[float, Ge(1), Le(7 * 86400)] = 3600.0
    watering_photos: bool = True  # one photo before and one after each plan's watering run
    # Photos waiting for the broker: at most this much disk; the oldest go first.
    disk_budget_mb: Annotated[float, Ge(0.05), Le(100_000)] = 200.0
    capture_timeout: Annotated[float, Ge(5), Le(300)] = 60.0
    # --simulate only: simulated plant days per real day, so a demo's time-lapse shows growth.
    growth_speed: Annotated[float, Ge(0), Le(1_000_000)] = 1.0


def _unique_pump_keys(pumps: list[PumpSettings]) -> list[PumpSettings]:
    keys = [p.key for p in pumps]
    if len(keys) != len(set(keys)):
        raise ValueError("pump keys must be unique")
    # With several pumps each plan slot is "<pump key>_plan", and a protocol key has at most 64 characters.
    if len(keys) > 1 and any(len(key) > 59 for key in keys):
        raise ValueError("with several pumps, pump keys must be at most 59 characters (plan slots add '_plan')")
    return pumps


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeConfig(_Strict):
    """Everything the bridge needs to run."""

    node_id: NodeId | None = None
    name: str | None = None
    # Where the node stands ("Greenhouse"); Home Assistant suggests it as the device's area.
    area: Annotated[str, MinLen(1), MaxLen(64)] | None = None
    prefix: str = DEFAULT_PREFIX
    sample_interval: Annotated[float, Gt(0), Le(3600)] = 5.0
    simulate: bool = False
    broker: BrokerSettings = BrokerSettings()
    pumps: Annotated[list[PumpSettings], _After(_unique_pump_keys)] = field(default_factory=lambda: [PumpSettings()])
    # Where calibration, plans, the offline queue and the machine id live. Default: /var/lib/hydro-fleet,
    # or (with simulate) a fresh temporary directory per run.
    state_dir: Path | None = None
    timezone: Annotated[str, _After(_timezone)] = "UTC"
    # Below this water level (%) a pump does not start, and a running one stops.
    water_low_pct: Annotated[float, Ge(0), Le(100)] = 5.0
    # After a plan's pump stops, wait this long for the water to reach the moisture probe
    # before reading the "after" values of the watering report.
    plan_settle_seconds: Annotated[float, Ge(0), Le(3600)] = 30.0
    probes: ProbeSettings = ProbeSettings()
    buffer: BufferSettings = BufferSettings()
    # None: no camera (the default; old configs keep working unchanged).
    camera: CameraSettings | None = None
    # Where the machine id comes from (duplicate node id detection); tests point it elsewhere.
    # Default: /etc/machine-id, or with simulate an id of the node's own in its state_dir.
    machine_id_file: Path | None = None

    @property
    def effective_node_id(self) -> str:
        """The configured node id, else the hostname (``pi-7``)."""
        return self.node_id or node_id_from_hostname(socket.gethostname())

    @property
    def machine_id_source(self) -> Path | None:
        """Where the machine id is read; None for a simulated node, which has an id of its own."""
        if self.machine_id_file is not None:
            return self.machine_id_file
        return None if self.simulate else Path("/etc/machine-id")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def pump(self, key: str) -> PumpSettings | None:
        return next((p for p in self.pumps if p.key == key), None)


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the key."""


def node_id_from_hostname(hostname: str) -> str:
    """``Pi-7.local`` -> ``pi-7``."""
    candidate = hostname.split(".", 1)[0].lower().replace(" ", "-")
    if not is_valid_node_id(candidate):
        raise ConfigError(f"hostname {hostname!r} is not a valid node id; set 'node_id' in the config file")
    warn_if_generic(candidate)
    return candidate
