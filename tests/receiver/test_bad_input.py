"""Bad input found by outside testing (issue #17, items 10-13): each request is refused with
the right status, one log line without a traceback, and no row written anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from hydro_fleet_receiver.context import LORAWAN_PATH

from .conftest import DATA_PATH, Harness, body_of, full_sync, make_options, returned, running

pytestmark = pytest.mark.usefixtures("backend")


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The receiver's and aiohttp's log records, but the access log (off in the add-on)."""
    ours = ("hydro_fleet_receiver", "aiohttp")
    return [r for r in caplog.records if r.name.startswith(ours) and r.name != "aiohttp.access"]


def _assert_one_quiet_line(caplog: pytest.LogCaptureFixture, *needles: str) -> logging.LogRecord:
    records = _lines(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    record = records[0]
    assert record.exc_info is None and "Traceback" not in caplog.text, caplog.text
    assert "rolled back" not in record.getMessage()
    for needle in needles:
        assert needle in record.getMessage(), record.getMessage()
    return record


async def _raw_http(h: Harness, head: bytes, body: bytes = b"", *, close_early: bool = False) -> bytes:
    """Send bytes on a fresh TCP connection; with ``close_early`` hang up before the body ends."""
    reader, writer = await asyncio.open_connection("127.0.0.1", h.client.server.port)  # type: ignore[union-attr]
    writer.write(head + body)
    await writer.drain()
    if close_early:
        await asyncio.sleep(0.3)  # the server is reading the body now, then the line drops
        writer.close()
        await writer.wait_closed()
        return b""
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def _head(headers: dict[str, str], extra: bytes = b"", length: int | None = None, body: bytes = b"") -> bytes:
    lines = [f"POST {DATA_PATH} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("authorization", "content-length")]
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return "\r\n".join(lines).encode() + b"\r\n" + extra + b"\r\n"


def _status_and_json(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    "token", [b"Bearer caf\xc3\xa9", b"Bearer \xff\xfe", b"\xe9 token"], ids=["utf-8", "not-utf-8", "no-scheme"]
)
async def test_non_ascii_authorization_is_401_not_500(
    receiver: Harness, caplog: pytest.LogCaptureFixture, token: bytes
) -> None:
    """Item 10: a non-ASCII byte in Authorization (no login needed) was a 500 with a traceback."""
    body = body_of(full_sync())
    before = receiver.snapshot()
    caplog.set_level(logging.INFO)
    head = _head(receiver.headers(body), b"Authorization: " + token + b"\r\n", body=body)
    raw = await _raw_http(receiver, head, body)
    status, headers, answer = _status_and_json(raw)
    assert status == 401, raw
    assert answer["error"] == "unauthorized" and answer["request_id"] == headers["x-request-id"]
    _assert_one_quiet_line(caplog, "401", answer["request_id"])
    assert receiver.snapshot() == before
    assert receiver.ctx.metrics.rejected["unauthorized"] == 1


async def test_client_hanging_up_mid_body_is_one_quiet_line(
    receiver: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Item 10: a body cut off by the client (gateway timeout, cut network) was a 500 whose log
    had a traceback and claimed a rolled-back transaction though none had begun."""
    body = body_of(full_sync())
    before = receiver.snapshot()
    caplog.set_level(logging.INFO)
    auth = f"Authorization: Bearer {receiver.token}\r\n".encode()
    await _raw_http(receiver, _head(receiver.headers(body), auth, length=len(body)), body[:40], close_early=True)
    # The server notices the hang-up asynchronously: wait for its one line.
    for _ in range(200):
        if _lines(caplog):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # and nothing more after it
    _assert_one_quiet_line(caplog, "closed the connection before the body ended")
    assert receiver.snapshot() == before
    # The receiver is fine afterwards.
    assert (await receiver.post(full_sync())).status == 200


# Station endpoint strictness (item 11): what LoRaWAN already refuses, the sync refuses too.
def _with(path: tuple[str | int, ...], value: Any, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = payload or full_sync()
    target: Any = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_with(("slots", 0, "battery_level"), True), "slots[0].battery_level"),
        (_with(("slots", 0, "battery_level"), "80"), "slots[0].battery_level"),
        (_with(("slots", 0, "slot_number"), True), "slots[0].slot_number"),
        (_with(("power_banks", 0, "hardware_info", "voltage"), True), "power_banks[0].hardware_info.voltage"),
        (_with(("power_banks", 0, "hardware_info", "temperature"), "26.5"), "power_banks[0].hardware_info.temperature"),
        (_with(("power_banks", 0, "battery_level"), False), "power_banks[0].battery_level"),
        (_with(("station", "total_slots"), "3"), "station.total_slots"),
        (_with(("timestamp",), "1761575400"), "timestamp"),
        (_with(("return_event", "battery_level"), True, returned()), "return_event.battery_level"),
        (_with(("return_event", "slot_number"), "2", returned()), "return_event.slot_number"),
        (_with(("slots", 0, "battery_level"), 80.0), "slots[0].battery_level"),
    ],
)
async def test_station_numbers_are_strict(
    receiver: Harness, caplog: pytest.LogCaptureFixture, payload: dict[str, Any], field: str
) -> None:
    before = receiver.snapshot()
    caplog.set_level(logging.INFO)
    answer = await receiver.post(payload)
    assert answer.status == 400, answer.json
    assert answer.json["error"] == "invalid_payload"
    assert [e["field"] for e in answer.json["errors"]] == [field]
    _assert_one_quiet_line(caplog, "400", field)
    assert receiver.snapshot() == before


async def test_strict_numbers_still_accept_what_the_gateway_sends(receiver: Harness) -> None:
    """A float field takes an integer (Java's ``4`` for 4.0 V); an ISO heartbeat is a string."""
    payload = _with(("power_banks", 0, "hardware_info", "voltage"), 4)
    assert (await receiver.post(payload)).status == 200
    with receiver.db() as db:
        assert db.execute("SELECT voltage FROM power_banks").fetchone()[0] == 4.0


async def test_non_ascii_lorawan_token_is_401(socket_enabled, tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    async with running(tmp_path, make_options(lorawan_token="chirpstack-token-0123456789"), login=False) as h:
        before = h.snapshot()
        caplog.set_level(logging.INFO)
        body = b'{"deviceInfo": {"devEui": "0004a30b001c0530"}}'
        head = (
            f"POST {LORAWAN_PATH}?event=up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        ).encode() + b"Authorization: Bearer \xff\xfechirpstack\r\n\r\n"
        status, headers, answer = _status_and_json(await _raw_http(h, head, body))
        assert status == 401 and answer["error"] == "unauthorized"
        _assert_one_quiet_line(caplog, "401", headers["x-request-id"])
        assert h.snapshot() == before


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        (b"X-Padding: " + b"a" * 9000 + b"\r\n", 400),  # a header over aiohttp's 8,190 bytes
        (b"Bad Header Line Without Colon\r\n", 400),
    ],
    ids=["header-over-8190-bytes", "header-without-colon"],
)
async def test_aiohttps_own_errors_are_json_with_a_request_id(
    receiver: Harness, caplog: pytest.LogCaptureFixture, extra: bytes, status: int
) -> None:
    """Item 12: errors aiohttp raises before any middleware used to be plain text without
    ``X-Request-Id``, logged with a traceback."""
    body = body_of(full_sync())
    before = receiver.snapshot()
    caplog.set_level(logging.INFO)
    auth = f"Authorization: Bearer {receiver.token}\r\n".encode()
    raw = await _raw_http(receiver, _head(receiver.headers(body), auth + extra, body=body), body)
    got, headers, answer = _status_and_json(raw)
    assert got == status, raw
    assert headers["content-type"].startswith("application/json")
    assert answer["request_id"] == headers["x-request-id"] and len(answer["request_id"]) == 32
    assert answer["error"] == "bad_request" and answer["detail"]
    assert b"aaaa" not in raw  # nothing of the offending header comes back
    _assert_one_quiet_line(caplog, str(status), answer["request_id"])
    assert "aaaa" not in caplog.text
    assert receiver.snapshot() == before
    assert (await receiver.post(full_sync())).status == 200


async def test_success_rate_counts_only_the_gateways_requests(receiver: Harness) -> None:
    """Item 13: unauthenticated noise pushed ``success_rate`` below the alert threshold
    while every real sync succeeded; now it is its own figure."""
    for serial in ("PS001", "PS002", "PS003"):
        assert (await receiver.post(full_sync(serial))).status == 200
    noise = [
        receiver.post(full_sync(), drop=("Authorization",)),
        receiver.post(full_sync(), token="not-a-jwt"),
        receiver.post(full_sync(), token="x", headers={"Content-Type": "text/plain"}),
        receiver.post(b"x" * 300_000, token="x"),
    ]
    statuses = [(await answer).status for answer in noise]
    assert statuses == [401, 401, 415, 413]
    metrics = receiver.ctx.metrics
    readings = metrics.readings(backlog=0, stations=3)
    assert readings["success_rate"] == 100.0
    assert readings["rejected_unauthenticated"] == 4
    assert readings["rejected"] == 4 and readings["rejected_unauthorized"] == 2
    assert metrics.problems(backlog=0) == {}
    # The gateway's own failures still count: a valid token, a wrong signature, or a wrong
    # content type (refused before the token is checked).
    assert (await receiver.post(returned(), secret="wrong-secret-1234567")).status == 403
    assert (await receiver.post(returned(bank="PB-2"), headers={"Content-Type": "text/plain"})).status == 415
    readings = metrics.readings(backlog=0, stations=3)
    assert readings["success_rate"] == 60.0
    assert readings["rejected_unauthenticated"] == 4
    assert metrics.problems(backlog=0) == {"success_rate": "below_target"}


async def test_non_http_bytes_get_json_and_no_info_line(receiver: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """A TLS handshake or a scanner on the plain port: the same JSON answer, and logged at
    debug only (as aiohttp does), so internet noise does not fill the log."""
    before = receiver.snapshot()
    caplog.set_level(logging.INFO)
    raw = await _raw_http(receiver, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 HTTP/1.1\r\n\r\n")
    status, headers, answer = _status_and_json(raw)
    assert status == 400 and answer["request_id"] == headers["x-request-id"]
    assert _lines(caplog) == []
    assert receiver.snapshot() == before
