"""``AsyncStore``: a ``Store`` on one dedicated thread, with group commit.

The event loop never waits on the database (an fsync, a PostgreSQL round trip): every
call runs on the store's own thread, in submission order. ``apply`` calls are grouped:
they queue up while the worker is busy (typically with the previous batch's commit), and
the next worker job takes all of them at once, so one commit covers the batch. No request
is answered before that commit returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
import threading
import time
from typing import Any

from ..lorawan import Uplink
from ..schema import Payload
from .database import is_postgres_url
from .records import OutboxRow, Outcome, StoredAnswer, SyncMeta
from .store import Store

type _Waiting = tuple[Payload, SyncMeta, asyncio.Future[Outcome]]


class AsyncStore:
    """Runs a ``Store`` on one dedicated thread; every call is awaited in submission order."""

    def __init__(self, target: str | Path, prefix: str) -> None:
        """``target``: a SQLite file, or a ``postgresql://`` URL."""
        self._target = target
        self._prefix = prefix
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-receiver-db")
        self._store: Store | None = None
        # Requests waiting for the next batch; guarded by the lock (event loop and worker).
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._batch_scheduled = False
        # Several receiver processes may use this database at once (PostgreSQL): state that
        # must hold across them (signing key, rate limit) is kept in it, not in memory.
        self.shared = is_postgres_url(target)

    async def open(self) -> None:
        self._store = await self._run(Store, self._target, self._prefix)

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

    async def take_rate_token(self, client: str, per_minute: int) -> int:
        return await self._run(self.store.take_rate_token, client, per_minute, time.time())

    async def shared_key(self, candidate: bytes) -> bytes:
        return await self._run(self.store.shared_key, candidate)

    async def mark_stale(self, max_silence: float, lorawan_silence: float | None = None) -> list[str]:
        return await self._run(self.store.mark_stale, time.time(), max_silence, lorawan_silence)

    async def apply_uplink(self, uplink: Uplink, received: float) -> str:
        """Commit one uplink (its own transaction on the database thread); return its node id."""
        return await self._run(self.store.apply_uplink, uplink, received)

    async def prune(self) -> int:
        return await self._run(self.store.prune, time.time())

    async def try_lead(self) -> bool:
        return await self._run(self.store.try_lead)

    async def outbox_batch(self, limit: int = 100) -> list[OutboxRow]:
        return await self._run(self.store.outbox_batch, limit)

    async def outbox_delete(self, rows: Sequence[OutboxRow]) -> None:
        await self._run(self.store.outbox_delete, rows)

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
