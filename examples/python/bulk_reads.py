"""Bulk reads from PostgreSQL into Polars: a whole result, a stream of bounded batches, a read
split over two connections, and the bulk_protocol option (COPY or single-row mode).
Run: python examples/python/bulk_reads.py postgresql://user:pass@127.0.0.1:5432/db"""

from __future__ import annotations

import asyncio
import sys
import time

import polars as pl
from db_pool import DatabasePool

ROWS = 300_000
TABLE_SQL = (
    "CREATE TABLE bulk_example AS SELECT g::int8 AS id, (g % 50)::numeric(15,2) AS qty, "
    "DATE '1993-01-01' + g % 2000 AS day, md5(g::text) AS note FROM generate_series(1, $1::int) g"
)


async def timed(label: str, read) -> pl.DataFrame:
    start = time.perf_counter()
    df = await read
    print(f"{label}: {df.height} rows in {time.perf_counter() - start:.2f} s")
    return df


async def main(url: str) -> None:
    sep = "&" if "?" in url else "?"
    async with DatabasePool() as pool:
        await pool.create_pool("pg", url=url, max_connections=2)
        # Single-row mode instead of COPY: the server sends rows faster, the client works more.
        await pool.create_pool("rows", url=f"{url}{sep}bulk_protocol=rows", max_connections=1)
        await pool.execute("pg", "DROP TABLE IF EXISTS bulk_example")
        await pool.execute("pg", TABLE_SQL, [ROWS])

        whole = await timed("query (COPY)", pool.query("pg", "SELECT * FROM bulk_example"))
        print("schema:", dict(whole.schema))
        rows = await timed("query (bulk_protocol=rows)", pool.query("rows", "SELECT * FROM bulk_example"))
        print("same frame:", rows.equals(whole))
        split = await timed(
            "query, partition_on='id', partitions=2",
            pool.query("pg", "SELECT * FROM bulk_example", partition_on="id", partitions=2),
        )
        print("same rows:", split.sort("id").equals(whole.sort("id")))

        # A stream: memory stays near one batch however big the result.
        sizes, total = [], 0
        async for batch in pool.stream("pg", "SELECT id, qty FROM bulk_example WHERE id > $1", [100], batch_rows=50_000):
            sizes.append(batch.height)
            total += int(batch["id"].sum())
        print(f"stream: {len(sizes)} batches of at most {max(sizes)} rows, sum(id) = {total}")
        await pool.execute("pg", "DROP TABLE bulk_example")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres"))
