"""Idempotency-Key, and a returned event applied once however often the gateway retries it."""

from __future__ import annotations

import time

import pytest

from .conftest import Harness, body_of, full_sync, returned

pytestmark = pytest.mark.usefixtures("backend")


async def test_same_key_same_body_gets_the_first_answer(receiver: Harness) -> None:
    payload = full_sync()
    first = await receiver.post(payload, headers={"Idempotency-Key": "sync-42"})
    assert first.status == 200
    before = receiver.snapshot()
    # A retry re-signed with a new timestamp (a new signature): no replay, same answer, no change.
    again = await receiver.post(payload, ts=int(time.time()) - 5, headers={"Idempotency-Key": "sync-42"})
    assert again.status == 200
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    # The very same signed request resent with its key: also the stored answer, not 409.
    body = body_of(payload)
    headers = receiver.headers(body, ts=int(time.time()) - 5) | {"Idempotency-Key": "sync-42"}
    assert (await receiver.raw(body, headers)).json == first.json
    assert (await receiver.raw(body, headers)).json == first.json
    assert receiver.snapshot() == before


async def test_same_key_other_body_is_refused(receiver: Harness) -> None:
    assert (await receiver.post(full_sync(), headers={"Idempotency-Key": "k1"})).status == 200
    before = receiver.snapshot()
    other = await receiver.post(full_sync(serial="PS002"), headers={"Idempotency-Key": "k1"})
    assert (other.status, other.json["error"]) == (422, "idempotency_conflict")
    bad = await receiver.post(full_sync(serial="PS003"), headers={"Idempotency-Key": "has space"})
    assert (bad.status, bad.json["errors"][0]["field"]) == (400, "Idempotency-Key")
    assert receiver.snapshot() == before


async def test_returned_event_applied_once(receiver: Harness) -> None:
    payload = returned(bank="PB-7", slot=3, battery=44)
    first = await receiver.post(payload)
    assert first.status == 200 and "duplicate" not in first.json
    outbox = receiver.count("outbox")
    # The gateway retries (say its read timed out): a new timestamp, so a new signature.
    retry = await receiver.post(payload, ts=int(time.time()) - 3)
    assert retry.status == 200 and retry.json["duplicate"] is True
    assert receiver.count("return_events") == 1
    assert receiver.count("outbox") == outbox, "a duplicate return must not publish a second event"
    with receiver.db() as db:
        results = [r[0] for r in db.execute("SELECT result FROM sync_log ORDER BY id")]
        slot = db.execute("SELECT status, power_bank, battery FROM slots WHERE slot_number = 3").fetchone()
    assert results == ["applied", "duplicate"]
    assert tuple(slot) == ("occupied", "PB-7", 44)


async def test_return_moves_the_bank_out_of_its_old_slot(receiver: Harness) -> None:
    assert (await receiver.post(full_sync())).status == 200  # PB-1 sits in slot 1
    assert (await receiver.post(returned(bank="PB-1", slot=3, battery=20))).status == 200
    with receiver.db() as db:
        slots = {r[0]: tuple(r)[1:] for r in db.execute("SELECT slot_number, status, power_bank FROM slots")}
        bank = db.execute("SELECT station, slot_number, battery FROM power_banks WHERE serial = 'PB-1'").fetchone()
    assert slots[1] == ("available", None)
    assert slots[3] == ("occupied", "PB-1")
    assert tuple(bank) == ("PS001", 3, 20)
