"""Fuzz the receiver with >= 10,000 mutated requests; print the counts.

Runs the real receiver application on a loopback port (with two secrets configured, as
during a rotation) and sends mutated bodies, headers, timestamps, signatures and tokens
(``devtools/receiver_fuzz.py``). Fails (exit 1) if any request that must be refused was
accepted, if anything answered 5xx, or if the database holds a different number of sync
log rows than requests were accepted (every refusal must leave it unchanged).

    python -m bench.receiver_fuzz [--count 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import sqlite3
import sys
import tempfile
import time

import aiohttp
from aiohttp import web

from devtools.mosquitto import free_port
from devtools.receiver_fuzz import Fuzzer
from hydro_fleet_receiver.app import DB_NAME, KEY_NAME, create_app
from hydro_fleet_receiver.options import default_options_dict, parse_options

SECRETS = ["fuzz-secret-new-0123456789", "fuzz-secret-old-9876543210"]
EMAIL = "fuzz@example.com"
PASSWORD = "fuzz-password"


async def run(count: int, seed: int, concurrency: int, data_dir: Path) -> int:
    options = parse_options(
        default_options_dict(
            secrets=SECRETS,
            admin_email=EMAIL,
            admin_password=PASSWORD,
            rate_limit_per_minute=100_000,
            max_body_kb=64,
            log_level="warning",
        )
    )
    runner = web.AppRunner(create_app(options, data_dir, None), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(url + "/api/admin/login", json={"email": EMAIL, "password": PASSWORD}) as r:
                tokens = await r.json()
            fuzzer = Fuzzer(
                url,
                session,
                secrets=SECRETS,
                token=tokens["access_token"],
                refresh_token=tokens["refresh_token"],
                jwt_key=(data_dir / KEY_NAME).read_bytes(),
                email=EMAIL,
                seed=seed,
                max_body=64 * 1024,
            )
            started = time.monotonic()
            result = await fuzzer.run(count, concurrency=concurrency)
            elapsed = time.monotonic() - started
            # The server must still answer normally after all that.
            async with session.get(url + "/api/health") as r:
                alive = r.status == 200
    finally:
        await runner.cleanup()
    with sqlite3.connect(data_dir / DB_NAME) as db:
        rows = db.execute("SELECT COUNT(*) FROM sync_log").fetchone()[0]
    print(f"fuzz: {result.summary()}")
    print(f"mutations: {dict(sorted(result.kinds.items()))}")
    print(
        f"sync_log rows {rows} == accepted {result.accepted}: {rows == result.accepted}; "
        f"server alive after the run: {alive}; {result.sent / elapsed:.0f} req/s"
    )
    for violation in result.violations[:20]:
        print(f"VIOLATION: {violation}")
    ok = not result.violations and rows == result.accepted and alive and result.sent >= count
    print("RESULT:", "ok (0 accepted that should not be, 0 crashes)" if ok else "FAILED")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hf-fuzz-") as tmp:
        sys.exit(asyncio.run(run(args.count, args.seed, args.concurrency, Path(tmp))))


if __name__ == "__main__":
    main()
