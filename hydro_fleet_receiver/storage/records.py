"""What storage takes and gives back: request metadata, outcomes, stored answers, outbox rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ReplayError(Exception):
    """The signature was already accepted (found by the UNIQUE constraint in the transaction)."""


class IdempotencyKeyTakenError(Exception):
    """A concurrent request with the same Idempotency-Key committed first."""


class StorageUnavailableError(Exception):
    """The database cannot be reached (a PostgreSQL server restarting): nothing was stored.

    The request may be retried (503); the store reconnects by itself on a later call.
    """


@dataclass(frozen=True, slots=True)
class SyncMeta:
    """What the verification chain learnt about a request, stored in its sync log row."""

    request_id: str
    signature: str
    header_ts: int
    body_sha256: str
    idempotency_key: str | None
    received: float


@dataclass(frozen=True, slots=True)
class Outcome:
    response: dict[str, Any]
    outbox_rows: int
    # ``response`` as JSON, encoded once for the sync log and reused as the HTTP body.
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The first answer given for an Idempotency-Key."""

    body_sha256: str
    response: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    retain: bool
