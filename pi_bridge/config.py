"""The bridge's configuration: one YAML or TOML file, validated with pydantic.

Every error names the key and what is wrong; secrets are ``SecretStr`` so they never
print by accident.
"""

from __future__ import annotations

from pathlib import Path
import socket
import tomllib
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
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


class PumpSettings(_Strict):
    """One pump on a relay. ``max_runtime`` is enforced here on the Pi, whatever HA asks."""

    key: Key = "pump"
    name: str = "Pump"
    pin: int = Field(17, ge=0, le=27)
    active_high: bool = True
    max_runtime: float = Field(30.0, gt=0, le=3600)
    flow_ml_per_min: float = Field(600.0, gt=0)


class BridgeConfig(_Strict):
    """Everything the bridge needs to run."""

    node_id: NodeId | None = None
    name: str | None = None
    prefix: str = DEFAULT_PREFIX
    sample_interval: float = Field(5.0, gt=0, le=3600)
    simulate: bool = False
    broker: BrokerSettings = BrokerSettings()
    pumps: list[PumpSettings] = Field(default_factory=lambda: [PumpSettings()])
    state_dir: Path = Path("/var/lib/hydro-fleet")

    @field_validator("pumps")
    @classmethod
    def _unique_pump_keys(cls, pumps: list[PumpSettings]) -> list[PumpSettings]:
        keys = [p.key for p in pumps]
        if len(keys) != len(set(keys)):
            raise ValueError("pump keys must be unique")
        return pumps

    @property
    def effective_node_id(self) -> str:
        """The configured node id, else the hostname (``pi-7``)."""
        return self.node_id or node_id_from_hostname(socket.gethostname())


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the key."""


def node_id_from_hostname(hostname: str) -> str:
    """``Pi-7.local`` -> ``pi-7``."""
    candidate = hostname.split(".", 1)[0].lower().replace(" ", "-")
    if not is_valid_node_id(candidate):
        raise ConfigError(f"hostname {hostname!r} is not a valid node id; set 'node_id' in the config file")
    return candidate


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> BridgeConfig:
    """Read ``path`` (YAML or TOML; None for defaults) and apply ``overrides`` on top."""
    data: dict[str, Any] = {}
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
