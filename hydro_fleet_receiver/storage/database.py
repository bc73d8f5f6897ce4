"""One connection to the receiver's database, whichever engine it is.

The store writes its SQL once, with ``?`` placeholders and upserts both engines know;
a ``Database`` runs it on SQLite (a file in the data directory, the default) or on
PostgreSQL (``postgresql://...``, for several replicas). What differs between the
engines (transactions, row locks, constraint names, a lost connection) is answered here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
import sqlite3
from typing import Any, Protocol

from .tables import SCHEMA

type Params = Sequence[Any]


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Any: ...


class Database(Protocol):
    """What the store needs of a connection; rows are read by column name."""

    # Appended to a SELECT of the row a transaction is about to change: PostgreSQL locks it
    # against other replicas; SQLite has one writer at a time anyway.
    for_update: str
    # Whether outbox row ids become visible in order (one writer), so a range delete is safe.
    serial_writer: bool
    errors: tuple[type[Exception], ...]

    def execute(self, sql: str, params: Params = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    def begin(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None:
        """Roll back the open transaction, if any (an engine may have done it already)."""

    def unique_violation(self, err: Exception) -> str | None:
        """``table.column`` of the UNIQUE constraint ``err`` is about, else None."""

    def lazily(self) -> AbstractContextManager[None]:
        """Transactions inside commit without waiting for durability: for writes whose
        loss only repeats work."""

    def try_lead(self) -> bool:
        """Whether this process is the one that publishes the outbox (asked before each round)."""

    def close(self) -> None: ...


class SQLiteDatabase:
    """A SQLite file in WAL mode, every commit durable (``synchronous=FULL``)."""

    for_update = ""
    serial_writer = True
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        # Autocommit mode: transactions are explicit BEGIN IMMEDIATE / COMMIT below.
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # The savepoint (sub-)journals of a group commit in memory: they only ever serve a
        # rollback within the open transaction, and spilling them to a temporary file was
        # a write per touched page, a good part of a request's database CPU.
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._db.executemany(sql, rows)

    def begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        # SQLite may have rolled back already (I/O error, RAISE(ROLLBACK)); a second
        # ROLLBACK would fail and hide the original error.
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def unique_violation(self, err: Exception) -> str | None:
        message = str(err)
        if isinstance(err, sqlite3.IntegrityError) and message.startswith("UNIQUE constraint failed: "):
            return message.removeprefix("UNIQUE constraint failed: ")
        return None

    @contextmanager
    def lazily(self) -> Iterator[None]:
        """In WAL mode ``synchronous=NORMAL`` skips the commits' fsync; the next ``FULL``
        commit (or checkpoint) syncs them along."""
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous=FULL")

    def try_lead(self) -> bool:
        return True  # one process owns a SQLite file

    def close(self) -> None:
        self._db.close()


def is_postgres_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def connect(target: str | Path) -> Database:
    """A SQLite file path, or a ``postgresql://`` URL (needs the ``postgresql`` extra)."""
    if is_postgres_url(target):
        from .postgres import PostgresDatabase  # psycopg is an optional extra

        return PostgresDatabase(str(target))
    return SQLiteDatabase(Path(target))
