"""SQL Server with db-pool: bulk_insert a DataFrame through bcp, read it back, and see a
value the table cannot hold refused before anything is sent.
Run: python mssql_bulk_insert.py mssql://sa:Secret_1@127.0.0.1:1433/master"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from decimal import Decimal

import polars as pl
from db_pool import DatabasePool, DataConversionError


async def main(url: str) -> None:
    async with DatabasePool() as pool:
        await pool.create_pool("ms", url=url, max_connections=2)
        await pool.execute_batch("ms", [
            "DROP TABLE IF EXISTS orders",
            "CREATE TABLE orders (id int, customer nvarchar(40), amount decimal(10,2), placed datetime2)",
        ])
        start = dt.datetime(2024, 1, 1, 9, 30)
        df = pl.DataFrame({
            "id": range(1, 10001),
            "customer": [f"customer {i % 97}" for i in range(10000)],
            "amount": pl.Series([Decimal(i % 500) / 4 for i in range(10000)], dtype=pl.Decimal(10, 2)),
            "placed": [start + dt.timedelta(minutes=i) for i in range(10000)],
        })
        written = await pool.bulk_insert("ms", "orders", df, batch_rows=2500)  # four commits
        print(f"wrote {written} rows")
        top = await pool.query("ms", "SELECT TOP 3 id, customer, amount FROM orders ORDER BY amount DESC, id")
        print(top)

        bad = pl.DataFrame({"id": [1, 2], "amount": pl.Series([Decimal("1.00"), Decimal("123456789.00")],
                                                              dtype=pl.Decimal(12, 2))})
        try:
            await pool.bulk_insert("ms", "orders", bad)
        except DataConversionError as e:
            print(f"refused: {e}")
        await pool.execute("ms", "DROP TABLE orders")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "mssql://sa:Secret_1@127.0.0.1:1433/master"))
