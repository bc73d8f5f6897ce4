"""The bridge's configuration: one YAML or TOML file, validated with pydantic.

Every error names the key and what is wrong; secrets are ``SecretStr`` so they never
print by accident.
"""

from __future__ import annotations

from pathlib import Path
import socket
import tomllib
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
import yaml

from hydro_fleet_protocol import DEFAULT_PREFIX, is_valid_node_id

NodeId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Key = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerSettings(_Strict):
    """How to reach the MQTT broker."""

    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    keepalive: int = Field(30, ge=5, le=3600)
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    # Only for test brokers with self-signed certificates; never on by default.
    tls_insecure: bool = False

    @model_validator(mode="after")
    def _tls_files(self) -> BrokerSettings:
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
        return self


class PumpSettings(_Strict):
    """One pump on a relay. ``max_runtime`` is enforced here on the Pi, whatever HA asks."""

    key: Key = "pump"
    name: str = "Pump"
    pin: int = Field(17, ge=0, le=27)
    active_high: bool = True
    max_runtime: float = Field(30.0, gt=0, le=3600)
    flow_ml_per_min: float = Field(600.0, gt=0)
    # The largest volume a watering plan of this pump may ask for; default: what the pump
    # delivers in max_runtime (a bigger plan would be clipped every time).
    max_plan_volume_ml: float | None = Field(None, ge=1, le=100_000)


class AnalogInput(_Strict):
    """Where a probe's voltage comes from: an ADS1115 channel (single-ended A0..A3)."""

    channel: int = Field(ge=0, le=3)
    # ADS1115 programmable gain: 2/3 -> +-6.144 V, 1 -> +-4.096 V, 2 -> 2.048 V, ... 16 -> 0.256 V.
    gain: float = 1
    address: int = Field(0x48, ge=0x48, le=0x4B)

    @field_validator("gain")
    @classmethod
    def _gain(cls, gain: float) -> float:
        for allowed in (2 / 3, 1, 2, 4, 8, 16):
            if abs(gain - allowed) < 1e-3:
                return allowed
        raise ValueError("gain must be one of 2/3, 1, 2, 4, 8, 16 (ADS1115 ranges)")


class TdsProbe(AnalogInput):
    """DFRobot-style TDS board; K comes from calibration (1.0 until calibrated)."""

    channel: int = Field(0, ge=0, le=3)
    k_value: float = Field(1.0, ge=0.25, le=4.0)


class PhProbe(AnalogInput):
    """pH board: the board's output at pH 7 (volts) until a calibration replaces it."""

    channel: int = Field(1, ge=0, le=3)
    zero_volts: float = Field(1.5, ge=0, le=5)


class MoistureProbe(AnalogInput):
    """Capacitive moisture probe: higher voltage is drier."""

    channel: int = Field(2, ge=0, le=3)
    dry_volts: float = Field(2.8, ge=0, le=5)
    wet_volts: float = Field(1.2, ge=0, le=5)


class WaterLevelProbe(_Strict):
    """Reservoir level: an analog sensor (%), or a float switch (low/ok)."""

    mode: Literal["analog", "float_switch"] = "analog"
    channel: int = Field(3, ge=0, le=3)
    gain: float = 1
    address: int = Field(0x48, ge=0x48, le=0x4B)
    empty_volts: float = Field(0.2, ge=0, le=5)
    full_volts: float = Field(3.0, ge=0, le=5)
    # Float switch on a GPIO input; "low_when_closed": the switch closes (pin to GND) when water is low.
    pin: int | None = Field(None, ge=0, le=27)
    low_when_closed: bool = True

    _gain = field_validator("gain")(AnalogInput._gain.__func__)  # type: ignore[attr-defined]

    @model_validator(mode="after")
    def _mode_needs(self) -> WaterLevelProbe:
        if self.mode == "float_switch" and self.pin is None:
            raise ValueError("mode float_switch needs 'pin' (the GPIO the switch is on)")
        return self


class TemperatureProbe(_Strict):
    """Water temperature: a DS18B20 on 1-Wire (sysfs), or a fixed value."""

    source: Literal["ds18b20", "fixed"] = "fixed"
    value: float = Field(25.0, ge=-10, le=60)
    device: str | None = None  # e.g. 28-0123456789ab; None: the first 28-* device found
    sysfs_root: Path = Path("/sys/bus/w1/devices")


