# Redis small-command QPS for db-pool (multiplexed, and with multiplex=false) and redis-py's asyncio pool, with 1/16/64/256 tasks.
"""Each task loops GET of one of 1000 keys for `--duration` seconds after a warm-up; QPS is
commands per second over all tasks. Redis comes from DB_POOL_TEST_REDIS_URL (scripts/
services.sh start redis; . .services/env). redis-py is measured when importable, e.g.:

    uv run --frozen --no-sync --with redis python bench/redis_small.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from common import OUT_DIR, log

KEYS = [f"bench:redis:{i}" for i in range(1000)]


async def run_tasks(call, tasks: int, duration: float) -> float:
    stop = False
    counts = [0] * tasks

    async def worker(n: int) -> None:
        i = n
        while not stop:
            await call(KEYS[i % len(KEYS)])
            counts[n] += 1
            i += 7

    workers = [asyncio.ensure_future(worker(n)) for n in range(tasks)]
    await asyncio.sleep(0.5)  # warm-up
    before = sum(counts)
    start = time.perf_counter()
    await asyncio.sleep(duration)
    done = sum(counts) - before
    elapsed = time.perf_counter() - start
    stop = True
    await asyncio.gather(*workers)
    return done / elapsed


async def bench_db_pool(url: str, max_connections: int, multiplex: bool, tasks: int,
                        duration: float) -> float:
    from db_pool import DatabasePool

    async with DatabasePool() as pool:
        await pool.create_pool("r", url=url, min_connections=max_connections,
                               max_connections=max_connections,
                               multiplex="true" if multiplex else "false")
        await pool.execute_batch("r", [["SET", k, "value"] for k in KEYS])
        return await run_tasks(lambda k: pool.execute("r", ["GET", k]), tasks, duration)


async def bench_redis_py(url: str, max_connections: int, tasks: int, duration: float) -> float:
    import redis.asyncio as aioredis

    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections,
                                                    timeout=60)
    client = aioredis.Redis(connection_pool=pool)
    try:
        return await run_tasks(client.get, tasks, duration)
    finally:
        await client.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--tasks", default="1,16,64,256")
    parser.add_argument("--max-connections", default="1,4")
    args = parser.parse_args()
    url = os.environ["DB_POOL_TEST_REDIS_URL"]
    try:
        import redis  # noqa: F401

        peers = True
    except ImportError:
        peers = False
        log("redis-py not importable: measuring db-pool only")
    rows = []
    for max_connections in [int(x) for x in args.max_connections.split(",")]:
        for tasks in [int(x) for x in args.tasks.split(",")]:
            row = {"max_connections": max_connections, "tasks": tasks}
            row["db-pool"] = await bench_db_pool(url, max_connections, True, tasks, args.duration)
            row["db-pool multiplex=false"] = await bench_db_pool(
                url, max_connections, False, tasks, args.duration)
            if peers:
                row["redis-py"] = await bench_redis_py(url, max_connections, tasks, args.duration)
            log(" ".join(f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in row.items()))
            rows.append(row)
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "redis_small.json").write_text(json.dumps(rows, indent=2))
    cols = [c for c in rows[0] if c not in ("max_connections", "tasks")]
    print("| max_connections | tasks | " + " | ".join(f"{c} (GET/s)" for c in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for row in rows:
        print(f"| {row['max_connections']} | {row['tasks']} | "
              + " | ".join(f"{row[c]:,.0f}" for c in cols) + " |")


if __name__ == "__main__":
    asyncio.run(main())
