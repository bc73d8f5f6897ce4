"""Login, refresh rotation, rate limiting of login, and the gateway's refresh-on-401 flow."""

from __future__ import annotations

from pathlib import Path
import time

import aiohttp
import jwt
import pytest

from devtools.gateway_sim import GatewayClient
from hydro_fleet_receiver.app import KEY_NAME

from .conftest import EMAIL, PASSWORD, SECRET, Harness, full_sync, make_options, returned, running

pytestmark = pytest.mark.usefixtures("backend")


async def test_login_returns_hs256_tokens(receiver: Harness) -> None:
    answer = await receiver.login()
    assert answer.status == 200
    for name in ("access_token", "refresh_token"):
        header = jwt.get_unverified_header(answer.json[name])
        assert header["alg"] == "HS256"
    key = (receiver.data_dir / KEY_NAME).read_bytes()
    access = jwt.decode(answer.json["access_token"], key, algorithms=["HS256"], issuer="hydro-fleet-receiver")
    refresh = jwt.decode(answer.json["refresh_token"], key, algorithms=["HS256"], issuer="hydro-fleet-receiver")
    assert access["typ"] == "access" and refresh["typ"] == "refresh"
    # Short-lived access (60 min default), longer refresh (7 days default).
    assert access["exp"] - access["iat"] == 3600
    assert refresh["exp"] - refresh["iat"] == 7 * 86400


async def test_bad_logins(receiver: Harness) -> None:
    assert (await receiver.login(password="nope-nope")).status == 401
    assert (await receiver.login(email="someone@else.com")).status == 401
    # The email is compared without case, as mail systems do.
    assert (await receiver.login(email=EMAIL.upper())).status == 200
    resp = await receiver.client.post("/api/admin/login", json={"email": EMAIL})
    assert resp.status == 400
    assert [e["field"] for e in (await resp.json())["errors"]] == ["password"]
    resp = await receiver.client.post("/api/admin/login", data=b"email=x", headers={"Content-Type": "text/plain"})
    assert resp.status == 415


async def test_login_is_rate_limited(socket_enabled, tmp_path: Path) -> None:
    async with running(tmp_path, make_options(login_rate_limit_per_minute=3), login=False) as h:
        statuses = [(await h.login(password="guess-" + str(i))).status for i in range(3)]
        assert statuses == [401, 401, 401]
        resp = await h.client.post("/api/admin/login", json={"email": EMAIL, "password": PASSWORD})
        assert resp.status == 429
        assert int(resp.headers["Retry-After"]) >= 1


async def test_refresh_rotates_the_refresh_token(socket_enabled, tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        first = (await h.login()).json
        resp = await h.client.post("/api/admin/refresh", json={"refresh_token": first["refresh_token"]})
        assert resp.status == 200
        second = await resp.json()
        assert second["refresh_token"] != first["refresh_token"]
        # The spent refresh token is refused; the new access token works.
        again = await h.client.post("/api/admin/refresh", json={"refresh_token": first["refresh_token"]})
        assert again.status == 401
        assert (await h.post(full_sync(), token=second["access_token"])).status == 200
        # An access token is not a refresh token.
        wrong = await h.client.post("/api/admin/refresh", json={"refresh_token": second["access_token"]})
        assert wrong.status == 401
    # Rotation is stored: after a restart the spent token is still spent, the fresh one still works.
    async with running(tmp_path, login=False) as h:
        spent = await h.client.post("/api/admin/refresh", json={"refresh_token": first["refresh_token"]})
        assert spent.status == 401
        fresh = await h.client.post("/api/admin/refresh", json={"refresh_token": second["refresh_token"]})
        assert fresh.status == 200
        # Tokens survive the restart because the signing key lives in the data directory.
        assert (await h.post(full_sync(serial="PS002"), token=second["access_token"])).status == 200


async def test_changing_the_admin_account_revokes_tokens(socket_enabled, tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        token = h.token
    async with running(tmp_path, make_options(admin_email="new-admin@example.com"), login=False) as h:
        answer = await h.post(full_sync(), token=token)
        assert answer.status == 401


async def test_gateway_refreshes_on_401_and_retries(receiver: Harness) -> None:
    key = (receiver.data_dir / KEY_NAME).read_bytes()
    now = int(time.time())
    expired = jwt.encode(
        {"sub": EMAIL, "typ": "access", "iat": now - 7200, "exp": now - 1, "jti": "old", "iss": "hydro-fleet-receiver"},
        key,
        algorithm="HS256",
    )
    url = str(receiver.client.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        gateway = GatewayClient(session, url, EMAIL, PASSWORD, SECRET)
        await gateway.login()
        gateway.access_token = expired
        status, answer = await gateway.send(returned())
        assert status == 200, answer
        assert (gateway.logins, gateway.refreshes) == (1, 1)
        # A spent refresh token makes the gateway log in again, as the seed's connector does.
        gateway.access_token, gateway.refresh_token = expired, "garbage"
        status, _ = await gateway.send(full_sync())
        assert status == 200
        assert gateway.logins == 2
    assert receiver.count("sync_log") == 2