class BatteryProbe(AnalogInput):
    """A battery's voltage through a divider, reported as % between empty and full."""

    channel: int = Field(3, ge=0, le=3)
    empty_volts: float = 1.0
    full_volts: float = 1.4


class ProbeSettings(_Strict):
    """The node's probes; a probe set to null is not fitted."""

    tds: TdsProbe | None = TdsProbe()
    ph: PhProbe | None = PhProbe()
    moisture: MoistureProbe | None = MoistureProbe()
    water_level: WaterLevelProbe = WaterLevelProbe()
    water_temperature: TemperatureProbe = TemperatureProbe()
    battery: BatteryProbe | None = None
    i2c_bus: int = Field(1, ge=0)
    # Median of this many conversions per reading; rejects spikes from pumps switching.
    median_of: int = Field(5, ge=1, le=31)


class BufferSettings(_Strict):
    """The offline queue: how much to keep while the broker is unreachable."""

    max_days: float = Field(7.0, gt=0, le=365)
    max_rows: int = Field(500_000, ge=100)
    batch_size: int = Field(500, ge=1, le=1000)


class BridgeConfig(_Strict):
    """Everything the bridge needs to run."""

    node_id: NodeId | None = None
    name: str | None = None
    prefix: str = DEFAULT_PREFIX
    sample_interval: float = Field(5.0, gt=0, le=3600)
    simulate: bool = False
    broker: BrokerSettings = BrokerSettings()
    pumps: list[PumpSettings] = Field(default_factory=lambda: [PumpSettings()])
    # Where calibration, plans, the offline queue and the machine id live. Default: /var/lib/hydro-fleet,
    # or (with simulate) a fresh temporary directory per run.
    state_dir: Path | None = None
    timezone: str = "UTC"
    # Below this water level (%) a pump does not start, and a running one stops.
    water_low_pct: float = Field(5.0, ge=0, le=100)
    # After a plan's pump stops, wait this long for the water to reach the moisture probe
    # before reading the "after" values of the watering report.
    plan_settle_seconds: float = Field(30.0, ge=0, le=3600)
    probes: ProbeSettings = ProbeSettings()
    buffer: BufferSettings = BufferSettings()
    # Where the machine id comes from (duplicate node id detection); tests point it elsewhere.
    machine_id_file: Path = Path("/etc/machine-id")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None
        return name

    @field_validator("pumps")
    @classmethod
    def _unique_pump_keys(cls, pumps: list[PumpSettings]) -> list[PumpSettings]:
        keys = [p.key for p in pumps]
        if len(keys) != len(set(keys)):
            raise ValueError("pump keys must be unique")
        # With several pumps each plan slot is "<pump key>_plan", and a protocol key has at most 64 characters.
        if len(keys) > 1 and any(len(key) > 59 for key in keys):
            raise ValueError("with several pumps, pump keys must be at most 59 characters (plan slots add '_plan')")
        return pumps

    @property
    def effective_node_id(self) -> str:
        """The configured node id, else the hostname (``pi-7``)."""
        return self.node_id or node_id_from_hostname(socket.gethostname())

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
    return candidate


def config_for_this_node(directory: Path, node_id: str | None = None) -> Path:
    """Zero-touch (seed 002): in a directory of node configs, the one named after this Pi.

    One SD image for the whole fleet carries ``nodes/pi-1.yaml``..``pi-99.yaml`` from
    ``provision``; each Pi, named ``pi-N`` when it was flashed, picks its own file.
    """
    node = node_id or node_id_from_hostname(socket.gethostname())
    for suffix in (".yaml", ".yml", ".toml"):
        candidate = directory / f"{node}{suffix}"
        if candidate.is_file():
            return candidate
    raise ConfigError(f"{directory} has no config for node {node!r} (expected {node}.yaml or {node}.toml)")


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> BridgeConfig:
    """Read ``path`` (YAML or TOML; None for defaults) and apply ``overrides`` on top.

    ``path`` may be a directory of per-node files; this node's is picked by node id.
    """
    data: dict[str, Any] = {}
    if path is not None and path.is_dir():
        path = config_for_this_node(path, (overrides or {}).get("node_id"))
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
        try:
            loaded = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {err}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys")
        data = loaded or {}
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        target = data
        *parents, last = dotted.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    try:
        return BridgeConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, path)) from None


def _describe(err: ValidationError, path: Path | None) -> str:
    where = f"{path}: " if path else ""
    lines = []
    for problem in err.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{where}key '{key}': {problem['msg']}")
    return "\n".join(lines)
