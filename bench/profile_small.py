"""Closed loop of short db-pool queries to profile under py-spy (not a benchmark table: see small_queries.py).

    py-spy record --native -r 200 -d 6 -o flame.txt -f raw -- \
        uv run --frozen --no-sync python bench/profile_small.py 16 12
Prints QPS and CPU time per query (all threads). Needs DB_POOL_TEST_PG_URL (scripts/services.sh).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from db_pool import DatabasePool


async def main(tasks: int, seconds: float) -> None:
    pool = DatabasePool()
    await pool.create_pool("b", url=os.environ["DB_POOL_TEST_PG_URL"], min_connections=16, max_connections=16)
    count = 0
    stop = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal count
        while time.perf_counter() < stop:
            await pool.query("b", "SELECT $1::int", [k])
            count += 1
            k += 1

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(i) for i in range(tasks)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{tasks} tasks: {count / wall:.0f} QPS, {cpu / count * 1e6:.1f} us CPU/query (all threads)")
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 16, float(sys.argv[2]) if len(sys.argv) > 2 else 10))
