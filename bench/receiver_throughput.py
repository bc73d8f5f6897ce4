"""P3: verified and committed requests per second on one core, against a bare aiohttp handler.

Each server runs in its own process pinned to CPU 0 (``sched_setaffinity``); this load generator
(and the Mosquitto broker it starts, which inherits its affinity) is pinned to CPU 1. In
the same run:

1. a bare aiohttp handler that reads the body, ``json.loads`` it and answers 200;
2. a floor: the same bare handler that also commits the body durably (grouped commits,
   ``synchronous=FULL``) and publishes one QoS 1 MQTT message per request; no checks;
3. the receiver (``python -m hydro_fleet_receiver``): allowlist, size, content type, JWT,
   timestamp, HMAC, idempotency, replay, rate limit, pydantic, one SQLite transaction
   with ``synchronous=FULL``, then the outbox published to MQTT by the same process.

Closed loop with ``--connections`` clients for ``--seconds`` each: requests per second of
wall time and per CPU-second of the server process (the fairer "one core" figure when the
single client core cannot saturate the bare server). The receiver's CPU is counted until
its outbox is empty, so the MQTT messages its requests caused are paid for even when the
publisher was still behind when the load stopped. Then an open loop at ``--rate``
requests per second against the receiver: p50/p99 latency from the scheduled send time.

    python -m bench.receiver_throughput [--seconds 10] [--connections 16] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
import contextlib
import json
import os
from pathlib import Path
import sqlite3
import statistics
import sys
import tempfile
import time

import aiohttp

from devtools.gateway_sim import encode, full_payload, returned_payload, signed_headers
from devtools.mosquitto import Mosquitto, free_port
from devtools.receiver import write_options

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-0123456789abcdef"
EMAIL = "bench@example.com"
PASSWORD = "bench-password"
DATA_PATH = "/api/internal/stations/data"
SERVER_CPU = 0
CLIENT_CPU = 1


def serve_bare(port: int) -> None:
    """The baseline: parse the same JSON, answer 200."""
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        payload = json.loads(await request.read())
        return web.json_response({"status": "ok", "type": payload.get("type")})

    app = web.Application()
    app.router.add_post(DATA_PATH, handler)
    app.router.add_get("/api/health", lambda _: web.json_response({"status": "ok"}))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_floor(port: int, database: str, mqtt_host: str, mqtt_port: int) -> None:
    """The least any receiver of this issue must do: no checks at all, but each request's
    body committed durably (WAL, ``synchronous=FULL``, commits grouped like the receiver's)
    before the 200, and one QoS 1 MQTT message per request.

    Whatever this costs per request bounds from below what a receiver that also verifies
    can cost; its ratio to the bare handler is the best P3 can be with these libraries.
    """
    from aiohttp import web
    import aiomqtt

    db = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS body(id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    pending: list[tuple[bytes, asyncio.Future[None]]] = []
    wake = asyncio.Event()

    def commit(bodies: list[bytes]) -> None:
        db.execute("BEGIN")
        db.executemany("INSERT INTO body(data) VALUES(?)", [(b,) for b in bodies])
        db.execute("COMMIT")

    async def writer() -> None:
        # One group commit at a time; requests that arrive meanwhile share the next one.
        loop = asyncio.get_running_loop()
        while True:
            await wake.wait()
            wake.clear()
            batch = pending[:]
            pending.clear()
            await loop.run_in_executor(None, commit, [body for body, _ in batch])
            for _, done in batch:
                done.set_result(None)

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        payload = json.loads(body)
        done = asyncio.get_running_loop().create_future()
        pending.append((body, done))
        wake.set()
        await done
        if mqtt_host:  # "" with --no-mqtt, like the receiver's
            await request.app["mqtt"].publish(f"floor/{payload.get('type')}", body, qos=1)
        return web.json_response({"status": "ok", "type": payload.get("type")})

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if mqtt_host:
                client = app["mqtt"] = await stack.enter_async_context(aiomqtt.Client(mqtt_host, mqtt_port))
                client.pending_calls_threshold = 1000  # one publish per open request
            task = asyncio.create_task(writer())
            yield
            task.cancel()

    app = web.Application()
    app.cleanup_ctx.append(lifespan)
    app.router.add_post(DATA_PATH, handler)
    app.router.add_get("/api/health", lambda _: web.json_response({"status": "ok"}))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > cpu:  # type: ignore[operator]
        os.sched_setaffinity(0, {cpu})


class Payloads:
    """Unique bodies (each needs its own signature anyway): half full syncs, half returns."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> bytes:
        self.n += 1
        n = self.n
        serial = f"BS{n % 20:03d}"
        if n % 2:
            return encode(returned_payload(serial, f"PB{n:07d}", 1 + n % 8, n % 101))
        slots = [
            {
                "slot_number": i,
                "status": "OCCUPIED",
                "battery_level": (n + i) % 101,
                "power_bank_serial": f"{serial}-{i}",
            }
            for i in range(1, 9)
        ]
        banks = [
            {
                "serial_number": f"{serial}-{i}",
                "slot_number": i,
                "battery_level": (n + i) % 101,
                "hardware_info": {"temperature": 25.5, "voltage": 4.1, "current": 0.5},
            }
            for i in range(1, 9)
        ]
        return encode(full_payload(serial, slots, banks, 8, timestamp=1_761_000_000 + n))


def _pin_server() -> None:
    """Runs in the child before exec: every thread of the server (the receiver's database
    worker too) shares the one server CPU, so "per core" holds for both servers alike."""
    pin(SERVER_CPU)


async def spawn(*args: str) -> asyncio.subprocess.Process:
    """Start a server process pinned to the server CPU."""
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=ROOT, preexec_fn=_pin_server, env=os.environ | {"PYTHONPATH": str(ROOT)}
    )


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    await proc.wait()


