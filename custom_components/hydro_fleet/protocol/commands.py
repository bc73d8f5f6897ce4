"""Commands to a node and the node's acknowledgements, matched by id."""

from __future__ import annotations

from dataclasses import dataclass, field
import json
from typing import Any, Self

from .const import MAX_PAYLOAD_BYTES, PROTOCOL_VERSION, AckCode, CommandAction
from .validation import (
    MAX_KEY_LEN,
    ProtocolError,
    UnsupportedVersionError,
    compact,
    enum,
    loads,
    obj,
    optional_key,
    optional_text,
    text,
)


@dataclass(frozen=True, slots=True)
class Command:
    """A request to a node; the node answers on ``<node>/ack`` with the same id."""

    id: str
    action: CommandAction
    target: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, payload: bytes | str) -> Self:
        data = loads(payload)
        return cls(
            id=text(data, "id", max_len=MAX_KEY_LEN),
            action=enum(CommandAction, data, "action"),
            target=optional_key(data, "target"),
            params=obj(data, "params"),
        )

    def to_dict(self) -> dict[str, Any]:
        return compact(
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
        data = loads(payload)
        ok = data.get("ok")
        if not isinstance(ok, bool):
            raise ProtocolError("field 'ok' must be true or false")
        ack_id = text(data, "id", max_len=MAX_KEY_LEN)
        code = optional_key(data, "code")
        if code is None and not ok:
            raise ProtocolError("field 'code' is missing")
        return cls(
            id=ack_id,
            ok=ok,
            code=code,
            message=optional_text(data, "message"),
            result=obj(data, "result"),
        )

    def to_dict(self) -> dict[str, Any]:
        return compact(
            {
                "v": PROTOCOL_VERSION,
                "id": self.id,
                "ok": self.ok,
                "code": self.code,
                "message": self.message,
                "result": self.result,
            }
        ) | {"ok": self.ok}


def refusal_for(payload: bytes | str, error: ProtocolError) -> Ack | None:
    """The ack for a command ``Command.parse`` rejected with ``error``; None if it has no id to answer.

    The controller waits for an ack to every command it sends, so a node answers every
    command whose id it can read (a string of 1 to 64 characters): an action it does not
    know is ``unsupported``, another protocol version ``unsupported_version``, anything
    else ``invalid_command``, each with the parser's message naming the field.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    command_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(command_id, str) or not 0 < len(command_id) <= MAX_KEY_LEN:
        return None
    action = data.get("action")
    if isinstance(error, UnsupportedVersionError):
        code = AckCode.UNSUPPORTED_VERSION
    elif isinstance(action, str) and action not in {member.value for member in CommandAction}:
        code = AckCode.UNSUPPORTED
    else:
        code = AckCode.INVALID_COMMAND
    return Ack(command_id, ok=False, code=code, message=str(error))
