"""InfluxDB with db-pool: create a database, bulk_insert a DataFrame, query with bound
parameters and GROUP BY, stream a result. Run: python influxdb_usage.py influxdb://127.0.0.1:8086/example"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys

import polars as pl
from db_pool import DatabasePool


async def main(url: str) -> None:
    base, _, database = url.rpartition("/")
    async with DatabasePool() as pool:
        await pool.create_pool("admin", url=base + "/")
        await pool.execute("admin", f'CREATE DATABASE "{database}"')
        await pool.create_pool("ix", url=url, max_connections=4)

        start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        df = pl.DataFrame(
            {
                "time": [start + dt.timedelta(minutes=i) for i in range(6)],
                "host": ["web-1", "web-2"] * 3,
                "load": [0.5, 1.25, 0.75, 1.5, 1.0, 1.75],
                "requests": [10, 20, 30, 40, 50, 60],
            }
        )
        written = await pool.bulk_insert("ix", "cpu", df, tag_columns=["host"])
        print(f"wrote {written} points")

        per_host = await pool.query("ix", "SELECT mean(load), sum(requests) FROM cpu GROUP BY host")
        print(per_host)

        busy = await pool.query(
            "ix",
            "SELECT load FROM cpu WHERE host = $host AND load > $min",
            {"host": "web-2", "min": 1.3},
        )
        print(busy)

        async for part in pool.stream("ix", "SELECT * FROM cpu", batch_rows=4):
            print(f"batch of {part.height} rows")

        await pool.execute("admin", f'DROP DATABASE "{database}"')


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "influxdb://127.0.0.1:8086/example"))
