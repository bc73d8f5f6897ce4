"""The receiver's store: stations, slots, power banks, returns, sync log, outbox.

Every accepted request atomically writes the domain rows, its sync log row and the MQTT
messages it causes (the outbox); the HTTP 200 is sent only after the commit holding them
returns. On SQLite, WAL with ``synchronous=FULL`` makes each commit durable against power
loss; on PostgreSQL, the server's own commit does.

``Store`` is synchronous and owned by one thread (see ``worker.AsyncStore``). Group
commit: several requests are written together, each inside its own ``SAVEPOINT`` (a
failing one is rolled back to its savepoint alone), and committed with one ``COMMIT``, so
one flush covers the batch. If the batch's transaction as a whole fails, every request of
it is applied again in a transaction of its own (see ``Store.apply_batch``).

Replicas on one PostgreSQL: a station's row is locked (``FOR UPDATE``) before its
messages are queued, so its outbox rows are ordered by id in commit order; the replay
and Idempotency-Key rules are the sync log's UNIQUE constraints, which every replica meets.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
import json
from typing import Any

from ..lorawan import DeviceRow, Uplink, lorawan_node_id, lorawan_update
from ..nodes import StationRow, returned_message, station_node_id, station_update
from ..schema import FullSync, Payload, ReturnedSync
from .housekeeping import StoreBase
from .records import IdempotencyKeyTakenError, Outcome, ReplayError, StorageUnavailableError, SyncMeta
from .station_rows import apply_full, apply_returned, slot_rows


class Store(StoreBase):
    """Synchronous access to the database; use from one thread only."""

    # --- syncs -----------------------------------------------------------------------

    def apply(self, payload: Payload, meta: SyncMeta) -> Outcome:
        """Apply one verified request in one transaction; raise ``ReplayError`` on a replay."""
        return self._tx(partial(self._apply, payload, meta))

    def apply_batch(self, batch: Sequence[tuple[Payload, SyncMeta]]) -> list[Outcome | Exception]:
        """Apply several verified requests with one commit; one result (or error) per request.

        Each request runs inside its own SAVEPOINT: one that raises is rolled back to it,
        so it changes nothing, and the others go on. Nothing is returned before the single
        COMMIT returned, so every ``Outcome`` here is durable. If the transaction as a
        whole cannot go on or commit (I/O error, disk full, a PostgreSQL deadlock between
        replicas, a lost connection), each request is retried alone with ``apply`` so a
        failure still only ever costs the request that caused it.
        """
        if len(batch) == 1:
            return [self._apply_alone(*batch[0])]
        results: list[Outcome | Exception] = []
        try:
            self.db.begin()
            for payload, meta in batch:
                self.db.execute("SAVEPOINT request")
                try:
                    outcome: Outcome | Exception = self._apply(payload, meta)
                except StorageUnavailableError:
                    raise
                except Exception as err:
                    outcome = err
                    # Undo this request's writes only; RELEASE then ends the savepoint.
                    self.db.execute("ROLLBACK TO request")
                self.db.execute("RELEASE request")
                results.append(outcome)
            self.db.commit()
        except self.db.errors:
            self.db.rollback()
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
        self._queued = 0
        applied = True
        if isinstance(payload, FullSync):
            apply_full(self.db, serial, payload, now)
            status, heartbeat, total = (
                payload.device.status,
                payload.device.heartbeat_unix(),
                payload.station.total_slots,
            )
        else:
            applied = self._apply_returned(serial, station["node_id"], payload, meta.request_id, now)
            # A return can name a slot the station has not reported yet: grow it so the slot exists.
            status, heartbeat = station["status"], station["last_heartbeat"]
            total = max(int(station["total_slots"]), payload.return_event.slot_number)
        if applied:
            self._update_station(station, status, heartbeat, total, now)
        else:
            self.db.execute("UPDATE stations SET last_seen = ? WHERE serial = ?", (now, serial))
        return self._log(payload, meta, station["node_id"], applied)

    def _log(self, payload: Payload, meta: SyncMeta, node_id: str, applied: bool) -> Outcome:
        """Write the request's sync log row (its replay and Idempotency-Key guard) and answer."""
        serial = payload.device.serial_number
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
                    meta.received,
                    payload.type,
                    serial,
                    meta.signature,
                    meta.header_ts,
                    meta.idempotency_key,
                    meta.body_sha256,
                    "applied" if applied else "duplicate",
                    answer,
                ),
            )
        except self.db.errors as err:
            violated = self.db.unique_violation(err)
            if violated == "sync_log.signature":
                raise ReplayError from None
            if violated == "sync_log.idempotency_key":
                raise IdempotencyKeyTakenError from None
            raise
        return Outcome(response, self._queued, answer.encode())

    def _station(self, serial: str, now: float) -> Any:
        """Return the row of a station, locked for this transaction, creating it on first sight."""
        select = "SELECT * FROM stations WHERE serial = ?" + self.db.for_update  # noqa: S608  (the engine's constant)
        row = self.db.execute(select, (serial,)).fetchone()
        if row is None:
            node_id = station_node_id(serial)
            if self.db.execute("SELECT 1 FROM stations WHERE node_id = ?", (node_id,)).fetchone():
                node_id = station_node_id(serial, taken=True)
            # Another replica may create the same station at this moment: its row wins.
            self.db.execute(
                "INSERT INTO stations(serial, node_id, last_seen, created) VALUES(?, ?, ?, ?)"
                " ON CONFLICT(serial) DO NOTHING",
                (serial, node_id, now, now),
            )
            row = self.db.execute(select, (serial,)).fetchone()
        return row

    def _apply_returned(self, serial: str, node_id: str, sync: ReturnedSync, request_id: str, now: float) -> bool:
        """Apply a return once; False if this exact return was already applied (a retry)."""
        if not apply_returned(self.db, serial, sync, request_id, now):
            return False
        self._queue([returned_message(self.prefix, node_id, serial, sync.return_event, request_id, now)], now)
        return True

    def _update_station(self, row: Any, status: str | None, heartbeat: float | None, total: int, now: float) -> None:
        """Update the station row once and queue what HA needs (see ``nodes.station_update``)."""
        before = StationRow(
            row["serial"], row["node_id"], int(row["config_slots"]), bool(row["online"]), int(row["seq"])
        )
        self.db.execute(
            "UPDATE stations SET status = ?, last_heartbeat = ?, total_slots = ?, last_seen = ?,"
            " seq = ?, online = 1, config_slots = ? WHERE serial = ?",
            (status, heartbeat, total, now, before.seq + 1, total, before.serial),
        )
        slots = slot_rows(self.db, before.serial)
        self._queue(station_update(self.prefix, before, status, heartbeat, total, slots, now), now)

    # --- LoRaWAN ---------------------------------------------------------------------

    def apply_uplink(self, uplink: Uplink, now: float) -> str:
        """Store one ChirpStack uplink and queue its node's messages in one transaction; return the node id."""
        return self._tx(partial(self._apply_uplink, uplink, now))

    def _apply_uplink(self, uplink: Uplink, now: float) -> str:
        dev_eui = uplink.dev_eui
        row = self.db.execute(
            "SELECT config, online, seq FROM lorawan_devices WHERE dev_eui = ?" + self.db.for_update,  # noqa: S608
            (dev_eui,),
        ).fetchone()
        before = None if row is None else DeviceRow(bytes(row["config"]), bool(row["online"]), int(row["seq"]))
        # A devEui is a unique 64-bit id, so the node id needs no collision handling.
        node_id = lorawan_node_id(dev_eui)
        update = lorawan_update(self.prefix, node_id, uplink, before, now)
        self.db.execute(
            "INSERT INTO lorawan_devices(dev_eui, node_id, config, readings, f_cnt, last_seen, online, seq, created)"
            " VALUES(?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT(dev_eui) DO UPDATE SET config = excluded.config,"
            " readings = excluded.readings, f_cnt = excluded.f_cnt, last_seen = excluded.last_seen, online = 1,"
            " seq = excluded.seq",
            (dev_eui, node_id, update.config, json.dumps(update.readings), uplink.f_cnt, now, update.seq, now),
        )
        self._queue(update.messages, now)
        return node_id
