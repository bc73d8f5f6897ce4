"""The store's transactions, and everything besides applying syncs: the verification
chain's lookups, liveness, retention, the outbox, refresh tokens and the shared rate limit."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
import json
import math
from pathlib import Path

from hydro_fleet_protocol import Topic

from ..nodes import Message, node_offline
from .database import Database, connect
from .records import OutboxRow, StoredAnswer
from .tables import SCHEMA_VERSION, SYNC_LOG_DAYS

# Fixed statements per table (no SQL built from strings): (select, update, timeout key).
_STALE = (
    (
        "SELECT serial AS key, node_id FROM stations WHERE online = 1 AND last_seen < ?",
        # last_seen again: a replica may have committed a sync of this station meanwhile.
        "UPDATE stations SET online = 0 WHERE serial = ? AND online = 1 AND last_seen < ?",
    ),
    (
        "SELECT dev_eui AS key, node_id FROM lorawan_devices WHERE online = 1 AND last_seen < ?",
        "UPDATE lorawan_devices SET online = 0 WHERE dev_eui = ? AND online = 1 AND last_seen < ?",
    ),
)


class StoreBase:
    """A connection, its transactions and the outbox writer; use from one thread only."""

    def __init__(self, target: str | Path, prefix: str) -> None:
        """``target``: a SQLite file, or a ``postgresql://`` URL."""
        self.db: Database = connect(target)
        self.prefix = prefix
        self._queued = 0  # outbox rows written by the current transaction
        self._tx(
            lambda: self.db.execute(
                "INSERT INTO meta(key, value) VALUES('schema_version', ?) ON CONFLICT(key) DO NOTHING",
                (str(SCHEMA_VERSION),),
            )
        )

    def close(self) -> None:
        self.db.close()

    def _tx[T](self, work: Callable[[], T]) -> T:
        self.db.begin()
        try:
            result = work()
        except BaseException:
            self.db.rollback()
            raise
        self.db.commit()
        return result

    def _queue(self, messages: Iterable[Message], now: float) -> None:
        rows = [(m.topic, m.payload, int(m.retain), now) for m in messages]
        self._queued += len(rows)
        self.db.executemany("INSERT INTO outbox(topic, payload, retain, created) VALUES(?, ?, ?, ?)", rows)

    # --- lookups used by the verification chain ---------------------------------------

    def answer_for_key(self, key: str) -> StoredAnswer | None:
        row = self.db.execute("SELECT body_sha256, response FROM sync_log WHERE idempotency_key = ?", (key,)).fetchone()
        return None if row is None else StoredAnswer(row["body_sha256"], json.loads(row["response"]))

    def recent_signatures(self, since_ts: int) -> dict[str, int]:
        rows = self.db.execute("SELECT signature, header_ts FROM sync_log WHERE header_ts >= ?", (since_ts,))
        return {r["signature"]: int(r["header_ts"]) for r in rows}

    def take_rate_token(self, client: str, per_minute: int, now: float) -> int:
        """One request of ``client`` against a limit every replica shares: 0 if allowed,
        else the Retry-After in whole seconds.

        GCRA, the token bucket as one timestamp: ``tat`` is when the bucket is full again;
        a request fits while ``tat`` is at most a bucket (one minute) minus one interval ahead.
        One conditional upsert, so two replicas cannot both spend the last token.
        """
        interval = 60.0 / per_minute
        tolerance = 60.0 - interval
        allowed = self._tx(
            lambda: self.db.execute(
                "INSERT INTO rate_limits(client, tat) VALUES(?, ?) ON CONFLICT(client) DO UPDATE"
                " SET tat = (CASE WHEN rate_limits.tat > ? THEN rate_limits.tat ELSE ? END) + ?"
                " WHERE rate_limits.tat - ? <= ? RETURNING tat",
                (client, now + interval, now, now, interval, now, tolerance),
            ).fetchone()
        )
        if allowed is not None:
            return 0
        row = self.db.execute("SELECT tat FROM rate_limits WHERE client = ?", (client,)).fetchone()
        return max(1, math.ceil(float(row["tat"]) - now - tolerance)) if row else 1

    def shared_key(self, candidate: bytes) -> bytes:
        """The JWT signing key every replica uses: the first replica's ``candidate`` wins."""

        def work() -> bytes:
            self.db.execute(
                "INSERT INTO meta(key, value) VALUES('jwt_key', ?) ON CONFLICT(key) DO NOTHING", (candidate.hex(),)
            )
            return bytes.fromhex(self.db.execute("SELECT value FROM meta WHERE key = 'jwt_key'").fetchone()["value"])

        return self._tx(work)

    # --- liveness ---------------------------------------------------------------------

    def mark_stale(self, now: float, timeout: float, lorawan_timeout: float | None = None) -> list[str]:
        """Mark stations not heard from for ``timeout`` seconds (LoRaWAN devices:
        ``lorawan_timeout``, default ``timeout``) offline; return their node ids."""

        def work() -> list[str]:
            stale: list[str] = []
            for (select, update), silence in zip(_STALE, (timeout, lorawan_timeout or timeout), strict=True):
                cutoff = now - silence
                for row in self.db.execute(select, (cutoff,)).fetchall():
                    if self.db.execute(update, (row["key"], cutoff)).rowcount:
                        self._queue([node_offline(Topic(self.prefix, row["node_id"]))], now)
                        stale.append(row["node_id"])
            return stale

        return self._tx(work)

    def prune(self, now: float) -> int:
        """Drop sync log rows older than ``SYNC_LOG_DAYS``; return how many went."""
        cutoff = now - SYNC_LOG_DAYS * 86400
        return self._tx(lambda: self.db.execute("DELETE FROM sync_log WHERE received < ?", (cutoff,)).rowcount)

    # --- outbox -----------------------------------------------------------------------

    def try_lead(self) -> bool:
        """Whether this process publishes the outbox (one replica at a time does)."""
        return self.db.try_lead()

    def outbox_batch(self, limit: int = 100) -> list[OutboxRow]:
        rows = self.db.execute("SELECT id, topic, payload, retain FROM outbox ORDER BY id LIMIT ?", (limit,))
        return [OutboxRow(r["id"], r["topic"], bytes(r["payload"]), bool(r["retain"])) for r in rows]

    def outbox_delete(self, rows: Sequence[OutboxRow]) -> None:
        """Forget published rows, without waiting for durability.

        With one writer (SQLite), rows are only ever appended in id order, so every row up
        to the last one published was in the batch: one range delete. Replicas commit out
        of id order, so a row with a lower id can appear after a batch was read: PostgreSQL
        deletes exactly the rows published.

        Losing this delete to a power cut only means its rows are published again, which
        the outbox's at-least-once delivery allows (events carry their request id). It
        was a flush per drained batch on the thread that commits the requests.
        """
        params: tuple[object, ...]
        if self.db.serial_writer:
            delete, params = "DELETE FROM outbox WHERE id <= ?", (rows[-1].id,)
        else:
            delete, params = "DELETE FROM outbox WHERE id = ANY(?)", ([r.id for r in rows],)
        with self.db.lazily():
            self._tx(lambda: self.db.execute(delete, params))

    def outbox_backlog(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) AS n FROM outbox").fetchone()["n"])

    def station_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) AS n FROM stations").fetchone()["n"])

    # --- refresh tokens -----------------------------------------------------------------

    def add_refresh(self, jti: str, expires: float, now: float) -> None:
        def work() -> None:
            self.db.execute("DELETE FROM refresh_tokens WHERE expires < ?", (now,))
            self.db.execute("INSERT INTO refresh_tokens(jti, expires) VALUES(?, ?)", (jti, expires))

        self._tx(work)

    def use_refresh(self, jti: str, now: float) -> bool:
        """Retire a refresh token; False if it is unknown, expired or already used (by any replica)."""
        return self._tx(
            lambda: self.db.execute(
                "UPDATE refresh_tokens SET used = 1 WHERE jti = ? AND used = 0 AND expires >= ?", (jti, now)
            ).rowcount
            == 1
        )
