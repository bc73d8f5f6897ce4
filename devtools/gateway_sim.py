"""A simulated Java IoT gateway (seeds 001/003) posting signed syncs to the receiver.

Behaves like the seed's ``ChargeGharConnector``: logs in with ``POST /api/admin/login``,
keeps the tokens in memory, on a 401 refreshes (falling back to a fresh login) and
retries once; signs every body with ``X-Signature = Base64(HMAC-SHA256(secret,
body + timestamp))``; retries network errors and 5xx with exponential backoff (3 tries).
Stations are simulated: power banks charge in their slots, get rented and returned.

    GATEWAY_PASSWORD=P GATEWAY_SECRET=S python -m devtools.gateway_sim --url http://127.0.0.1:8010 --email E

The password and the signing secret come from the environment, never from the command
line, where ``ps`` shows them to every user of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import hmac
import json
import logging
import os
import random
import signal
import time
from typing import Any

import aiohttp

LOGIN_PATH = "/api/admin/login"
REFRESH_PATH = "/api/admin/refresh"
DATA_PATH = "/api/internal/stations/data"
_LOGGER = logging.getLogger("gateway_sim")
# The gateway's admin password and signing secret (environment variables, not flags).
PASSWORD_ENV = "GATEWAY_PASSWORD"
SECRET_ENV = "GATEWAY_SECRET"


def signature(secret: str, body: bytes, timestamp: str) -> str:
    """What the gateway's SignChargeGharMain computes (written independently of the receiver)."""
    return base64.b64encode(hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).digest()).decode()


def signed_headers(token: str, secret: str, body: bytes, timestamp: int | str | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "X-Timestamp": ts,
        "X-Signature": signature(secret, body, ts),
    }


