"""The offline queue: samples (and events) the broker has not acknowledged yet.

SQLite in WAL mode: each insert is one small transaction, so a bridge killed with
SIGKILL loses nothing it wrote (WAL with synchronous=NORMAL is durable against a
process crash; a power cut may lose the last moments, the price of not wearing out
the SD card with an fsync per second). Rows are removed only after the broker's QoS 1
PUBACK for the batch that carried them.
"""

from __future__ import annotations

from collections.abc import Callable
import json
import logging
from pathlib import Path
import sqlite3
import time

from hydro_fleet_protocol import Sample
from hydro_fleet_protocol.validation import readings as valid_readings

_LOGGER = logging.getLogger(__name__)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, seq INTEGER NOT NULL,
                                    readings TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS samples_order ON samples (ts, seq);
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL);
"""
_AGE_CHECK_EVERY = 60.0
_MAX_OUTBOX = 10_000


class SampleQueue:
    """Oldest-first queue of samples with a cap in rows and days."""

    def __init__(
        self, path: Path, *, max_rows: int, max_days: float, on_drop: Callable[[int], None] | None = None
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_rows = max_rows
        self.max_age = max_days * 86400.0
        # Shared with the backfill's worker thread; sqlite3 serialises access to one connection.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # Appends and one sequential read: a 512 KiB page cache is plenty (the default is 2 MiB).
        self._db.execute("PRAGMA cache_size=-512")
        self._db.executescript(_SCHEMA)
        self._count = int(self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
        self._age_checked = 0.0
        self.dropped = 0
        self._unreported = 0
        self._warned_at = 0.0
        self.on_drop = on_drop
        self.lost = 0
        self._error_logged_at = -_AGE_CHECK_EVERY

    def __len__(self) -> int:
        return self._count

    def put(self, sample: Sample) -> bool:
        """Queue ``sample``; False (with one warning per minute) if the disk refuses."""
        try:
            self._db.execute(
                "INSERT INTO samples (ts, seq, readings) VALUES (?, ?, ?)",
                (sample.ts, sample.seq, json.dumps(sample.readings, separators=(",", ":"))),
            )
            self._count += 1
            self._enforce_caps(sample.ts)
        except sqlite3.Error as err:
            # A full or failing SD card must not stop the bridge (and its pump safety) too.
            self._write_failed(err)
            return False
        return True

    def _write_failed(self, err: sqlite3.Error) -> None:
        self.lost += 1
        now = time.monotonic()
        if now - self._error_logged_at >= _AGE_CHECK_EVERY:
            self._error_logged_at = now
            _LOGGER.warning(
                "offline queue %s cannot be written (%s); %d samples lost so far", self.path, err, self.lost
            )

    def _enforce_caps(self, now: float) -> None:
        dropped = 0
        if self._count > self.max_rows:
            excess = self._count - self.max_rows
            self._db.execute(
                "DELETE FROM samples WHERE id IN (SELECT id FROM samples ORDER BY ts, seq LIMIT ?)", (excess,)
            )
            dropped += excess
        if now - self._age_checked > _AGE_CHECK_EVERY:
            self._age_checked = now
            cursor = self._db.execute("DELETE FROM samples WHERE ts < ?", (now - self.max_age,))
            dropped += max(cursor.rowcount, 0)
        if dropped:
            self._count -= dropped
            self.dropped += dropped
            self._unreported += dropped
            # A full queue drops a row per sample; one warning a minute says how many, not one per row.
            if now - self._warned_at >= _AGE_CHECK_EVERY:
                self._warned_at = now
                _LOGGER.warning(
                    "offline queue full (cap %d rows / %g days): dropped the %d oldest samples",
                    self.max_rows,
                    self.max_age / 86400,
                    self._unreported,
                )
                if self.on_drop is not None:
                    self.on_drop(self._unreported)
                self._unreported = 0

    def peek(self, limit: int) -> tuple[list[int], list[Sample]]:
        """Up to ``limit`` oldest samples and their row ids.

        Oldest by timestamp (then seq: two samples can share a millisecond), not by row id: a live
        sample whose publish failed is queued after samples taken later.
        """
        rows = self._db.execute(
            "SELECT id, ts, seq, readings FROM samples ORDER BY ts, seq LIMIT ?", (limit,)
        ).fetchall()
        samples = []
        for _, ts, seq, readings in rows:
            try:
                samples.append(Sample(ts=ts, seq=seq, readings=valid_readings({"r": json.loads(readings)}, "r")))
            except ValueError as err:  # a row we cannot send is skipped (and deleted with its batch)
                _LOGGER.warning("skipping an unreadable queued sample: %s", err)
        return [row[0] for row in rows], samples

    def take(self, ts: float, seq: int) -> bool:
        """Remove one queued sample (it is being sent live instead); False if it was not queued."""
        try:
            cursor = self._db.execute("DELETE FROM samples WHERE ts = ? AND seq = ?", (ts, seq))
        except sqlite3.Error as err:  # then it stays queued and goes out by backfill only
            _LOGGER.debug("could not take sample %s out of the queue: %s", seq, err)
            return False
        taken = max(cursor.rowcount, 0)
        self._count -= taken
        return taken > 0

    def discard_from(self, seq: int) -> int:
        """Forget the samples from ``seq`` on (not this node's to send); how many."""
        try:
            cursor = self._db.execute("DELETE FROM samples WHERE seq >= ?", (seq,))
        except sqlite3.Error as err:
            _LOGGER.warning("could not drop samples from seq %s: %s", seq, err)
            return 0
        dropped = max(cursor.rowcount, 0)
        self._count -= dropped
        return dropped

    def delete(self, ids: list[int]) -> None:
        """Forget these samples (after the broker acknowledged the batch that carried them)."""
        if not ids:
            return
        with self._db:  # one transaction for the batch
            self._db.execute("BEGIN")
            cursor = self._db.executemany("DELETE FROM samples WHERE id = ?", [(i,) for i in ids])
        self._count -= max(cursor.rowcount, 0)

    # Events (watering reports, safety stops) taken while offline are replayed too.
    def put_message(self, topic: str, payload: bytes) -> None:
        try:
            self._db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)", (topic, payload))
            self._db.execute("DELETE FROM outbox WHERE id <= (SELECT MAX(id) FROM outbox) - ?", (_MAX_OUTBOX,))
        except sqlite3.Error as err:
            self._write_failed(err)

    def messages(self, limit: int = 100) -> list[tuple[int, str, bytes]]:
        return self._db.execute("SELECT id, topic, payload FROM outbox ORDER BY id LIMIT ?", (limit,)).fetchall()

    def delete_message(self, message_id: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE id = ?", (message_id,))

    def close(self) -> None:
        self._db.close()


def queue_path(state_dir: Path) -> Path:
    return state_dir / "queue.sqlite3"
