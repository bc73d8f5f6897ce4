"""One SQLite database: stations, slots, power banks, return events, sync log, outbox.

Every accepted request atomically writes the domain rows, its sync log row and the MQTT
messages it causes (the outbox); the HTTP 200 is sent only after the commit holding them
returns. WAL with ``synchronous=FULL`` makes each commit durable
against power loss, not just a process crash.

``Store`` is synchronous and owned by one thread; ``AsyncStore`` runs it on a single
dedicated worker so writes are serialised and the event loop never waits on fsync.

Group commit: the syncs waiting when the worker becomes free are written together, each
inside its own ``SAVEPOINT`` (a failing one is rolled back to its savepoint alone), and
committed with one ``COMMIT``, so one fsync covers the batch. No request is answered
before that commit returned; if the batch's transaction as a whole fails, every request
of it is applied again in a transaction of its own (see ``Store.apply_batch``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
import json
from pathlib import Path
import sqlite3
import threading
import time
from typing import Any

from hydro_fleet_protocol import (
    AVAILABILITY_OFFLINE,
    AVAILABILITY_ONLINE,
    Event,
    State,
    Topic,
    encode,
)

from .lorawan import Uplink, lorawan_config, lorawan_node_id, lorawan_readings
from .nodes import RETURNED_EVENT, station_config, station_node_id, station_readings
from .schema import FullSync, Payload, ReturnedSync

SCHEMA_VERSION = 1
# Sync log rows are kept this long (an audit trail, and Idempotency-Key answers); replay
# protection only needs the timestamp window, which is at most an hour.
SYNC_LOG_DAYS = 30
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stations(
    serial TEXT PRIMARY KEY,
    node_id TEXT NOT NULL UNIQUE,
    status TEXT,
    last_heartbeat REAL,
    total_slots INTEGER NOT NULL DEFAULT 0,
    last_seen REAL NOT NULL,
    online INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    config_slots INTEGER NOT NULL DEFAULT -1,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS slots(
    station TEXT NOT NULL REFERENCES stations(serial),
    slot_number INTEGER NOT NULL,
    status TEXT,
    power_bank TEXT,
    battery INTEGER,
    PRIMARY KEY(station, slot_number)
) WITHOUT ROWID;
-- A returned power bank leaves the slot it was in before: found by serial, not by a scan.
CREATE INDEX IF NOT EXISTS slots_power_bank ON slots(power_bank) WHERE power_bank IS NOT NULL;
CREATE TABLE IF NOT EXISTS power_banks(
    serial TEXT PRIMARY KEY,
    station TEXT,
    slot_number INTEGER,
    battery INTEGER,
    status TEXT,
    temperature REAL,
    voltage REAL,
    current REAL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS return_events(
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL,
    power_bank TEXT NOT NULL,
    slot_number INTEGER NOT NULL,
    battery INTEGER NOT NULL,
    event_ts INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    UNIQUE(station, power_bank, slot_number, event_ts)
);
CREATE TABLE IF NOT EXISTS sync_log(
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    received REAL NOT NULL,
    type TEXT NOT NULL,
    station TEXT NOT NULL,
    signature TEXT NOT NULL UNIQUE,
    header_ts INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE,
    body_sha256 TEXT NOT NULL,
    result TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_log_header_ts ON sync_log(header_ts);
CREATE INDEX IF NOT EXISTS sync_log_received ON sync_log(received);
CREATE TABLE IF NOT EXISTS outbox(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS lorawan_devices(
    dev_eui TEXT PRIMARY KEY,
    node_id TEXT NOT NULL UNIQUE,
    config BLOB NOT NULL,
    readings TEXT NOT NULL,
    f_cnt INTEGER,
    last_seen REAL NOT NULL,
    online INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens(
    jti TEXT PRIMARY KEY,
    expires REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
"""


class ReplayError(Exception):
    """The signature was already accepted (found by the UNIQUE constraint in the transaction)."""


class IdempotencyKeyTakenError(Exception):
    """A concurrent request with the same Idempotency-Key committed first."""


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


