"""The Java gateway under test, against several receiver replicas behind a balancer.

Each station's syncs go one at a time, in order (the gateway waits for the answer); the
balancer is round robin; a failed attempt (connection refused or reset, a 5xx) is sent
again to the next replica with the same ``Idempotency-Key``, so a sync that was committed
before its replica died gets the stored answer instead of being applied twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import itertools
import json
import time

import aiohttp

from devtools.gateway_sim import signed_headers

from .conftest import DATA_PATH, SECRET, full_sync


@dataclass
class GatewayLoad:
    urls: list[str]
    token: str
    acked: dict[str, str] = field(default_factory=dict)  # request id -> station serial
    statuses: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, status)
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    async def run(self, stations: list[str], stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            await asyncio.gather(*(self._station(session, serial, stop) for serial in stations))

    async def _station(self, session: aiohttp.ClientSession, serial: str, stop: asyncio.Event) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            await self._sync(session, serial, n)

    async def _sync(self, session: aiohttp.ClientSession, serial: str, n: int) -> None:
        payload = full_sync(serial)
        # Each sync of a station differs (two alike in one second would be one signature, a
        # replay): a station can post over 100 syncs a second here, so the counter goes in a
        # field without a range: the bank's current.
        payload["slots"][0]["battery_level"] = n % 101
        payload["power_banks"][0]["hardware_info"]["current"] = n / 1000
        body = json.dumps(payload).encode()
        key = f"{serial}-{n}"
        for _attempt in range(400):
            url = self.urls[next(self._turn) % len(self.urls)]
            headers = signed_headers(self.token, SECRET, body) | {"Idempotency-Key": key}
            try:
                async with session.post(url + DATA_PATH, data=body, headers=headers) as resp:
                    self.statuses.append((time.monotonic(), resp.status))
                    if resp.status == 200:
                        self.acked[(await resp.json())["request_id"]] = serial
                        return
                    assert resp.status in (503, 429), f"{key}: {resp.status}: {await resp.text()}"
            except (aiohttp.ClientError, TimeoutError):
                self.statuses.append((time.monotonic(), 0))  # connection refused or reset
            await asyncio.sleep(0.05)
        raise AssertionError(f"sync {key} never acknowledged")