async def wait_ready(session: aiohttp.ClientSession, url: str, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError("server exited")
        try:
            async with session.get(url + "/api/health") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError(url)


async def closed_loop(
    session: aiohttp.ClientSession, url: str, token: str, seconds: float, connections: int, payloads: Payloads
) -> tuple[int, int]:
    ok = bad = 0
    stop = time.monotonic() + seconds

    async def client() -> None:
        nonlocal ok, bad
        while time.monotonic() < stop:
            body = payloads.next()
            async with session.post(url + DATA_PATH, data=body, headers=signed_headers(token, SECRET, body)) as r:
                await r.read()
                if r.status == 200:
                    ok += 1
                else:
                    bad += 1

    await asyncio.gather(*(client() for _ in range(connections)))
    return ok, bad


async def open_loop(
    session: aiohttp.ClientSession, url: str, token: str, rate: float, seconds: float, payloads: Payloads
) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    start = time.monotonic() + 0.2
    count = int(rate * seconds)

    async def one(at: float) -> None:
        nonlocal failures
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        body = payloads.next()
        async with session.post(url + DATA_PATH, data=body, headers=signed_headers(token, SECRET, body)) as r:
            await r.read()
            if r.status != 200:
                failures += 1
        latencies.append(time.monotonic() - at)

    await asyncio.gather(*(one(start + i / rate) for i in range(count)))
    return latencies, failures


async def outbox_drained(database: Path) -> tuple[int, float]:
    """Wait (up to five minutes) until the receiver's outbox is empty; return the rows it
    held and the seconds taken."""
    start = time.monotonic()
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        backlog = rows = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        async with asyncio.timeout(300):
            while rows:
                await asyncio.sleep(0.05)
                rows = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    return backlog, time.monotonic() - start


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def closed_loop_on(
    session: aiohttp.ClientSession, args: argparse.Namespace, *serve: str
) -> tuple[int, float, float]:
    """Start a baseline server (``--serve-bare``/``--serve-floor``), load it; requests, wall and CPU seconds."""
    port = free_port()
    server = await spawn("-m", "bench.receiver_throughput", serve[0], str(port), *serve[1:])
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(session, url, server)
        await closed_loop(session, url, "x", 1.0, args.connections, Payloads())  # warm up
        cpu0 = cpu_seconds(server.pid)
        t0 = time.monotonic()
        ok, _ = await closed_loop(session, url, "x", args.seconds, args.connections, Payloads())
        return ok, time.monotonic() - t0, cpu_seconds(server.pid) - cpu0
    finally:
        await stop(server)


async def measure(args: argparse.Namespace, work: Path, broker: Mosquitto) -> None:
    connector = aiohttp.TCPConnector(limit=args.connections + 8)
    async with aiohttp.ClientSession(connector=connector) as session:
        # 1. bare handler, then the floor (durable commit and a publish, no checks)
        bare_ok, bare_wall, bare_cpu = await closed_loop_on(session, args, "--serve-bare")
        floor_ok, floor_wall, floor_cpu = await closed_loop_on(
            session,
            args,
            "--serve-floor",
            str(work / "floor.db"),
            *(("", "0") if args.no_mqtt else (broker.host, str(broker.port))),
        )

        # 2. the receiver
        port = free_port()
        options = work / "options.json"
        write_options(
            options,
            secrets=[SECRET],
            email=EMAIL,
            password=PASSWORD,
            rate_limit_per_minute=100_000,
            port=port,
            log_level="warning",
        )
        mqtt = [] if args.no_mqtt else ["--mqtt-host", broker.host, "--mqtt-port", str(broker.port)]
        profile = ["-m", "cProfile", "-o", str(args.profile), "-m"] if args.profile else ["-m"]
        receiver = await spawn(
            *profile,
            "hydro_fleet_receiver",
            "--options",
            str(options),
            "--data-dir",
            str(work / "data"),
            "--host",
            "127.0.0.1",
            *mqtt,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            await wait_ready(session, url, receiver)
            async with session.post(url + "/api/admin/login", json={"email": EMAIL, "password": PASSWORD}) as r:
                token = (await r.json())["access_token"]
            payloads = Payloads()
            await closed_loop(session, url, token, 1.0, args.connections, payloads)  # warm up
            cpu0 = cpu_seconds(receiver.pid)
            t0 = time.monotonic()
            recv_ok, recv_bad = await closed_loop(session, url, token, args.seconds, args.connections, payloads)
            recv_wall = time.monotonic() - t0
            # What the load left in the outbox is part of its cost (and the latency run
            # should not compete with it).
            backlog, drain_wall = (0, 0.0) if args.no_mqtt else await outbox_drained(work / "data" / "receiver.db")
            recv_cpu = cpu_seconds(receiver.pid) - cpu0
            latencies, failures = await open_loop(session, url, token, args.rate, args.seconds, payloads)
        finally:
            await stop(receiver)

    print(
        f"cpu: servers pinned to CPU {SERVER_CPU}, client and broker on CPU {CLIENT_CPU}; "
        f"{args.connections} connections, {args.seconds:.0f} s per server; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"bare aiohttp + json.loads : {bare_ok / bare_wall:8.1f} req/s wall, {bare_ok / bare_cpu:8.1f} req per "
        f"server CPU-second, {1000 * bare_cpu / bare_ok:.3f} ms each ({bare_ok} requests, server CPU "
        f"{100 * bare_cpu / bare_wall:.0f} %)"
    )
    print(
        f"receiver verified+committed: {recv_ok / recv_wall:8.1f} req/s wall, {recv_ok / recv_cpu:8.1f} req per "
        f"server CPU-second, {1000 * recv_cpu / recv_ok:.3f} ms each ({recv_ok} requests, {recv_bad} non-200; "
        f"outbox backlog {backlog} rows at the end, drained in {drain_wall:.1f} s and counted)"
    )
    print(
        f"floor (commit + publish)  : {floor_ok / floor_wall:8.1f} req/s wall, {floor_ok / floor_cpu:8.1f} req per "
        f"server CPU-second, {1000 * floor_cpu / floor_ok:.3f} ms each; ratio floor/bare "
        f"{(floor_ok / floor_cpu) / (bare_ok / bare_cpu):.2f}x per CPU-second (the best any receiver can reach)"
    )
    print(
        f"ratio receiver/bare: {recv_ok / recv_wall / (bare_ok / bare_wall):.2f}x wall, "
        f"{(recv_ok / recv_cpu) / (bare_ok / bare_cpu):.2f}x per CPU-second (goal >= 0.5x)"
    )
    if bare_cpu / bare_wall < 0.9:
        # Say which figure to believe: the wall ratio compares against what one client core
        # can send, not against what the bare server could do with its core.
        print(
            f"note: the bare server used {100 * bare_cpu / bare_wall:.0f} % of its core, so its wall figure is "
            "bounded by the load generator; the per CPU-second ratio is the one-core comparison"
        )
    ms = [x * 1000 for x in latencies]
    print(
        f"open loop {args.rate:.0f} req/s for {args.seconds:.0f} s against the receiver: {len(ms)} requests, "
        f"{failures} non-200, p50 {statistics.median(ms):.2f} ms, p99 {quantile(ms, 0.99):.2f} ms, "
        f"max {max(ms):.2f} ms (goal p99 < 20 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument(
        "--no-mqtt", action="store_true", help="run the receiver without a broker (outbox kept, not published)"
    )
    parser.add_argument(
        "--profile", type=Path, help="run the receiver under cProfile and write its statistics to this file"
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-floor", nargs=4, help=argparse.SUPPRESS)  # port, database, broker host, port
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    if args.serve_floor:
        port, database, host, mqtt_port = args.serve_floor
        serve_floor(int(port), database, host, int(mqtt_port))
        return
    pin(CLIENT_CPU)
    with tempfile.TemporaryDirectory(prefix="hf-bench-") as tmp, Mosquitto() as broker:
        asyncio.run(measure(args, Path(tmp), broker))


if __name__ == "__main__":
    main()
