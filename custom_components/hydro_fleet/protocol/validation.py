"""Field checks shared by every message: parsing is strict about structure and types.

A message that is wrong anywhere is rejected whole, with a ``ProtocolError`` that names
the field; extra keys are allowed, so that a newer minor revision of a node can add
fields without breaking older readers. Each check has a required form, which returns
the value or raises, and an ``optional_`` form, which returns None for a missing field.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
import json
import math
from typing import Any, Protocol, TypeVar

from .const import MAX_PAYLOAD_BYTES, PROTOCOL_VERSION, Reading

MAX_KEY_LEN = 64
_MAX_TEXT_LEN = 256
_MAX_ABS_NUMBER = 1e12


class ProtocolError(ValueError):
    """A payload that does not follow the protocol; the message says where."""


class UnsupportedVersionError(ProtocolError):
    """A payload of a protocol version this code does not speak."""

    def __init__(self, version: object) -> None:
        super().__init__(f"unsupported protocol version {version!r} (this code speaks {PROTOCOL_VERSION})")
        self.version = version


class Message(Protocol):
    """What every top-level message has: its JSON object."""

    def to_dict(self) -> dict[str, Any]: ...


def encode(message: Message) -> bytes:
    """Encode a message as compact UTF-8 JSON."""
    return json.dumps(message.to_dict(), separators=(",", ":"), allow_nan=False).encode()


def loads(payload: bytes | str) -> dict[str, Any]:
    """The JSON object of a payload of this protocol version."""
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


def _missing(where: str, key: str) -> ProtocolError:
    return ProtocolError(f"field '{where}{key}' is missing")


def optional_number(
    data: Mapping[str, Any],
    key: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    where: str = "",
) -> float | None:
    """A finite number within bounds, or None if the field is missing or null."""
    value = data.get(key)
    if (
        (type(value) is float or type(value) is int)  # the common case, checked inline
        and -_MAX_ABS_NUMBER <= value <= _MAX_ABS_NUMBER  # NaN fails too
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    ):
        return value
    if value is None:
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


def optional_bool(data: Mapping[str, Any], key: str, *, where: str = "") -> bool | None:
    """true or false, or None if the field is missing or null."""
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise ProtocolError(f"field '{where}{key}' must be true or false, not {type(value).__name__}")


def number(
    data: Mapping[str, Any],
    key: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    where: str = "",
) -> float:
    """A required finite number within bounds."""
    value = optional_number(data, key, minimum=minimum, maximum=maximum, where=where)
    if value is None:
        raise _missing(where, key)
    return value


def optional_text(data: Mapping[str, Any], key: str, *, where: str = "", max_len: int = _MAX_TEXT_LEN) -> str | None:
    """A string of at most ``max_len`` characters, or None if the field is missing or null."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"field '{where}{key}' must be a string, not {type(value).__name__}")
    if len(value) > max_len:
        raise ProtocolError(f"field '{where}{key}' is longer than {max_len} characters")
    return value


def text(data: Mapping[str, Any], key: str, *, where: str = "", max_len: int = _MAX_TEXT_LEN) -> str:
    """A required string of at most ``max_len`` characters."""
    value = optional_text(data, key, where=where, max_len=max_len)
    if value is None:
        raise _missing(where, key)
    return value


def optional_key(data: Mapping[str, Any], key: str, *, where: str = "") -> str | None:
    """A key (see ``is_key``), or None if the field is missing or null."""
    value = optional_text(data, key, where=where, max_len=MAX_KEY_LEN)
    if value is not None and not is_key(value):
        raise ProtocolError(f"field '{where}{key}' must be lowercase letters, digits, '_' or '-': {value!r}")
    return value


def key(data: Mapping[str, Any], name: str, *, where: str = "") -> str:
    """A required key (see ``is_key``)."""
    value = optional_key(data, name, where=where)
    if value is None:
        raise _missing(where, name)
    return value


# Keys already found valid: the same few come in every message, so most checks are a
# set lookup. Only valid keys (at most 64 characters) are kept, and at most this many.
_VALID_KEYS: set[str] = set()
_MAX_VALID_KEYS = 4096


def is_key(value: str) -> bool:
    """Whether ``value`` is a key: 1-64 lowercase ASCII letters, digits, '_' or '-'."""
    if value in _VALID_KEYS:
        return True
    valid = (
        bool(value)
        and len(value) <= MAX_KEY_LEN
        and value.replace("_", "a").replace("-", "a").isalnum()
        and value.isascii()
        and value == value.lower()
    )
    if valid and len(_VALID_KEYS) < _MAX_VALID_KEYS:
        _VALID_KEYS.add(value)
    return valid


def obj(data: Mapping[str, Any], key: str, *, where: str = "") -> dict[str, Any]:
    """The object at ``key``; a missing field is an empty object."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"field '{where}{key}' must be an object, not {type(value).__name__}")
    return value


def items(data: Mapping[str, Any], key: str, *, where: str = "", max_items: int = 256) -> list[Any]:
    """The list at ``key``, of at most ``max_items``; a missing field is an empty list."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"field '{where}{key}' must be a list, not {type(value).__name__}")
    if len(value) > max_items:
        raise ProtocolError(f"field '{where}{key}' has more than {max_items} items")
    return value


def fields_at(data: Any, where: str, *, what: str = "") -> str:
    """Check that ``data``, found at ``where``, is an object; returns the prefix of its fields' names."""
    if not isinstance(data, dict):
        raise ProtocolError(f"'{where or what}' must be an object")
    return f"{where}." if where else ""


def reading(value: Any, where: str) -> Reading:
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


def readings(data: Mapping[str, Any], key: str, where: str = "") -> dict[str, Reading]:
    """The readings object at ``key``, validated; it is returned itself (callers pass decoded JSON)."""
    raw = obj(data, key, where=where)
    if len(raw) > 512:
        raise ProtocolError(f"field '{where}{key}' has more than 512 entries")
    # Every live sample passes here: the common case (an exact float or int in range, or
    # null) is checked inline, everything else by reading(), which also names the field.
    for name, value in raw.items():
        if name not in _VALID_KEYS and not is_key(name):
            raise ProtocolError(f"field '{where}{key}' has an invalid key {name[:70]!r}")
        kind = type(value)
        if (kind is float or kind is int) and -_MAX_ABS_NUMBER <= value <= _MAX_ABS_NUMBER:  # NaN fails too
            continue
        if value is not None:
            reading(value, f"{where}{key}.{name}")
    # reading() returns every valid value unchanged, so the decoded object is the result.
    return raw


# A TypeVar, not PEP 695 syntax: the Pi runs Raspberry Pi OS's Python 3.11.
_E = TypeVar("_E", bound=StrEnum)


def enum(kind: type[_E], data: Mapping[str, Any], key: str, where: str = "") -> _E:
    """A required member of ``kind``."""
    value = text(data, key, where=where)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ProtocolError(f"field '{where}{key}' is {value!r}, expected one of: {allowed}") from None


def compact(data: dict[str, Any]) -> dict[str, Any]:
    """Drop None values and empty containers so payloads stay small."""
    return {k: v for k, v in data.items() if v is not None and v not in ({}, [])}