def full_payload(
    serial: str,
    slots: list[dict[str, Any]],
    power_banks: list[dict[str, Any]],
    total_slots: int,
    status: str = "ONLINE",
    timestamp: int | None = None,
) -> dict[str, Any]:
    now = int(time.time()) if timestamp is None else timestamp
    return {
        "type": "full",
        "timestamp": now,
        "device": {
            "serial_number": serial,
            "status": status,
            "last_heartbeat": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "station": {"total_slots": total_slots},
        "slots": slots,
        "power_banks": power_banks,
    }


def returned_payload(serial: str, bank: str, slot: int, battery: int, timestamp: int | None = None) -> dict[str, Any]:
    return {
        "type": "returned",
        "timestamp": int(time.time()) if timestamp is None else timestamp,
        "device": {"serial_number": serial},
        "return_event": {"power_bank_serial": bank, "slot_number": slot, "battery_level": battery},
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass
class GatewayClient:
    """The connector: tokens in memory, refresh on 401, signed posts, retries."""

    session: aiohttp.ClientSession
    url: str
    email: str
    password: str
    secret: str
    access_token: str | None = None
    refresh_token: str | None = None
    logins: int = 0
    refreshes: int = 0

    async def login(self) -> None:
        async with self.session.post(self.url + LOGIN_PATH, json={"email": self.email, "password": self.password}) as r:
            if r.status != 200:
                raise RuntimeError(f"login failed with {r.status}: {await r.text()}")
            tokens = await r.json()
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        self.logins += 1

    async def refresh(self) -> None:
        """Use the refresh token; log in again if it is refused."""
        if self.refresh_token:
            async with self.session.post(self.url + REFRESH_PATH, json={"refresh_token": self.refresh_token}) as r:
                if r.status == 200:
                    tokens = await r.json()
                    self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
                    self.refreshes += 1
                    return
        await self.login()

    async def send(self, payload: dict[str, Any], retries: int = 3) -> tuple[int, dict[str, Any]]:
        """Post one payload; returns the final (status, body)."""
        if self.access_token is None:
            await self.login()
        body = encode(payload)
        delay = 0.5
        refreshed = False
        for attempt in range(retries):
            try:
                assert self.access_token is not None
                # Signed afresh for each attempt, as the Java code does: a new timestamp each time.
                async with self.session.post(
                    self.url + DATA_PATH, data=body, headers=signed_headers(self.access_token, self.secret, body)
                ) as r:
                    status, answer = r.status, await r.json(content_type=None)
                    retry_after = float(r.headers.get("Retry-After", "0") or 0)
            except (aiohttp.ClientError, TimeoutError) as err:
                _LOGGER.warning("attempt %d: %s", attempt + 1, err)
                status, answer, retry_after = 0, {"error": str(err)}, 0.0
            if status == 401 and not refreshed:
                refreshed = True
                await self.refresh()
                continue
            if status == 429:
                await asyncio.sleep(min(retry_after, 60.0) or delay)
                continue
            if status != 0 and status < 500:
                return status, answer
            if attempt + 1 < retries:
                await asyncio.sleep(delay)
                delay *= 2
        return status, answer


@dataclass
class SimStation:
    """A station whose banks charge, get rented and come back."""

    serial: str
    total_slots: int
    banks: dict[int, dict[str, Any]] = field(default_factory=dict)
    rented: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, serial: str, total_slots: int, rng: random.Random) -> SimStation:
        station = cls(serial, total_slots)
        for slot in range(1, total_slots + 1):
            if rng.random() < 0.75:
                station.banks[slot] = {"serial_number": f"{serial}-PB{slot:02d}", "battery_level": rng.randint(20, 100)}
        return station

    def step(self, rng: random.Random) -> dict[str, Any] | None:
        """Advance the simulation; return a ``returned`` payload if a bank came back."""
        for bank in self.banks.values():
            bank["battery_level"] = min(100, bank["battery_level"] + rng.randint(0, 3))
        # A rental every minute or two per station, and its return soon after: enough to watch
        # in the demo without burying the rest of the Activity page.
        if self.banks and rng.random() < 0.06:
            slot = rng.choice(sorted(self.banks))
            self.rented.append(self.banks.pop(slot)["serial_number"])
        free = [s for s in range(1, self.total_slots + 1) if s not in self.banks]
        if self.rented and free and rng.random() < 0.12:
            bank_serial = self.rented.pop(0)
            slot = rng.choice(free)
            battery = rng.randint(5, 60)
            self.banks[slot] = {"serial_number": bank_serial, "battery_level": battery}
            return returned_payload(self.serial, bank_serial, slot, battery)
        return None

    def full(self, rng: random.Random) -> dict[str, Any]:
        slots, banks = [], []
        for slot in range(1, self.total_slots + 1):
            bank = self.banks.get(slot)
            slots.append(
                {
                    "slot_number": slot,
                    "status": "OCCUPIED" if bank else "AVAILABLE",
                    "battery_level": bank["battery_level"] if bank else None,
                    "power_bank_serial": bank["serial_number"] if bank else None,
                }
            )
            if bank:
                banks.append(
                    {
                        "serial_number": bank["serial_number"],
                        "slot_number": slot,
                        "battery_level": bank["battery_level"],
                        "status": "AVAILABLE",
                        "hardware_info": {
                            "temperature": round(rng.uniform(22, 35), 1),
                            "voltage": round(rng.uniform(3.7, 4.2), 2),
                            "current": round(rng.uniform(0.0, 2.0), 2),
                        },
                    }
                )
        return full_payload(self.serial, slots, banks, self.total_slots)


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    stations = [SimStation.create(s, n, rng) for s, n in (("PS001", 4), ("PS002", 6))]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        gateway = GatewayClient(session, args.url.rstrip("/"), args.email, args.password, args.secret)
        while not stop.is_set():
            for station in stations:
                payloads = [station.full(rng)]
                if (returned := station.step(rng)) is not None:
                    payloads.append(returned)
                for payload in payloads:
                    try:
                        status, answer = await gateway.send(payload)
                    except (aiohttp.ClientError, RuntimeError, OSError) as err:
                        status, answer = 0, {"error": str(err)}
                    _LOGGER.info(
                        "%s %s -> %s %s",
                        payload["type"],
                        station.serial,
                        status,
                        answer.get("error") or answer.get("node_id"),
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    missing = [name for name in (PASSWORD_ENV, SECRET_ENV) if not os.environ.get(name)]
    if missing:
        parser.error(f"set {' and '.join(missing)} in the environment")
    args.password, args.secret = os.environ[PASSWORD_ENV], os.environ[SECRET_ENV]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
