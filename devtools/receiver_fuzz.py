"""Mutation fuzzing of the receiver over HTTP, with an independent oracle.

Each request starts from a valid gateway request and is mutated in one or more ways:
the body (bytes or JSON structure, re-signed or not), the timestamp, the signature, the
token, the content type, or it is an exact replay of an earlier accepted request. The
fuzzer computes on its own (plain ``hmac``/``time``, not the receiver's code) whether the
request *must* be refused; an accepted request that must be refused is a violation, and
so is any 5xx. Used by ``bench/receiver_fuzz.py`` (>= 10,000 requests) and the tests.
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
import copy
from dataclasses import dataclass, field
import hashlib
import hmac
import json
import random
import re
import time
from typing import Any

import aiohttp
import jwt

from devtools.gateway_sim import full_payload, returned_payload

DATA_PATH = "/api/internal/stations/data"
_TS = re.compile(r"[0-9]{1,12}")
_WEIRD_VALUES: list[Any] = [
    None,
    -1,
    0,
    10**20,
    -(10**20),
    1.5,
    "x" * 300,
    "",
    [],
    {},
    True,
    "ONLINE",
    "é\u0000",
    [1, 2],
    {"a": 1},
    101,
    129,
    1e308,
    "1700000000",
]


def access_claims(email: str, now: int, *, expired_for: int, jti: str) -> dict[str, Any]:
    """An access token's claims as the receiver issues them, issued two hours before ``now``
    and expired ``expired_for`` seconds before it."""
    return {
        "sub": email,
        "typ": "access",
        "iat": now - 7200,
        "exp": now - expired_for,
        "jti": jti,
        "iss": "hydro-fleet-receiver",
    }


@dataclass
class FuzzResult:
    sent: int = 0
    accepted: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    transport_errors: int = 0

    def summary(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{self.sent} requests, {self.accepted} accepted, {len(self.violations)} accepted-but-invalid or 5xx,"
            f" {self.transport_errors} transport errors; statuses {{{statuses}}}"
        )


@dataclass
class _Request:
    body: bytes
    headers: dict[str, str]
    must_reject: bool
    kinds: list[str]
    replay_of: str | None = None


def _sig(secret: str, body: bytes, ts: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body + ts.encode(), hashlib.sha256).digest()).decode()


class Fuzzer:
    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        *,
        secrets: list[str],
        token: str,
        refresh_token: str,
        jwt_key: bytes,
        email: str,
        seed: int,
        window: int = 300,
        max_body: int = 256 * 1024,
    ) -> None:
        self.url = url.rstrip("/")
        self.session = session
        self.secrets = secrets
        self.token = token
        self.refresh_token = refresh_token
        self.rng = random.Random(seed)
        self.window = window
        self.max_body = max_body
        now = int(time.time())
        claims = access_claims(email, now, expired_for=60, jti="e")
        self.bad_tokens = [
            "",
            "garbage",
            token[:-3] + "abc",
            refresh_token,
            jwt.encode(claims, jwt_key, algorithm="HS256"),
            jwt.encode(claims | {"exp": now + 600}, b"some other key that is long enough!", algorithm="HS256"),
            jwt.encode(claims | {"exp": now + 600}, None, algorithm="none"),
            jwt.encode(claims | {"exp": now + 600, "typ": "refresh"}, jwt_key, algorithm="HS256"),
        ]
        self.accepted: list[tuple[bytes, dict[str, str]]] = []
        self._accepted_signatures: set[str] = set()
        self.result = FuzzResult()
        self._counter = 0

    # --- generation ------------------------------------------------------------------

    def _base_payload(self) -> dict[str, Any]:
        self._counter += 1
        n = self._counter
        serial = f"FZ{self.rng.randint(0, 20):03d}"
        if self.rng.random() < 0.5:
            return returned_payload(serial, f"PB{n:06d}", self.rng.randint(1, 8), self.rng.randint(0, 100))
        total = self.rng.randint(1, 8)
        slots = [
            {
                "slot_number": i,
                "status": self.rng.choice(["AVAILABLE", "OCCUPIED", "ERROR"]),
                "battery_level": self.rng.randint(0, 100),
                "power_bank_serial": f"PB{n:06d}-{i}",
            }
            for i in range(1, total + 1)
        ]
        banks = [
            {
                "serial_number": f"PB{n:06d}-{i}",
                "slot_number": i,
                "battery_level": self.rng.randint(0, 100),
                "hardware_info": {"temperature": 25.0, "voltage": 4.0, "current": 1.0},
            }
            for i in range(1, total + 1)
        ]
        return full_payload(serial, slots, banks, total, timestamp=int(time.time()) - n % 50)

    def _mutate_json(self, payload: dict[str, Any]) -> dict[str, Any]:
        payload = copy.deepcopy(payload)
        paths: list[tuple[Any, Any]] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key in list(node):
                    paths.append((node, key))
                    walk(node[key])
            elif isinstance(node, list):
                for index in range(len(node)):
                    paths.append((node, index))
                    walk(node[index])

        walk(payload)
        container, key = self.rng.choice(paths)
        action = self.rng.random()
        if action < 0.6:
            container[key] = self.rng.choice(_WEIRD_VALUES)
        elif action < 0.8 and isinstance(container, dict):
            del container[key]
        elif isinstance(container, dict):
            container["unknown_" + str(self.rng.randint(0, 9))] = self.rng.choice(_WEIRD_VALUES)
        else:
            container.append(copy.deepcopy(container[key]))
        return payload

    def _mutate_bytes(self, body: bytes) -> bytes:
        data = bytearray(body)
        for _ in range(self.rng.randint(1, 4)):
            op = self.rng.randrange(4)
            pos = self.rng.randrange(len(data)) if data else 0
            if op == 0 and data:
                data[pos] ^= 1 << self.rng.randrange(8)
            elif op == 1 and data:
                del data[pos : pos + self.rng.randint(1, 8)]
            elif op == 2:
                data[pos:pos] = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 8)))
            else:
                data[pos:pos] = data[pos : pos + self.rng.randint(1, 40)]
        return bytes(data)

    def make(self) -> _Request:
        rng = self.rng
        if self.accepted and rng.random() < 0.05:
            body, headers = rng.choice(self.accepted)
            return _Request(body, dict(headers), True, ["exact_replay"])
        payload = self._base_payload()
        kinds: list[str] = []
        if rng.random() < 0.35:
            payload = self._mutate_json(payload)
            kinds.append("json_value")
        body = json.dumps(payload, separators=(",", ":") if rng.random() < 0.5 else None).encode()
        if rng.random() < 0.15:
            body = self._mutate_bytes(body)
            kinds.append("body_bytes")
        if rng.random() < 0.02:
            body = body + b" " * (self.max_body + 10)
            kinds.append("oversize")
        ts_value = str(int(time.time()))
        ts_ok = True
        if rng.random() < 0.12:
            kinds.append("timestamp")
            ts_value = rng.choice(
                [
                    str(int(time.time()) - self.window - rng.randint(5, 10**6)),
                    str(int(time.time()) + self.window + rng.randint(5, 10**6)),
                    "",
                    "abc",
                    "+" + ts_value,
                    ts_value + ".0",
                    "1" * 13,
                    "-" + ts_value,
                    "٣" * 10,
                    ts_value + " x",
                    str(int(time.time()) - rng.randint(0, self.window - 5)),  # inside the window: fine
                ]
            )
            ts_ok = bool(_TS.fullmatch(ts_value)) and abs(int(ts_value) - time.time()) <= self.window - 2
            # A value right at the edge could go either way by the time it arrives: skip those.
            if _TS.fullmatch(ts_value) and self.window - 2 < abs(int(ts_value) - time.time()) <= self.window + 2:
                ts_value = str(int(time.time()) - self.window - 30)
                ts_ok = False
        secret = self.secrets[rng.randrange(len(self.secrets))]
        signed_body = body
        sig_ok = True
        if rng.random() < 0.05:
            signed_body = self._mutate_bytes(body)  # signed one body, sends another
            kinds.append("signed_other_body")
            sig_ok = signed_body == body
        try:
            signature = _sig(secret, signed_body, ts_value) if ts_value.isascii() else "x"
        except UnicodeEncodeError:
            signature = "x"
        if not ts_value.isascii():
            sig_ok = False
        if rng.random() < 0.12:
            kinds.append("signature")
            raw = base64.b64decode(signature) if len(signature) == 44 else b"\0" * 32
            flipped = bytearray(raw)
            flipped[rng.randrange(32)] ^= 1 << rng.randrange(8)
            signature = rng.choice(
                [
                    "",
                    signature[:-1],
                    signature + "=",
                    signature.rstrip("="),
                    base64.urlsafe_b64encode(raw).decode(),
                    base64.b64encode(bytes(flipped)).decode(),
                    _sig("not-the-secret-at-all!!", body, ts_value),
                    base64.b64encode(raw * 2).decode(),
                    signature.lower(),
                    signature[:-2] + "A=",
                ]
            )
            sig_ok = sig_ok and hmac.compare_digest(signature.encode(), _sig(secret, body, ts_value).encode())
        token_ok = True
        token = self.token
        if rng.random() < 0.08:
            kinds.append("token")
            token = rng.choice(self.bad_tokens)
            token_ok = False
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Timestamp": ts_value,
            "X-Signature": signature,
            "Content-Type": "application/json",
        }
        ctype_ok = True
        if rng.random() < 0.05:
            kinds.append("content_type")
            headers["Content-Type"] = rng.choice(
                ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", "multipart/form-data"]
            )
            ctype_ok = False
        if rng.random() < 0.04:
            kinds.append("missing_header")
            name = rng.choice(["Authorization", "X-Timestamp", "X-Signature"])
            del headers[name]
            token_ok = token_ok and name != "Authorization"
            ts_ok = ts_ok and name != "X-Timestamp"
            sig_ok = sig_ok and name not in ("X-Signature", "X-Timestamp")
        size_ok = len(body) <= self.max_body
        must_reject = not (token_ok and ts_ok and sig_ok and ctype_ok and size_ok)
        return _Request(body, headers, must_reject, kinds or ["valid"])

    # --- sending ---------------------------------------------------------------------

    async def _send(self, request: _Request) -> None:
        result = self.result
        result.sent += 1
        if request.headers.get("X-Signature") in self._accepted_signatures:
            request.must_reject = True  # generated twice by chance: a replay all the same
        for kind in request.kinds:
            result.kinds[kind] += 1
        try:
            async with self.session.post(self.url + DATA_PATH, data=request.body, headers=request.headers) as resp:
                status = resp.status
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            result.transport_errors += 1
            return
        result.statuses[status] += 1
        if status >= 500:
            result.violations.append(f"{status} for {request.kinds}: {text[:200]}")
        if status == 200:
            result.accepted += 1
            if request.must_reject:
                result.violations.append(f"accepted a request that must be refused ({request.kinds})")
            try:
                parsed = json.loads(request.body)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict) or parsed.get("type") not in ("full", "returned"):
                result.violations.append(f"accepted a body that is not a sync object ({request.kinds})")
            self.accepted.append((request.body, request.headers))
            self._accepted_signatures.add(request.headers.get("X-Signature", ""))
        elif status in (401, 403, 409, 413, 415) and not request.must_reject:
            result.violations.append(f"refused a valid request with {status} ({request.kinds}): {text[:200]}")

    async def run(self, count: int, concurrency: int = 8) -> FuzzResult:
        queue: asyncio.Queue[_Request | None] = asyncio.Queue(maxsize=concurrency * 2)

        async def worker() -> None:
            while (request := await queue.get()) is not None:
                await self._send(request)

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        for _ in range(count):
            await queue.put(self.make())
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        return self.result
