"""Receiver CPU per verified and committed sync: SQLite against PostgreSQL, and one, two
and three replicas on one PostgreSQL (issue #19), all measured in the same run.

Each phase starts fresh receivers (no broker: the cost measured is verifying and
committing) and a fresh database, drives them in a closed loop for ``--seconds`` with
``--connections`` clients spread round robin over the replicas, and counts the CPU time
of every receiver process plus, on PostgreSQL, of every process of the private cluster
(backends, WAL writer, checkpointer). Baseline: one receiver on SQLite.

    python -m bench.receiver_replicas [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
import tempfile

import aiohttp

from bench.receiver_throughput import EMAIL, PASSWORD, SECRET, Payloads, closed_loop, cpu_seconds
from devtools.postgres import PostgresCluster
from devtools.receiver import ReceiverProcess

PHASES = (("sqlite", 1), ("postgresql", 1), ("postgresql", 2), ("postgresql", 3))


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the PostgreSQL postmaster's backends and workers)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            children = (task / "children").read_text().split()
            todo += [int(c) for c in children]
    return pids


def tree_cpu(pid: int) -> float:
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(FileNotFoundError):  # a backend that just exited
            total += cpu_seconds(p)
    return total


async def phase(engine: str, replicas: int, cluster: PostgresCluster, work: Path, args: argparse.Namespace) -> float:
    """CPU seconds per acknowledged sync."""
    url = cluster.create_database("bench") if engine == "postgresql" else None
    processes = [
        ReceiverProcess(
            work / f"{engine}-{replicas}-{i}",
            secrets=[SECRET],
            email=EMAIL,
            password=PASSWORD,
            broker_port=None,
            database=url,
            rate_limit_per_minute=100_000,
            log_level="warning",
        )
        for i in range(replicas)
    ]
    for p in processes:
        p.start()
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                processes[0].url + "/api/admin/login", json={"email": EMAIL, "password": PASSWORD}
            ) as r:
                token = (await r.json())["access_token"]
            payloads = Payloads()
            urls = [p.url for p in processes]

            async def load(seconds: float) -> tuple[int, int]:
                share = max(1, args.connections // replicas)
                results = await asyncio.gather(
                    *(closed_loop(session, u, token, seconds, share, payloads) for u in urls)
                )
                return sum(r[0] for r in results), sum(r[1] for r in results)

            await load(1.0)  # warm up: connections, prepared statements, first stations
            pids = [p.process.pid for p in processes if p.process is not None]
            before = sum(cpu_seconds(pid) for pid in pids) + (tree_cpu(postmaster) if url else 0.0)
            ok, bad = await load(args.seconds)
            after = sum(cpu_seconds(pid) for pid in pids) + (tree_cpu(postmaster) if url else 0.0)
    finally:
        for p in processes:
            p.stop()
    per_sync = (after - before) / ok
    print(
        f"{engine:>10} x{replicas}: {ok / args.seconds:7.1f} syncs/s ({bad} refused), {per_sync * 1000:.2f} ms CPU/sync"
    )
    return per_sync


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="hf-bench-replicas-") as tmp, PostgresCluster() as cluster:
        results = {key: await phase(*key, cluster, Path(tmp), args) for key in PHASES}
    sqlite, pg1 = results[("sqlite", 1)], results[("postgresql", 1)]
    print(f"PostgreSQL / SQLite, CPU per sync (receiver + database): {pg1 / sqlite:.2f}x")
    for n in (2, 3):
        growth = results[("postgresql", n)] / pg1 - 1
        print(f"{n} replicas / 1 replica, CPU per sync: {growth * 100:+.1f} % (limit +15 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=12)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
