"""The receiver's storage: one interface, two engines (SQLite by default, PostgreSQL).

``AsyncStore`` is what the application uses; ``Store`` the synchronous core under it.
Storage keeps rows and queues outbox messages; what a message says is decided by the
node mappings (``nodes``, ``lorawan``).
"""

from .database import is_postgres_url
from .records import (
    IdempotencyKeyTakenError,
    OutboxRow,
    Outcome,
    ReplayError,
    StorageUnavailableError,
    StoredAnswer,
    SyncMeta,
)
from .store import Store
from .worker import AsyncStore

__all__ = [
    "AsyncStore",
    "IdempotencyKeyTakenError",
    "OutboxRow",
    "Outcome",
    "ReplayError",
    "StorageUnavailableError",
    "Store",
    "StoredAnswer",
    "SyncMeta",
    "is_postgres_url",
]
