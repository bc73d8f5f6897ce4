"""PostgreSQL through psycopg 3: the same store, shared by several receiver replicas.

The connection runs in autocommit mode with explicit ``BEGIN``/``COMMIT``, like the SQLite
one, so the store's group commit and savepoints work unchanged. Each replica's store
thread owns one connection. A lost connection (the server restarting, a network cut)
becomes ``StorageUnavailableError`` for the calls that hit it, and the next call connects
again, so the receiver answers 503 during an outage and recovers by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
import functools
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .database import Cursor, Params
from .records import StorageUnavailableError
from .tables import postgres_ddl

# Advisory lock keys (any 64-bit numbers, fixed for the project): one serialises schema
# creation by replicas starting together, one elects the replica that publishes the outbox.
_SCHEMA_LOCK = 0x4859_4452_4F00_0001
_PUBLISHER_LOCK = 0x4859_4452_4F00_0002
_CONNECT_TIMEOUT = 5


@functools.cache
def _postgres_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the store's SQL has no other ``?`` or ``%``)."""
    return sql.replace("?", "%s")


class PostgresDatabase:
    for_update = " FOR UPDATE"
    serial_writer = False
    errors: tuple[type[Exception], ...] = (psycopg.Error, StorageUnavailableError)

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._leading = False
        conn = self._connection()
        with self._lost_connection():
            conn.execute("BEGIN")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(postgres_ddl().encode())
            conn.execute("COMMIT")

    def _connection(self) -> psycopg.Connection[dict[str, Any]]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._leading = False  # session advisory locks went with the old connection
        try:
            self._conn = psycopg.connect(
                self._url,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=_CONNECT_TIMEOUT,
                application_name="hydro-fleet-receiver",
                # A server that vanished without closing the socket is noticed in seconds.
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=3,
            )
        except psycopg.OperationalError as err:
            raise StorageUnavailableError(f"PostgreSQL unreachable: {err}".splitlines()[0]) from None
        return self._conn

    @contextmanager
    def _lost_connection(self) -> Iterator[None]:
        """Turn an error that broke the connection into ``StorageUnavailableError``."""
        try:
            yield
        except psycopg.OperationalError as err:
            conn = self._conn
            if conn is None or conn.broken or conn.closed:
                raise StorageUnavailableError(f"PostgreSQL connection lost: {err}".splitlines()[0]) from None
            raise

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        conn = self._connection()
        with self._lost_connection():
            return conn.execute(_postgres_sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        conn = self._connection()
        with self._lost_connection(), conn.cursor() as cur:
            cur.executemany(_postgres_sql(sql), rows)

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        conn = self._conn
        if conn is None or conn.broken or conn.closed:
            return  # the server rolled back what the lost connection had open
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with self._lost_connection():
                conn.execute("ROLLBACK")

    def unique_violation(self, err: Exception) -> str | None:
        if not isinstance(err, psycopg.errors.UniqueViolation):
            return None
        diag = err.diag
        # PostgreSQL names a column's UNIQUE constraint <table>_<column>_key.
        table, constraint = diag.table_name or "", diag.constraint_name or ""
        column = constraint.removeprefix(f"{table}_").removesuffix("_key")
        return f"{table}.{column}"

    @contextmanager
    def lazily(self) -> Iterator[None]:
        """As is: a commit here costs one round trip, and the server flushes the WAL of
        concurrent commits together; switching ``synchronous_commit`` would cost two more."""
        yield

    def try_lead(self) -> bool:
        """Whether this connection holds (or now takes) the outbox publisher's lock.

        A session lock: it lives as long as the connection, so a replica that dies (or
        loses the database) frees it, and the next replica asking takes over.
        """
        if not self._leading:
            row = self.execute("SELECT pg_try_advisory_lock(?) AS got", (_PUBLISHER_LOCK,)).fetchone()
            self._leading = bool(row["got"])
        return self._leading

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
