"""db-pool with many concurrent asyncio tasks, a transaction block and cancellation.

    python examples/python/async_usage.py                      # in-memory SQLite
    python examples/python/async_usage.py postgresql://...     # any database URL
"""

from __future__ import annotations

import asyncio
import sys
import time

from db_pool import DatabasePool


async def main(url: str) -> None:
    pg = url.startswith("postgres")
    param = "$1" if pg else "?"
    async with DatabasePool() as pool:
        await pool.create_pool("main", url=url, min_connections=2, max_connections=8)
        await pool.execute("main", "DROP TABLE IF EXISTS events")
        await pool.execute("main", "CREATE TABLE events (id INTEGER, kind TEXT)")

        # 200 tasks share 8 connections; waiting tasks are served first come, first served.
        start = time.perf_counter()
        await asyncio.gather(
            *(pool.execute("main", f"INSERT INTO events VALUES ({param}, 'click')", [i]) for i in range(200))
        )
        print(f"200 inserts from 200 tasks in {time.perf_counter() - start:.3f} s")

        async with pool.transaction("main") as tx:
            await tx.execute(f"UPDATE events SET kind = 'view' WHERE id < {param}", [50])
            counts = await tx.query("SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind")
        print(counts)

        # A query that takes too long is cancelled on the server when its task is cancelled.
        slow = "SELECT pg_sleep(5)" if pg else (
            "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 100000000) "
            "SELECT count(*) FROM r"
        )
        start = time.perf_counter()
        try:
            await asyncio.wait_for(pool.query("main", slow), timeout=0.2)
        except asyncio.TimeoutError:
            print(f"slow query cancelled after {time.perf_counter() - start:.2f} s")
        print("status:", pool.get_pool_status("main"))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite::memory:"))
