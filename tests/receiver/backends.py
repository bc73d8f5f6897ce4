"""The receiver suite runs against both storage engines: SQLite, and a real PostgreSQL.

``backend`` (a fixture in conftest) picks one per test; ``open_reader`` gives the test a
second connection to what the receiver wrote, with rows readable by index and by name
on both engines, so assertions are written once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
import sqlite3
from typing import Any, Protocol

import psycopg
from psycopg.rows import RowFactory

BACKENDS = ("sqlite", "postgresql")


class Reader(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...


class _Row(tuple[Any, ...]):
    """A row by index or by column name, like ``sqlite3.Row``."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return super().__getitem__(self.names.index(key))
        return super().__getitem__(key)

    def keys(self) -> tuple[str, ...]:
        return self.names


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    names = tuple(c.name for c in cursor.description or ())

    def make(values: Sequence[Any]) -> _Row:
        row = _Row(values)
        row.names = names
        return row

    return make


class _PostgresReader:
    def __init__(self, url: str) -> None:
        factory: RowFactory[Any] = _row_factory
        self.conn = psycopg.connect(url, autocommit=True, row_factory=factory)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]


@contextmanager
def open_reader(database: str | Path) -> Iterator[Reader]:
    """A second connection to the live database (SQLite's WAL lets it read while the app writes)."""
    if isinstance(database, str):
        reader = _PostgresReader(database)
        try:
            yield reader
        finally:
            reader.conn.close()
        return
    conn = sqlite3.connect(database, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def table_names(reader: Reader) -> list[str]:
    if isinstance(reader, _PostgresReader):
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    return [r[0] for r in reader.execute(sql)]


def break_inserts(reader: Reader, table: str, message: str) -> None:
    """Make every INSERT into ``table`` fail with ``message`` (a database-side fault)."""
    if isinstance(reader, _PostgresReader):
        reader.execute(
            f"CREATE FUNCTION fail_{table}() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
        reader.execute(
            f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION fail_{table}()"
        )
    else:
        reader.execute(
            f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def mend_inserts(reader: Reader, table: str) -> None:
    """Undo ``break_inserts``."""
    if isinstance(reader, _PostgresReader):
        reader.execute(f"DROP TRIGGER fail_{table} ON {table}")
    else:
        reader.execute(f"DROP TRIGGER fail_{table}")
