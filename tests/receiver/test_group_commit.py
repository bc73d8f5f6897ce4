"""Group commit: several requests share one COMMIT, yet each is applied or rolled back alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import json
from pathlib import Path
import sqlite3
import time

import pytest

from hydro_fleet_receiver.schema import Payload, parse_payload
from hydro_fleet_receiver.storage import AsyncStore, Outcome, ReplayError, Store, SyncMeta

from .backends import open_reader
from .conftest import full_sync, returned


def _meta(i: int, signature: str | None = None) -> SyncMeta:
    now = time.time()
    return SyncMeta(
        request_id=f"r{i}",
        signature=signature or f"s{i}",
        header_ts=int(now),
        body_sha256="x",
        idempotency_key=None,
        received=now,
    )


def _sync(serial: str) -> Payload:
    return parse_payload(json.dumps(full_sync(serial)).encode())


def _stations(target: str | Path) -> list[str]:
    with open_reader(target) as db:
        return [r[0] for r in db.execute("SELECT serial FROM stations ORDER BY serial")]


@pytest.fixture
def store(store_target: str | Path) -> Store:
    """On both engines (``store_target`` follows the ``backend`` parameter)."""
    return Store(store_target, "hydro_fleet")


def test_a_failing_request_is_rolled_back_alone(store: Store, store_target: str | Path) -> None:
    # The second request reuses the first one's signature: the sync log's UNIQUE column
    # refuses it after it already wrote its station row, which its savepoint must undo.
    results = store.apply_batch(
        [(_sync("A1"), _meta(1)), (_sync("B2"), _meta(2, signature="s1")), (_sync("C3"), _meta(3))]
    )
    store.close()
    assert isinstance(results[0], Outcome) and isinstance(results[2], Outcome)
    assert isinstance(results[1], ReplayError)
    assert _stations(store_target) == ["A1", "C3"]
    # The outbox holds exactly the messages of the two committed requests, in order.
    with open_reader(store_target) as db:
        topics = [r[0] for r in db.execute("SELECT topic FROM outbox ORDER BY id")]
    assert [t.split("/")[1] for t in topics] == ["station-a1"] * 3 + ["station-c3"] * 3


def test_a_lost_transaction_falls_back_to_one_transaction_per_request(tmp_path: Path) -> None:
    # RAISE(ROLLBACK) ends the whole transaction, savepoints included (like an I/O error
    # would): the batch is then applied request by request, and only the culprit fails.
    # SQLite only: PostgreSQL's equivalent (a lost connection) is tested in test_replicas.
    store = Store(tmp_path / "r.db", "hydro_fleet")
    store.db.execute(
        "CREATE TRIGGER no_b2 BEFORE INSERT ON stations WHEN NEW.serial = 'B2'"
        " BEGIN SELECT RAISE(ROLLBACK, 'no B2'); END"
    )
    results = store.apply_batch([(_sync("A1"), _meta(1)), (_sync("B2"), _meta(2)), (_sync("C3"), _meta(3))])
    store.close()
    assert isinstance(results[0], Outcome) and isinstance(results[2], Outcome)
    assert isinstance(results[1], sqlite3.IntegrityError) and "no B2" in str(results[1])
    assert _stations(tmp_path / "r.db") == ["A1", "C3"]


def test_returned_twice_in_one_batch_is_applied_once(store: Store, store_target: str | Path) -> None:
    event = parse_payload(json.dumps(returned()).encode())
    results = store.apply_batch([(_sync("PS001"), _meta(1)), (event, _meta(2)), (event, _meta(3))])
    store.close()
    assert [r.response.get("duplicate", False) for r in results if isinstance(r, Outcome)] == [False, False, True]
    with open_reader(store_target) as db:
        assert db.execute("SELECT COUNT(*) FROM return_events").fetchone()[0] == 1


async def test_concurrent_applies_share_commits_and_each_gets_its_answer(store_target: str | Path) -> None:
    store = AsyncStore(store_target, "hydro_fleet")
    await store.open()
    try:
        commits = 0
        original = store.store.apply_batch

        def counting(batch: Sequence[tuple[Payload, SyncMeta]]) -> list[Outcome | Exception]:
            nonlocal commits
            commits += 1
            return original(batch)

        store.store.apply_batch = counting  # type: ignore[method-assign]
        calls = [store.apply(_sync(f"S{i:02d}"), _meta(i, signature="dup" if i == 7 else None)) for i in range(20)]
        calls.append(store.apply(_sync("X99"), _meta(99, signature="dup")))
        results = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await store.close()
    assert [r.response["station"] for r in results if isinstance(r, Outcome)] == [f"S{i:02d}" for i in range(20)]
    assert isinstance(results[-1], ReplayError)
    assert commits < len(calls)  # requests that arrived together were committed together
    assert _stations(store_target) == [f"S{i:02d}" for i in range(20)]