class Store:
    """Synchronous access to the database; use from one thread only."""

    def __init__(self, path: Path, prefix: str) -> None:
        self.path = path
        self.prefix = prefix
        # Autocommit mode: transactions are explicit BEGIN IMMEDIATE / COMMIT below.
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        # The savepoint (sub-)journals of a group commit in memory: they only ever serve a
        # rollback within the open transaction, and spilling them to a temporary file was
        # a write per touched page, a good part of a request's database CPU.
        self.db.execute("PRAGMA temp_store=MEMORY")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        self._queued = 0  # outbox rows written by the current transaction
        self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    # --- transactions ----------------------------------------------------------------

    def _tx[T](self, work: Callable[[], T]) -> T:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            # SQLite may have rolled back already (I/O error, RAISE(ROLLBACK)); a second
            # ROLLBACK would fail and hide the original error.
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return result

    def _outbox(self, topic: str, payload: bytes, retain: bool, now: float) -> None:
        self._queued += 1
        self.db.execute(
            "INSERT INTO outbox(topic, payload, retain, created) VALUES(?, ?, ?, ?)", (topic, payload, int(retain), now)
        )

    # --- syncs -----------------------------------------------------------------------

    def apply(self, payload: Payload, meta: SyncMeta) -> Outcome:
        """Apply one verified request in one transaction; raise ``ReplayError`` on a replay."""
        return self._tx(partial(self._apply, payload, meta))

    def apply_batch(self, batch: Sequence[tuple[Payload, SyncMeta]]) -> list[Outcome | Exception]:
        """Apply several verified requests with one commit; one result (or error) per request.

        Each request runs inside its own SAVEPOINT: one that raises is rolled back to it,
        so it changes nothing, and the others go on. Nothing is returned before the single
        COMMIT returned, so every ``Outcome`` here is durable (``synchronous=FULL``). If the
        transaction as a whole cannot go on or commit (I/O error, disk full: SQLite may
        then roll back everything), each request is retried alone with ``apply`` so a
        failure still only ever costs the request that caused it.
        """
        if len(batch) == 1:
            try:
                return [self.apply(*batch[0])]
            except Exception as err:
                return [err]
        results: list[Outcome | Exception] = []
        try:
            self.db.execute("BEGIN IMMEDIATE")
            for payload, meta in batch:
                self.db.execute("SAVEPOINT request")
                try:
                    outcome: Outcome | Exception = self._apply(payload, meta)
                except Exception as err:
                    outcome = err
                    # Undo this request's writes only; RELEASE then ends the savepoint.
                    self.db.execute("ROLLBACK TO request")
                self.db.execute("RELEASE request")
                results.append(outcome)
            self.db.execute("COMMIT")
        except sqlite3.Error:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            # Nothing of this batch is committed: apply each request in its own transaction.
            return [self._apply_alone(payload, meta) for payload, meta in batch]
        return results

    def _apply_alone(self, payload: Payload, meta: SyncMeta) -> Outcome | Exception:
        try:
            return self.apply(payload, meta)
        except Exception as err:
            return err

    def _apply(self, payload: Payload, meta: SyncMeta) -> Outcome:
        now = meta.received
        serial = payload.device.serial_number
        station = self._station(serial, now)
        node_id = station["node_id"]
        self._queued = 0
        applied = True
        if isinstance(payload, FullSync):
            self._apply_full(serial, payload, now)
            status, heartbeat, total = (
                payload.device.status,
                payload.device.heartbeat_unix(),
                payload.station.total_slots,
            )
        else:
            applied = self._apply_returned(serial, node_id, payload, meta.request_id, now)
            # A return can name a slot the station has not reported yet: grow it so the slot exists.
            status, heartbeat = station["status"], station["last_heartbeat"]
            total = max(int(station["total_slots"]), payload.return_event.slot_number)
        if applied:
            self._publish_station(station, status, heartbeat, total, now)
        else:
            self.db.execute("UPDATE stations SET last_seen = ? WHERE serial = ?", (now, serial))
        result = "applied" if applied else "duplicate"
        response: dict[str, Any] = {
            "status": "ok",
            "request_id": meta.request_id,
            "type": payload.type,
            "station": serial,
            "node_id": node_id,
        }
        if not applied:
            response["duplicate"] = True
        answer = json.dumps(response)
        try:
            self.db.execute(
                "INSERT INTO sync_log(request_id, received, type, station, signature, header_ts, idempotency_key,"
                " body_sha256, result, response) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    meta.request_id,
                    now,
                    payload.type,
                    serial,
                    meta.signature,
                    meta.header_ts,
                    meta.idempotency_key,
                    meta.body_sha256,
                    result,
                    answer,
                ),
            )
        except sqlite3.IntegrityError as err:
            if "sync_log.signature" in str(err):
                raise ReplayError from None
            if "sync_log.idempotency_key" in str(err):
                raise IdempotencyKeyTakenError from None
            raise
        return Outcome(response, self._queued, answer.encode())

    def _station(self, serial: str, now: float) -> sqlite3.Row:
        """Return the row of a station, creating it on first sight."""
        row = self.db.execute("SELECT * FROM stations WHERE serial = ?", (serial,)).fetchone()
        if row is None:
            node_id = station_node_id(serial)
            if self.db.execute("SELECT 1 FROM stations WHERE node_id = ?", (node_id,)).fetchone():
                node_id = station_node_id(serial, taken=True)
            self.db.execute(
                "INSERT INTO stations(serial, node_id, last_seen, created) VALUES(?, ?, ?, ?)",
                (serial, node_id, now, now),
            )
            row = self.db.execute("SELECT * FROM stations WHERE serial = ?", (serial,)).fetchone()
        return row

    def _apply_full(self, serial: str, sync: FullSync, now: float) -> None:
        """A full sync is the station's snapshot: it replaces everything known of its slots.

        A slot it lists is as listed; a slot it leaves out but a listed power bank names is
        occupied by that bank; any other slot is unknown (no status, bank or battery; HA
        shows ``unknown``), never what an earlier sync said. Banks it does not list are no
        longer placed in this station.
        """
        self.db.execute("DELETE FROM slots WHERE station = ?", (serial,))
        self.db.execute("UPDATE power_banks SET station = NULL, slot_number = NULL WHERE station = ?", (serial,))
        placed = {b.slot_number: b for b in sync.power_banks if b.slot_number is not None}
        rows: dict[int, tuple[str, str | None, int | None]] = {}
        for slot in sync.slots:
            in_slot = placed.get(slot.slot_number)
            serial_in_slot = slot.power_bank_serial or (in_slot.serial_number if in_slot else None)
            rows[slot.slot_number] = (slot.status, serial_in_slot, slot.battery_level)
        for number, bank in placed.items():
            rows.setdefault(number, ("occupied", bank.serial_number, bank.battery_level))
        self.db.executemany(
            "INSERT INTO slots(station, slot_number, status, power_bank, battery) VALUES(?, ?, ?, ?, ?)",
            [(serial, number, *row) for number, row in rows.items()],
        )
        self.db.executemany(
            "INSERT INTO power_banks(serial, station, slot_number, battery, status, temperature, voltage,"
            " current, updated) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(serial) DO UPDATE SET"
            " station = excluded.station, slot_number = excluded.slot_number,"
            " battery = COALESCE(excluded.battery, battery), status = COALESCE(excluded.status, status),"
            " temperature = excluded.temperature, voltage = excluded.voltage, current = excluded.current,"
            " updated = excluded.updated",
            [
                (
                    bank.serial_number,
                    serial,
                    bank.slot_number,
                    bank.battery_level,
                    bank.status,
                    bank.hardware_info.temperature,
                    bank.hardware_info.voltage,
                    bank.hardware_info.current,
                    now,
                )
                for bank in sync.power_banks
            ],
        )

    def _apply_returned(self, serial: str, node_id: str, sync: ReturnedSync, request_id: str, now: float) -> bool:
        """Apply a return once; False if this exact return was already applied (a retry)."""
        event = sync.return_event
        inserted = self.db.execute(
            "INSERT OR IGNORE INTO return_events(station, power_bank, slot_number, battery, event_ts, request_id)"
            " VALUES(?, ?, ?, ?, ?, ?)",
            (serial, event.power_bank_serial, event.slot_number, event.battery_level, sync.timestamp, request_id),
        )
        if inserted.rowcount == 0:
            return False
        # The bank left whatever slot it was last seen in.
        self.db.execute(
            "UPDATE slots SET power_bank = NULL, battery = NULL, status = 'available'"
            " WHERE power_bank = ? AND NOT (station = ? AND slot_number = ?)",
            (event.power_bank_serial, serial, event.slot_number),
        )
        self.db.execute(
            "INSERT INTO slots(station, slot_number, status, power_bank, battery) VALUES(?, ?, 'occupied', ?, ?)"
            " ON CONFLICT(station, slot_number) DO UPDATE SET status = 'occupied', power_bank = excluded.power_bank,"
            " battery = excluded.battery",
            (serial, event.slot_number, event.power_bank_serial, event.battery_level),
        )
        self.db.execute(
            "INSERT INTO power_banks(serial, station, slot_number, battery, status, updated)"
            " VALUES(?, ?, ?, ?, 'available', ?) ON CONFLICT(serial) DO UPDATE SET station = excluded.station,"
            " slot_number = excluded.slot_number, battery = excluded.battery, status = 'available',"
            " updated = excluded.updated",
            (event.power_bank_serial, serial, event.slot_number, event.battery_level, now),
        )
        message = Event(
            ts=now,
            type=RETURNED_EVENT,
            data={
                "station_serial": serial,
                "power_bank_serial": event.power_bank_serial,
                "slot_number": event.slot_number,
                "battery_level": event.battery_level,
                "request_id": request_id,
            },
        )
        self._outbox(Topic(self.prefix, node_id).event, encode(message), False, now)
        return True

    def _publish_station(
        self, before: sqlite3.Row, status: str | None, heartbeat: float | None, total: int, now: float
    ) -> None:
        """Update the station row once and queue what HA needs: config if the slots changed,
        availability if it was offline, and the new state."""
        serial, node_id = before["serial"], before["node_id"]
        topics = Topic(self.prefix, node_id)
        # Config before availability before state: the outbox keeps this order on the wire.
        if before["config_slots"] != total:
            self._outbox(topics.config, encode(station_config(node_id, serial, total)), True, now)
        if not before["online"]:
            self._outbox(topics.availability, AVAILABILITY_ONLINE.encode(), True, now)
        seq = int(before["seq"]) + 1
        self.db.execute(
            "UPDATE stations SET status = ?, last_heartbeat = ?, total_slots = ?, last_seen = ?,"
            " seq = ?, online = 1, config_slots = ? WHERE serial = ?",
            (status, heartbeat, total, now, seq, total, serial),
        )
        rows = self.db.execute(
            "SELECT s.slot_number, s.status, s.power_bank, COALESCE(s.battery, b.battery) AS battery,"
            " b.temperature, b.voltage, b.current FROM slots s LEFT JOIN power_banks b ON b.serial = s.power_bank"
            " WHERE s.station = ?",
            (serial,),
        ).fetchall()
        readings = station_readings(status, heartbeat, total, [dict(r) for r in rows])
        # Retained, unlike a Pi's state: a station reports every ~20 minutes, and Home
        # Assistant (re)starting in between must still get the last snapshot at once.
        self._outbox(topics.state, encode(State(ts=now, seq=seq, readings=readings)), True, now)

    # --- LoRaWAN ---------------------------------------------------------------------

    def apply_uplink(self, uplink: Uplink, now: float) -> str:
        """Store one ChirpStack uplink and queue its node's messages in one transaction; return the node id."""
        return self._tx(partial(self._apply_uplink, uplink, now))

    def _apply_uplink(self, uplink: Uplink, now: float) -> str:
        dev_eui = uplink.dev_eui
        before = self.db.execute("SELECT * FROM lorawan_devices WHERE dev_eui = ?", (dev_eui,)).fetchone()
        # A devEui is a unique 64-bit id, so the node id needs no collision handling.
        node_id = lorawan_node_id(dev_eui)
        topics = Topic(self.prefix, node_id)
        config = encode(lorawan_config(node_id, uplink))
        readings = lorawan_readings(uplink)
        # Config before availability before state, as for stations; the config only when
        # it changed (a device renamed in ChirpStack), so HA is not re-discovering each uplink.
        if before is None or bytes(before["config"]) != config:
            self._outbox(topics.config, config, True, now)
        if before is None or not before["online"]:
            self._outbox(topics.availability, AVAILABILITY_ONLINE.encode(), True, now)
        seq = 1 if before is None else int(before["seq"]) + 1
        self.db.execute(
            "INSERT INTO lorawan_devices(dev_eui, node_id, config, readings, f_cnt, last_seen, online, seq, created)"
            " VALUES(?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT(dev_eui) DO UPDATE SET config = excluded.config,"
            " readings = excluded.readings, f_cnt = excluded.f_cnt, last_seen = excluded.last_seen, online = 1,"
            " seq = excluded.seq",
            (dev_eui, node_id, config, json.dumps(readings), uplink.f_cnt, now, seq, now),
        )
        # Retained like a station's state: a device sends every few minutes at best.
        state = State(ts=uplink.measured_at(now), seq=seq, readings=readings)
        self._outbox(topics.state, encode(state), True, now)
        return node_id

    # --- lookups used by the verification chain ---------------------------------------

    def answer_for_key(self, key: str) -> StoredAnswer | None:
        row = self.db.execute("SELECT body_sha256, response FROM sync_log WHERE idempotency_key = ?", (key,)).fetchone()
        return None if row is None else StoredAnswer(row["body_sha256"], json.loads(row["response"]))

    def recent_signatures(self, since_ts: int) -> dict[str, int]:
        rows = self.db.execute("SELECT signature, header_ts FROM sync_log WHERE header_ts >= ?", (since_ts,))
        return {r[0]: int(r[1]) for r in rows}

    # --- liveness ---------------------------------------------------------------------

    def mark_stale(self, now: float, timeout: float, lorawan_timeout: float | None = None) -> list[str]:
        """Mark stations not heard from for ``timeout`` seconds (LoRaWAN devices:
        ``lorawan_timeout``, default ``timeout``) offline; return their node ids."""

        def work() -> list[str]:
            stale: list[str] = []
            # Fixed statements per table (no SQL built from strings).
            for select, update, silence in (
                (
                    "SELECT serial, node_id FROM stations WHERE online = 1 AND last_seen < ?",
                    "UPDATE stations SET online = 0 WHERE serial = ?",
                    timeout,
                ),
                (
                    "SELECT dev_eui, node_id FROM lorawan_devices WHERE online = 1 AND last_seen < ?",
                    "UPDATE lorawan_devices SET online = 0 WHERE dev_eui = ?",
                    lorawan_timeout or timeout,
                ),
            ):
                rows = self.db.execute(select, (now - silence,)).fetchall()
                for row in rows:
                    self.db.execute(update, (row[0],))
                    self._outbox(
                        Topic(self.prefix, row["node_id"]).availability, AVAILABILITY_OFFLINE.encode(), True, now
                    )
                stale += [row["node_id"] for row in rows]
            return stale

        return self._tx(work)

    def prune(self, now: float) -> int:
        """Drop sync log rows older than ``SYNC_LOG_DAYS``; return how many went."""
        cutoff = now - SYNC_LOG_DAYS * 86400
        return self._tx(lambda: self.db.execute("DELETE FROM sync_log WHERE received < ?", (cutoff,)).rowcount)

    # --- outbox -----------------------------------------------------------------------

    def outbox_batch(self, limit: int = 100) -> list[OutboxRow]:
        rows = self.db.execute("SELECT id, topic, payload, retain FROM outbox ORDER BY id LIMIT ?", (limit,))
        return [OutboxRow(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows]

    def outbox_delete_through(self, last_id: int) -> None:
        """Forget the rows up to ``last_id``, all published, without an fsync of its own.

        The publisher reads rows oldest first and they are only ever appended, so every
        row up to the last one it published was in its batch: one range delete.

        Losing this delete to a power cut only means its rows are published again, which
        the outbox's at-least-once delivery allows (events carry their request id). So it
        commits with ``synchronous=NORMAL``: in WAL mode that skips the fsync, and the next
        ``FULL`` commit (or checkpoint) syncs it along. It was an fsync per drained batch
        on the same thread that commits the requests, i.e. latency for every sync.
        """
        self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._tx(lambda: self.db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,)))
        finally:
            self.db.execute("PRAGMA synchronous=FULL")

    def outbox_backlog(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def station_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM stations").fetchone()[0])

    # --- refresh tokens -----------------------------------------------------------------

    def add_refresh(self, jti: str, expires: float, now: float) -> None:
        def work() -> None:
            self.db.execute("DELETE FROM refresh_tokens WHERE expires < ?", (now,))
            self.db.execute("INSERT INTO refresh_tokens(jti, expires) VALUES(?, ?)", (jti, expires))

        self._tx(work)

    def use_refresh(self, jti: str, now: float) -> bool:
        """Retire a refresh token; False if it is unknown, expired or already used."""

        def work() -> bool:
            cur = self.db.execute(
                "UPDATE refresh_tokens SET used = 1 WHERE jti = ? AND used = 0 AND expires >= ?", (jti, now)
            )
            return cur.rowcount == 1

        return self._tx(work)


type _Waiting = tuple[Payload, SyncMeta, asyncio.Future[Outcome]]


class AsyncStore:
    """Runs a ``Store`` on one dedicated thread; every call is awaited in submission order.

    ``apply`` calls are grouped: they queue up while the worker is busy (typically with
    the previous batch's fsync), and the next worker job takes all of them at once.
    """

    def __init__(self, path: Path, prefix: str) -> None:
        self._path = path
        self._prefix = prefix
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-receiver-db")
        self._store: Store | None = None
        # Requests waiting for the next batch; guarded by the lock (event loop and worker).
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._batch_scheduled = False

    async def open(self) -> None:
        self._store = await self._run(Store, self._path, self._prefix)

    async def close(self) -> None:
        if self._store is not None:
            await self._run(self._store.close)
            self._store = None
        self._executor.shutdown(wait=True)

    async def _run[T](self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(func, *args))

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("store is not open")
        return self._store

    async def apply(self, payload: Payload, meta: SyncMeta) -> Outcome:
        """Apply one request; returns once the batch holding it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        store = self.store
        with self._lock:
            self._waiting.append((payload, meta, future))
            schedule = not self._batch_scheduled
            self._batch_scheduled = True
        if schedule:
            # At most one batch job is queued: later requests join it until it starts.
            self._executor.submit(self._write_batch, store, loop)
        return await future

    def _write_batch(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        """Worker thread: take every waiting request, apply them with one commit, answer them."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
            self._batch_scheduled = False
        results: list[Outcome | Exception]
        try:
            results = store.apply_batch([(payload, meta) for payload, meta, _ in waiting])
        except Exception as err:  # apply_batch answers per request; this is a bug's safety net
            results = [err] * len(waiting)
        # One wake-up of the event loop for the whole batch, after the commit.
        loop.call_soon_threadsafe(
            _resolve, [(future, result) for (_, _, future), result in zip(waiting, results, strict=True)]
        )

    async def answer_for_key(self, key: str) -> StoredAnswer | None:
        return await self._run(self.store.answer_for_key, key)

    async def recent_signatures(self, since_ts: int) -> dict[str, int]:
        return await self._run(self.store.recent_signatures, since_ts)

    async def mark_stale(self, max_silence: float, lorawan_silence: float | None = None) -> list[str]:
        return await self._run(self.store.mark_stale, time.time(), max_silence, lorawan_silence)

    async def apply_uplink(self, uplink: Uplink, received: float) -> str:
        """Commit one uplink (its own transaction on the database thread); return its node id."""
        return await self._run(self.store.apply_uplink, uplink, received)

    async def prune(self) -> int:
        return await self._run(self.store.prune, time.time())

    async def outbox_batch(self, limit: int = 100) -> list[OutboxRow]:
        return await self._run(self.store.outbox_batch, limit)

    async def outbox_delete_through(self, last_id: int) -> None:
        await self._run(self.store.outbox_delete_through, last_id)

    async def outbox_backlog(self) -> int:
        return await self._run(self.store.outbox_backlog)

    async def station_count(self) -> int:
        return await self._run(self.store.station_count)

    async def add_refresh(self, jti: str, expires: float) -> None:
        await self._run(self.store.add_refresh, jti, expires, time.time())

    async def use_refresh(self, jti: str) -> bool:
        return await self._run(self.store.use_refresh, jti, time.time())


def _resolve(answers: list[tuple[asyncio.Future[Outcome], Outcome | Exception]]) -> None:
    """Event loop: hand each request of a committed batch its outcome or its error."""
    for future, result in answers:
        if future.done():  # the request was cancelled (client gone); its data is committed anyway
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)
