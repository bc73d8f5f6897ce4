"""Every verification step over real HTTP: its status, its JSON body, and an unchanged database."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
import time

import jwt
import pytest

from devtools.receiver_fuzz import access_claims
from hydro_fleet_receiver.app import KEY_NAME

from .backends import break_inserts, mend_inserts
from .conftest import DATA_PATH, EMAIL, OLD_SECRET, SECRET, Harness, body_of, full_sync, make_options, returned, running

pytestmark = pytest.mark.usefixtures("backend")


async def test_signed_full_sync_is_stored(receiver: Harness) -> None:
    answer = await receiver.post(full_sync())
    assert answer.status == 200, answer.json
    assert answer.json["status"] == "ok" and answer.json["node_id"] == "station-ps001"
    assert answer.headers["X-Request-Id"] == answer.json["request_id"]
    with receiver.db() as db:
        station = db.execute("SELECT * FROM stations").fetchone()
        assert (station["serial"], station["status"], station["total_slots"]) == ("PS001", "online", 3)
        slots = db.execute("SELECT slot_number, status, power_bank, battery FROM slots ORDER BY 1").fetchall()
        assert [tuple(s) for s in slots] == [(1, "occupied", "PB-1", 80), (2, "available", None, None)]
        bank = db.execute("SELECT * FROM power_banks").fetchone()
        assert (bank["serial"], bank["temperature"], bank["voltage"], bank["current"]) == ("PB-1", 26.5, 4.12, 0.8)
        log = db.execute("SELECT request_id, type, station, result FROM sync_log").fetchall()
        assert [tuple(r) for r in log] == [(answer.json["request_id"], "full", "PS001", "applied")]
        topics = [r[0] for r in db.execute("SELECT topic FROM outbox ORDER BY id")]
    assert topics == [
        "hydro_fleet/station-ps001/config",
        "hydro_fleet/station-ps001/availability",
        "hydro_fleet/station-ps001/state",
    ]


async def _rejected(h: Harness, answer_coro, status: int, error: str) -> dict:
    before = h.snapshot()
    answer = await answer_coro
    assert answer.status == status, answer.json
    assert answer.json["error"] == error
    assert answer.json["request_id"] == answer.headers["X-Request-Id"]
    assert h.snapshot() == before, "a rejected request changed the database"
    return answer.json


async def test_allowlist_uses_the_socket_peer(socket_enabled, tmp_path: Path) -> None:
    async with running(tmp_path, make_options(allowed_ips=["10.0.0.0/8"]), login=False) as h:
        # Everything else is valid, and X-Forwarded-For claims an allowed address: still 403.
        h.token = "x"
        await _rejected(h, h.post(full_sync(), headers={"X-Forwarded-For": "10.1.2.3"}), 403, "forbidden")
        login = await h.login()
        assert login.status == 403
        assert h.ctx.metrics.rejected["forbidden_ip"] == 1


async def test_forwarded_for_is_used_only_behind_a_trusted_proxy(socket_enabled, tmp_path: Path) -> None:
    options = make_options(allowed_ips=["10.0.0.0/8"], trusted_proxies=["127.0.0.1/32"])
    async with running(tmp_path, options, login=False) as h:
        # The proxy (our loopback peer) is trusted: the first untrusted hop from the right counts.
        assert (
            await h.client.post(
                "/api/admin/login",
                json={"email": EMAIL, "password": "x"},
                headers={"X-Forwarded-For": "192.168.1.5, 10.1.2.3"},
            )
        ).status == 401
        rejected = await h.client.post("/api/admin/login", json={}, headers={"X-Forwarded-For": "10.1.2.3, 8.8.8.8"})
        assert rejected.status == 403


async def test_body_size_limit(socket_enabled, tmp_path: Path) -> None:
    async with running(tmp_path, make_options(max_body_kb=1)) as h:
        big = full_sync()
        big["padding"] = "x" * 2000
        await _rejected(h, h.post(big), 413, "payload_too_large")

        async def chunks():
            yield b'{"type": "full", "padding": "'
            yield b"x" * 4000
            yield b'"}'

        # A chunked body has no Content-Length: client_max_size still stops it.
        headers = h.headers(b"") | {"Content-Type": "application/json"}
        resp = await h.client.post(DATA_PATH, data=chunks(), headers=headers)
        assert resp.status == 413
        assert (await resp.json())["error"] == "payload_too_large"
        assert h.count("sync_log") == 0


async def test_content_type(receiver: Harness) -> None:
    await _rejected(
        receiver, receiver.post(full_sync(), headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"
    )
    # A charset parameter is fine.
    ok = await receiver.post(full_sync(), headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status == 200


async def test_bearer_token(receiver: Harness) -> None:
    body = full_sync()
    await _rejected(receiver, receiver.post(body, drop=("Authorization",)), 401, "unauthorized")
    await _rejected(receiver, receiver.post(body, token="not-a-jwt"), 401, "unauthorized")
    await _rejected(
        receiver, receiver.post(body, headers={"Authorization": f"Basic {receiver.token}"}), 401, "unauthorized"
    )
    key = (receiver.data_dir / KEY_NAME).read_bytes()
    now = int(time.time())
    claims = access_claims(EMAIL, now, expired_for=3600, jti="x")
    expired = jwt.encode(claims, key, algorithm="HS256")
    answer = await _rejected(receiver, receiver.post(body, token=expired), 401, "unauthorized")
    assert answer["detail"] == "token expired"
    forged = jwt.encode(claims | {"exp": now + 600}, b"another key of 32 bytes or more!!", algorithm="HS256")
    await _rejected(receiver, receiver.post(body, token=forged), 401, "unauthorized")
    refresh = (await receiver.login()).json["refresh_token"]
    await _rejected(receiver, receiver.post(body, token=refresh), 401, "unauthorized")
    unsigned = jwt.encode(claims | {"exp": now + 600}, None, algorithm="none")
    await _rejected(receiver, receiver.post(body, token=unsigned), 401, "unauthorized")


@pytest.mark.parametrize("stamp", ["", "abc", "+1700000000", "1.7e9", " 1700000000", "１２３", "1" * 13, "-5"])
async def test_timestamp_must_be_digits(receiver: Harness, stamp: str) -> None:
    await _rejected(receiver, receiver.post(full_sync(), ts=stamp), 403, "timestamp")


async def test_timestamp_window(receiver: Harness) -> None:
    now = int(time.time())
    await _rejected(receiver, receiver.post(full_sync(), drop=("X-Timestamp",)), 403, "timestamp")
    await _rejected(receiver, receiver.post(full_sync(), ts=now - 330), 403, "timestamp")
    await _rejected(receiver, receiver.post(full_sync(), ts=now + 330), 403, "timestamp")
    assert (await receiver.post(full_sync(), ts=now - 200)).status == 200


async def test_signature(receiver: Harness) -> None:
    payload = full_sync()
    body = body_of(payload)
    good = receiver.headers(body)
    raw = base64.b64decode(good["X-Signature"])
    await _rejected(receiver, receiver.post(payload, drop=("X-Signature",)), 403, "bad_signature")
    await _rejected(receiver, receiver.post(payload, secret="some-other-secret-123"), 403, "bad_signature")
    # Signed over another body (one byte differs) or another timestamp.
    await _rejected(receiver, receiver.raw(body.replace(b"PS001", b"PS002"), good), 403, "bad_signature")
    other_ts = receiver.headers(body, ts=int(good["X-Timestamp"]) - 1)
    await _rejected(receiver, receiver.raw(body, good | {"X-Signature": other_ts["X-Signature"]}), 403, "bad_signature")
    # Not strict Base64: URL-safe alphabet, missing padding, whitespace, non-canonical padding bits.
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    if urlsafe == good["X-Signature"]:  # this digest has no + or /: put a URL-safe character in
        urlsafe = "-" + good["X-Signature"][1:]
    last = good["X-Signature"][-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    noncanonical = good["X-Signature"][:-2] + alphabet[alphabet.index(last) ^ 1] + "="
    # (Leading/trailing blanks are not tested: HTTP strips them from header values.)
    spaced = good["X-Signature"][:10] + " " + good["X-Signature"][11:]
    for bad in (
        urlsafe,
        good["X-Signature"].rstrip("="),
        spaced,
        noncanonical,
        base64.b64encode(raw[:31]).decode(),
        "",
        "A" * 44,
    ):
        await _rejected(receiver, receiver.raw(body, good | {"X-Signature": bad}), 403, "bad_signature")
    assert (await receiver.raw(body, good)).status == 200


async def test_replay(receiver: Harness) -> None:
    body = body_of(full_sync())
    headers = receiver.headers(body)
    assert (await receiver.raw(body, headers)).status == 200
    await _rejected(receiver, receiver.raw(body, headers), 409, "replay")


async def test_replay_survives_a_restart(socket_enabled, tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        body = body_of(full_sync())
        headers = h.headers(body)
        assert (await h.raw(body, headers)).status == 200
    async with running(tmp_path) as h:
        await _rejected(h, h.raw(body, headers), 409, "replay")


async def test_rate_limit_with_retry_after(socket_enabled, tmp_path: Path) -> None:
    async with running(tmp_path, make_options(rate_limit_per_minute=3)) as h:
        for i in range(3):  # distinct bodies, so no replay
            assert (await h.post(full_sync(ts=int(time.time()) - i))).status == 200
        answer = await _rejected(h, h.post(returned()), 429, "rate_limited")
        assert "100" not in answer["detail"] and "3 requests" in answer["detail"]
        resp = await h.client.post(
            DATA_PATH, data=body_of(returned(bank="PB-77")), headers=h.headers(body_of(returned(bank="PB-77")))
        )
        assert resp.status == 429
        assert 1 <= int(resp.headers["Retry-After"]) <= 20


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"type": "partial"}', "type"),
        (json.dumps({**full_sync(), "device": {"status": "ONLINE"}}).encode(), "device.serial_number"),
        (json.dumps({**full_sync(), "station": {"total_slots": -1}}).encode(), "station.total_slots"),
        (
            json.dumps({**full_sync(), "slots": [{"slot_number": 9, "status": "AVAILABLE"}]}).encode(),
            "slots[0].slot_number",
        ),
        (json.dumps({**full_sync(), "slots": [{"slot_number": 1, "status": "BROKEN"}]}).encode(), "slots[0].status"),
        (
            json.dumps({**full_sync(), "power_banks": [{"serial_number": "PB-1", "battery_level": 101}]}).encode(),
            "power_banks[0].battery_level",
        ),
        (
            json.dumps({**full_sync(), "device": {"serial_number": "a/b", "status": "ONLINE"}}).encode(),
            "device.serial_number",
        ),
        (
            json.dumps(returned() | {"return_event": {"power_bank_serial": "PB", "slot_number": 1}}).encode(),
            "return_event.battery_level",
        ),
        (json.dumps(returned() | {"timestamp": 1_700_000_000_000}).encode(), "timestamp"),
    ],
)
async def test_schema_errors_name_the_field(receiver: Harness, body: bytes, field: str) -> None:
    answer = await _rejected(receiver, receiver.post(body), 400, "invalid_payload")
    assert field in [e["field"] for e in answer["errors"]], answer


async def test_order_of_checks(socket_enabled, tmp_path: Path) -> None:
    """A request wrong in several ways is refused by the earliest check of the chain."""
    async with running(tmp_path, make_options(rate_limit_per_minute=2, max_body_kb=1)) as h:
        big = body_of({"x": "y" * 2000})
        assert (await h.raw(big, {"Content-Type": "text/plain"})).status == 413
        assert (await h.raw(b"{}", {"Content-Type": "text/plain"})).status == 415
        assert (await h.raw(b"{}", {"Content-Type": "application/json", "X-Timestamp": "x"})).status == 401
        answer = await h.post(b"{}", ts="old", secret="wrong-secret-12345678")
        assert (answer.status, answer.json["error"]) == (403, "timestamp")
        answer = await h.post(b"{not json", secret="wrong-secret-12345678")
        assert (answer.status, answer.json["error"]) == (403, "bad_signature")
        body = body_of(full_sync())
        headers = h.headers(body)
        assert (await h.raw(body, headers)).status == 200
        assert (await h.post(b"{bad json")).status == 400  # second token of the bucket
        # The bucket is empty now: a replay still gets 409 (replay is checked first) ...
        assert (await h.raw(body, headers)).status == 409
        # ... and invalid JSON gets 429 (the rate limit is checked before parsing).
        assert (await h.post(b"{bad json")).status == 429


async def test_database_error_answers_500_and_rolls_back(receiver: Harness) -> None:
    with receiver.db() as db:
        break_inserts(db, "outbox", "disk on fire")
    answer = await _rejected(receiver, receiver.post(full_sync()), 500, "internal_error")
    assert len(answer["request_id"]) == 32
    assert receiver.count("stations") == 0  # the station row written before the failure was rolled back
    with receiver.db() as db:
        mend_inserts(db, "outbox")
    assert (await receiver.post(full_sync())).status == 200
    assert receiver.count("stations") == 1


async def test_unknown_route_and_method_are_json(receiver: Harness) -> None:
    resp = await receiver.client.get("/api/admin/login")
    assert resp.status == 405 and (await resp.json())["error"] == "method_not_allowed"
    resp = await receiver.client.get("/nothing")
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"


async def test_secrets_and_tokens_never_logged(receiver: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    body = body_of(full_sync())
    headers = receiver.headers(body)
    await receiver.raw(body, headers)
    await receiver.raw(body, headers)  # replay
    await receiver.post(full_sync(), secret=OLD_SECRET)
    await receiver.login(password="wrong-password-typed")
    refresh = (await receiver.login()).json["refresh_token"]
    await receiver.client.post("/api/admin/refresh", json={"refresh_token": refresh})
    await receiver.client.post("/api/admin/refresh", json={"refresh_token": refresh})
    text = caplog.text
    assert "rejected with 409" in text and "rejected with 403" in text and "rejected with 401" in text
    for secret in (
        SECRET,
        OLD_SECRET,
        "password123-not-real",
        "wrong-password-typed",
        receiver.token,
        refresh,
        headers["X-Signature"],
    ):
        assert secret not in text


async def test_client_disconnect_is_not_a_crash(receiver: Harness) -> None:
    # A client that sends half a body and hangs up must not take the server down or store anything.
    body = body_of(full_sync())
    headers = receiver.headers(body) | {"Content-Length": str(len(body)), "Host": "x"}
    _, writer = await asyncio.open_connection(receiver.client.host, receiver.client.port)
    head = f"POST {DATA_PATH} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    writer.write(head.encode() + body[: len(body) // 2])
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    assert (await receiver.post(returned())).status == 200
    assert receiver.count("sync_log") == 1
