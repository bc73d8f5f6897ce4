"""Three receivers sharing one PostgreSQL database: every guarantee of one receiver holds
across them (replay, Idempotency-Key, refresh tokens, the rate limit, one publisher)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
import time

from devtools.postgres import PostgresCluster

from .conftest import EMAIL, PASSWORD, Harness, body_of, full_sync, make_options, running


async def _replicas(stack: AsyncExitStack, tmp_path: Path, url: str, **options: object) -> list[Harness]:
    """Three apps, each with its own data directory, on one database."""
    return [
        await stack.enter_async_context(running(tmp_path / f"replica{i}", make_options(**options), database=url))
        for i in range(3)
    ]


async def test_replay_and_idempotency_key_across_replicas(
    socket_enabled: None, postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        a, b, c = await _replicas(stack, tmp_path, postgres_cluster.create_database())
        body = body_of(full_sync("PS-R1"))
        headers = a.headers(body)
        first = await a.raw(body, headers)
        assert first.status == 200
        # The same signed request, replayed to another replica: refused (its replay cache
        # never saw it; the sync log's UNIQUE signature did).
        replayed = await b.raw(body, headers)
        assert (replayed.status, replayed.json["error"]) == (409, "replay")
        # An Idempotency-Key resent to another replica gets the stored answer.
        keyed = body_of(full_sync("PS-R2"))
        answer = await a.raw(keyed, a.headers(keyed) | {"Idempotency-Key": "k-1"})
        again = await c.raw(keyed, c.headers(keyed, ts=int(time.time()) - 3) | {"Idempotency-Key": "k-1"})
        assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json == answer.json
        assert c.count("sync_log") == 2  # the replay and the resend wrote nothing


async def test_refresh_token_is_single_use_across_replicas(
    socket_enabled: None, postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        a, b, c = await _replicas(stack, tmp_path, postgres_cluster.create_database())
        login = await a.client.post("/api/admin/login", json={"email": EMAIL, "password": PASSWORD})
        refresh_token = (await login.json())["refresh_token"]
        # Issued by A, accepted by B (one signing key), then spent for every replica.
        first = await b.client.post("/api/admin/refresh", json={"refresh_token": refresh_token})
        assert first.status == 200
        second = await c.client.post("/api/admin/refresh", json={"refresh_token": refresh_token})
        assert second.status == 401
        assert (await second.json())["detail"] == "refresh token already used or unknown"
        # B's new access token works at C.
        c.token = (await first.json())["access_token"]
        assert (await c.post(full_sync("PS-R3"))).status == 200


async def test_rate_limit_is_one_limit_across_replicas(
    socket_enabled: None, postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        replicas = await _replicas(stack, tmp_path, postgres_cluster.create_database(), rate_limit_per_minute=4)
        answers = [await replicas[i % 3].post(full_sync(f"PS-L{i}")) for i in range(6)]
        # A burst of 4 per minute in all, whichever replica the balancer picked.
        assert [a.status for a in answers] == [200, 200, 200, 200, 429, 429]
        assert int(answers[4].headers["Retry-After"]) >= 1
        assert replicas[0].count("sync_log") == 4
