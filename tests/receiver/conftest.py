"""Receiver test harness: the real app on a real loopback socket, a real database.

Every test that runs the receiver (the ``receiver`` fixture, or ``running`` in a module
that uses the ``backend`` fixture) runs twice: on SQLite, and on a real PostgreSQL (one
private cluster per session, a new database per test; see ``backends.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
import json
from pathlib import Path
import socket
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
import pytest
import pytest_socket

from devtools.gateway_sim import full_payload, returned_payload, signed_headers
from devtools.postgres import PostgresCluster
from hydro_fleet_receiver.app import DB_NAME, create_app
from hydro_fleet_receiver.context import CTX, Context
from hydro_fleet_receiver.options import Options, default_options_dict, parse_options
from hydro_fleet_receiver.publisher import MqttSettings
from hydro_fleet_receiver.server import ReceiverRunner

from .backends import BACKENDS, Reader, open_reader, table_names

SECRET = "test-secret-0123456789-abcdef"
OLD_SECRET = "old-secret-9876543210-fedcba"
EMAIL = "janak@powerbank.com"
PASSWORD = "password123-not-real"
DATA_PATH = "/api/internal/stations/data"


def make_options(**overrides: Any) -> Options:
    base = {
        "secrets": [SECRET],
        "admin_email": EMAIL,
        "admin_password": PASSWORD,
        "rate_limit_per_minute": 10_000,
        "login_rate_limit_per_minute": 1000,
    }
    return parse_options(default_options_dict(**(base | overrides)))


def full_sync(serial: str = "PS001", ts: int | None = None, total: int = 3) -> dict[str, Any]:
    slots = [
        {"slot_number": 1, "status": "OCCUPIED", "battery_level": 80, "power_bank_serial": "PB-1"},
        {"slot_number": 2, "status": "AVAILABLE"},
    ]
    banks = [
        {
            "serial_number": "PB-1",
            "slot_number": 1,
            "battery_level": 80,
            "status": "AVAILABLE",
            "hardware_info": {"temperature": 26.5, "voltage": 4.12, "current": 0.8},
        }
    ]
    return full_payload(serial, slots, banks, total, timestamp=ts)


def returned(
    serial: str = "PS001", bank: str = "PB-9", slot: int = 2, battery: int = 45, ts: int | None = None
) -> dict[str, Any]:
    return returned_payload(serial, bank, slot, battery, timestamp=ts)


def body_of(payload: dict[str, Any] | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


@dataclass
class Answer:
    status: int
    json: dict[str, Any]
    headers: dict[str, str]

    @classmethod
    async def of(cls, response: ClientResponse) -> Answer:
        return cls(response.status, await response.json(content_type=None), dict(response.headers))


@dataclass
class Harness:
    client: TestClient
    data_dir: Path
    database: str | None = None  # a postgresql:// URL, or None for SQLite in data_dir
    token: str = ""

    @property
    def ctx(self) -> Context:
        return self.client.app[CTX]  # type: ignore[index]

    async def login(self, email: str = EMAIL, password: str = PASSWORD) -> Answer:
        answer = await Answer.of(
            await self.client.post("/api/admin/login", json={"email": email, "password": password})
        )
        if answer.status == 200:
            self.token = answer.json["access_token"]
        return answer

    def headers(
        self, body: bytes, *, ts: int | str | None = None, secret: str = SECRET, token: str | None = None
    ) -> dict[str, str]:
        return signed_headers(self.token if token is None else token, secret, body, ts)

    async def post(
        self,
        payload: dict[str, Any] | bytes,
        *,
        headers: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> Answer:
        """Sign and post; ``headers`` override the signed ones, ``drop`` removes some."""
        body = body_of(payload)
        merged = self.headers(body, **kwargs) | (headers or {})
        for name in drop:
            merged.pop(name, None)
        return await Answer.of(await self.client.post(DATA_PATH, data=body, headers=merged))

    async def raw(self, body: bytes, headers: dict[str, str]) -> Answer:
        return await Answer.of(await self.client.post(DATA_PATH, data=body, headers=headers))

    @contextmanager
    def db(self) -> Iterator[Reader]:
        """A second connection to the live database; rows by index or by column name."""
        with open_reader(self.database or self.data_dir / DB_NAME) as reader:
            yield reader

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table: a rejection must leave this unchanged.

        Except ``rate_limits``: a rejected request still counts against its client's rate
        limit, which replicas keep in the database and one process in memory.
        """
        with self.db() as conn:
            return {
                t: sorted((tuple(r) for r in conn.execute(f"SELECT * FROM {t}")), key=repr)
                for t in table_names(conn)
                if t != "rate_limits"
            }

    def count(self, table: str) -> int:
        with self.db() as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


class ReceiverTestServer(TestServer):
    """The app served as ``cli.serve`` serves it: ``ReceiverRunner``, and no handler
    cancellation on a client's hang-up (aiohttp's test server turns that on)."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        kwargs.pop("handler_cancellation", None)
        return ReceiverRunner(self.app, **kwargs)


@asynccontextmanager
async def running(
    data_dir: Path,
    options: Options | None = None,
    mqtt: MqttSettings | None = None,
    metrics_interval: float = 10.0,
    login: bool = True,
    database: str | None = None,
) -> AsyncIterator[Harness]:
    """The app on a loopback port; ``database`` defaults to this test's ``backend``."""
    database = database or _current_database[0]
    app = create_app(options or make_options(), data_dir, mqtt, metrics_interval=metrics_interval, database=database)
    async with TestClient(ReceiverTestServer(app, host="127.0.0.1")) as client:
        harness = Harness(client, data_dir, database)
        if login:
            assert (await harness.login()).status == 200
        yield harness


# The PostgreSQL database of the running test (set by ``backend``), None on SQLite.
_current_database: list[str | None] = [None]


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    # Session fixtures may be set up before a test's ``socket_enabled``: let this one pick
    # its free port, then block sockets again if the HA test plugin had them blocked.
    blocked = socket.socket is not pytest_socket._true_socket
    pytest_socket.enable_socket()
    try:
        cluster = PostgresCluster()
    finally:
        if blocked:
            pytest_socket.disable_socket(allow_unix_socket=True)
    with cluster:
        yield cluster


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, socket_enabled: None) -> Iterator[str | None]:
    """This test's storage engine: None (SQLite in the data directory) or a fresh
    PostgreSQL database's URL, which ``running`` then uses by default."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_cluster").create_database()
    _current_database[0] = url
    try:
        yield url
    finally:
        _current_database[0] = None


@pytest.fixture
def store_target(backend: str | None, tmp_path: Path) -> str | Path:
    """Where a ``Store`` made by the test itself keeps its data, on this test's engine."""
    return backend or tmp_path / "db.sqlite"


@pytest.fixture
async def receiver(socket_enabled, backend: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(tmp_path / "data") as harness:
        yield harness
