"""The add-on's options: one definition shared by the add-on, the CLI and the tests.

The Supervisor writes ``/data/options.json`` with exactly the keys of ``addon/config.yaml``;
the plain-process receiver reads the same file format, in which only ``secrets``,
``admin_email`` and ``admin_password`` are required: a key left out (or null) takes its
default. Unknown keys are an error (a typo would otherwise silently leave a security
setting at its default).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
import ipaddress
import json
from pathlib import Path
import re
from typing import Any

from hydro_fleet_protocol import DEFAULT_PREFIX, is_valid_node_id

# Shorter secrets make HMAC brute force on a captured request plausible.
MIN_SECRET_LEN = 16
_LOG_LEVELS = ("debug", "info", "warning", "error")
_FILE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# RFC 9110 token characters, the subset that header names use in practice.
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OptionsError(ValueError):
    """The options file is wrong; the message names the key (never its value)."""


@dataclass(frozen=True, slots=True)
class Options:
    """Every option of the add-on, with the defaults ``addon/config.yaml`` declares."""

    secrets: tuple[str, ...]
    admin_email: str
    admin_password: str
    allowed_ips: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    rate_limit_per_minute: int = 100
    login_rate_limit_per_minute: int = 10
    timestamp_window: int = 300
    max_body_kb: int = 256
    access_token_minutes: int = 60
    refresh_token_days: int = 7
    port: int = 8010
    ssl: bool = False
    certfile: str = "fullchain.pem"
    keyfile: str = "privkey.pem"
    station_timeout: int = 1800
    topic_prefix: str = DEFAULT_PREFIX
    node_id: str = "receiver"
    log_level: str = "info"
    mqtt_host: str | None = None
    mqtt_port: int | None = None
    mqtt_username: str | None = None
    mqtt_password: str | None = field(default=None, repr=False)
    # LoRaWAN ingest (ChirpStack HTTP integration); no token leaves the endpoint disabled.
    lorawan_token: str | None = field(default=None, repr=False)
    lorawan_header: str = "Authorization"
    lorawan_timeout: int = 7200
    # PostgreSQL instead of the SQLite file in /data (several receivers may share it); a
    # URL may carry a password, so it is never printed.
    database_url: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        # Never print secrets or passwords, even in a traceback or a debug log.
        return f"Options(port={self.port}, secrets=<{len(self.secrets)}>, allowed_ips={self.allowed_ips!r})"

    @property
    def allowed_networks(self) -> tuple[Network, ...]:
        return tuple(ipaddress.ip_network(a, strict=False) for a in self.allowed_ips)

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return tuple(ipaddress.ip_network(a, strict=False) for a in self.trusted_proxies)

    @property
    def max_body_bytes(self) -> int:
        return self.max_body_kb * 1024


# Keys the Supervisor may leave out (schema ``?``) and that have no default value.
OPTIONAL_KEYS = frozenset({"mqtt_host", "mqtt_port", "mqtt_username", "mqtt_password", "lorawan_token", "database_url"})
OPTION_KEYS = tuple(f.name for f in fields(Options))
# The only keys a file must hold; every other one left out (or null) takes its default.
REQUIRED_KEYS = tuple(f.name for f in fields(Options) if f.default is MISSING and f.default_factory is MISSING)

_INT_RANGES: dict[str, tuple[int, int]] = {
    "rate_limit_per_minute": (1, 100_000),
    "login_rate_limit_per_minute": (1, 1000),
    "timestamp_window": (10, 3600),
    "max_body_kb": (1, 10_240),
    "access_token_minutes": (1, 1440),
    "refresh_token_days": (1, 365),
    "port": (1, 65535),
    "station_timeout": (30, 7 * 86400),
    "mqtt_port": (1, 65535),
    "lorawan_timeout": (60, 7 * 86400),
}


def _str_list(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OptionsError(f"option '{key}' must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def parse_options(data: Any) -> Options:
    """Validate a decoded options object; errors name the option, never its value."""
    if not isinstance(data, dict):
        raise OptionsError("the options file must hold a JSON object")
    unknown = sorted(set(data) - set(OPTION_KEYS))
    if unknown:
        raise OptionsError(f"unknown option(s): {', '.join(unknown)}")
    # The Supervisor writes null for a required option the user has not filled in yet.
    missing = sorted(k for k in REQUIRED_KEYS if data.get(k) is None)
    if missing:
        raise OptionsError(f"missing option(s): {', '.join(missing)}")
    values: dict[str, Any] = {}
    for f in fields(Options):
        if data.get(f.name) is None:
            continue
        value = data[f.name]
        if f.name in ("secrets", "allowed_ips", "trusted_proxies"):
            value = _str_list(f.name, value)
        elif f.name in _INT_RANGES:
            low, high = _INT_RANGES[f.name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise OptionsError(f"option '{f.name}' must be an integer from {low} to {high}")
        elif f.name == "ssl":
            if not isinstance(value, bool):
                raise OptionsError("option 'ssl' must be true or false")
        elif not isinstance(value, str):
            raise OptionsError(f"option '{f.name}' must be a string")
        values[f.name] = value
    options = Options(**values)
    _check(options)
    return options


def _check(options: Options) -> None:
    if not options.secrets:
        raise OptionsError("option 'secrets' needs at least one shared secret")
    for index, secret in enumerate(options.secrets):
        if len(secret) < MIN_SECRET_LEN:
            raise OptionsError(f"option 'secrets' item {index + 1} is shorter than {MIN_SECRET_LEN} characters")
    if "@" not in options.admin_email:
        raise OptionsError("option 'admin_email' must be an email address")
    if len(options.admin_password) < 8:
        raise OptionsError("option 'admin_password' must have at least 8 characters")
    for key in ("allowed_ips", "trusted_proxies"):
        for entry in getattr(options, key):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise OptionsError(f"option '{key}' has an entry that is not an IP address or network") from None
    for key in ("certfile", "keyfile"):
        if not _FILE_NAME.match(getattr(options, key)):
            raise OptionsError(f"option '{key}' must be a file name inside /ssl")
    if not is_valid_node_id(options.node_id):
        raise OptionsError("option 'node_id' must match ^[a-z0-9][a-z0-9_-]{0,62}$")
    if not re.fullmatch(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*", options.topic_prefix):
        raise OptionsError("option 'topic_prefix' must be MQTT topic levels without wildcards")
    if options.lorawan_token and len(options.lorawan_token) < MIN_SECRET_LEN:
        raise OptionsError(f"option 'lorawan_token' is shorter than {MIN_SECRET_LEN} characters")
    if not _HEADER_NAME.fullmatch(options.lorawan_header):
        raise OptionsError("option 'lorawan_header' must be an HTTP header name")
    if options.database_url and not options.database_url.startswith(("postgresql://", "postgres://")):
        raise OptionsError("option 'database_url' must be a postgresql:// URL")
    if options.log_level not in _LOG_LEVELS:
        raise OptionsError(f"option 'log_level' must be one of {', '.join(_LOG_LEVELS)}")


def load_options(path: Path) -> Options:
    """Read and validate an options file (``/data/options.json`` in the add-on)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise OptionsError(f"cannot read the options file {path}: {err.strerror}") from None
    except ValueError as err:
        raise OptionsError(f"the options file {path} is not JSON: {err}") from None
    return parse_options(data)


def default_options_dict(**overrides: Any) -> dict[str, Any]:
    """The default options plus ``overrides`` (which must supply the required keys)."""
    data: dict[str, Any] = {}
    for f in fields(Options):
        if f.name in OPTIONAL_KEYS:
            continue
        if f.default is MISSING:
            continue
        data[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
    data.update(overrides)
    return data
