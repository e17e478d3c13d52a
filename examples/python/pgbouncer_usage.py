"""PostgreSQL behind PgBouncer in transaction mode: statement_cache_size=0 (unnamed statements
only), many concurrent tasks with parameters, transactions and batches.
Run: python examples/python/pgbouncer_usage.py postgresql://user:pass@pgbouncer:6432/db
(TLS to PostgreSQL itself works the same way: add sslmode=verify-full&sslrootcert=ca.crt.)"""

from __future__ import annotations

import asyncio
import logging
import sys

from db_pool import DatabasePool


async def worker(pool: DatabasePool, n: int) -> int:
    await pool.execute("app", "INSERT INTO pgb_example (n) VALUES ($1)", [n])
    async with pool.transaction("app") as tx:  # one server session for the whole transaction
        await tx.execute("UPDATE pgb_example SET hits = hits + 1 WHERE n = $1", [n])
        df = await tx.query("SELECT hits FROM pgb_example WHERE n = $1", [n])
    frames = await pool.execute_batch("app", [("SELECT $1::int * 2 AS twice", [n]), "SELECT 1 AS one"])
    return int(df["hits"][0]) + int(frames[0]["twice"][0]) - 2 * n


async def main(url: str) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    async with DatabasePool() as pool:
        await pool.create_pool("app", url=url, max_connections=10, statement_cache_size=0)
        await pool.execute("app", "DROP TABLE IF EXISTS pgb_example")
        await pool.execute("app", "CREATE TABLE pgb_example (n int PRIMARY KEY, hits int DEFAULT 0)")
        results = await asyncio.gather(*[worker(pool, n) for n in range(50)])
        print(f"{len(results)} tasks done, {sum(results)} transactions committed")
        await pool.execute("app", "DROP TABLE pgb_example")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:6432/postgres"))
