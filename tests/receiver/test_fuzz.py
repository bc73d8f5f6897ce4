"""A smaller run of the mutation fuzzer (bench/receiver_fuzz.py runs >= 10,000), plus properties."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
from hypothesis import given, settings, strategies as st
import pytest

from devtools.receiver_fuzz import Fuzzer
from hydro_fleet_receiver.app import KEY_NAME
from hydro_fleet_receiver.schema import PayloadError, parse_payload
from hydro_fleet_receiver.signing import decode_signature, sign, verify

from .conftest import EMAIL, OLD_SECRET, SECRET, make_options, running

pytestmark = pytest.mark.usefixtures("backend")


async def test_mutation_fuzz(socket_enabled, tmp_path: Path) -> None:
    options = make_options(secrets=[SECRET, OLD_SECRET], max_body_kb=16)
    async with running(tmp_path, options) as h:
        refresh = (await h.login()).json["refresh_token"]
        async with aiohttp.ClientSession() as session:
            fuzzer = Fuzzer(
                str(h.client.make_url("")),
                session,
                secrets=[SECRET, OLD_SECRET],
                token=h.token,
                refresh_token=refresh,
                jwt_key=(h.data_dir / KEY_NAME).read_bytes(),
                email=EMAIL,
                seed=6,
                max_body=16 * 1024,
            )
            result = await fuzzer.run(600, concurrency=4)
        assert result.violations == [], result.violations[:5]
        assert result.transport_errors == 0
        assert result.sent == 600 and result.accepted > 100
        # Each kind of refusal was exercised.
        assert {400, 401, 403, 409, 413, 415} <= set(result.statuses), result.summary()
        # Refusals wrote nothing: one sync log row per accepted request, no more.
        assert h.count("sync_log") == result.accepted


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_any_bytes_parse_or_name_a_field(body: bytes) -> None:
    try:
        parse_payload(body)
    except PayloadError as err:
        assert err.errors and all(e["field"] and e["message"] for e in err.errors)


@given(st.text(max_size=60))
@settings(max_examples=500, deadline=None)
def test_signature_header_decoding_is_strict(header: str) -> None:
    raw = decode_signature(header)
    if raw is not None:
        assert len(raw) == 32 and base64.b64encode(raw).decode() == header


@given(st.binary(max_size=200), st.from_regex(r"[0-9]{1,12}", fullmatch=True))
@settings(max_examples=200, deadline=None)
def test_only_the_right_body_and_timestamp_verify(body: bytes, ts: str) -> None:
    raw = decode_signature(sign(SECRET, body, ts))
    assert raw is not None
    assert verify([OLD_SECRET, SECRET], body, ts, raw) == 1
    assert verify([SECRET], body + b"x", ts, raw) is None
    assert verify([SECRET], body, ts + "0", raw) is None
    assert verify([OLD_SECRET], body, ts, raw) is None
