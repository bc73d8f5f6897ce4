"""Commands to a node and the node's acknowledgements, matched by id."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

from .const import PROTOCOL_VERSION, CommandAction
from .validation import MAX_KEY_LEN, ProtocolError, compact, enum, loads, obj, optional_key, optional_text, text


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
