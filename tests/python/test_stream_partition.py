"""pool.stream(): bounded batches, early stop leaves the connection clean; partitioned reads."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest


async def test_stream_yields_bounded_batches_with_one_schema(pg):
    sizes = []
    total = 0
    schema = None
    async for df in pg.stream("pg", "SELECT g::bigint AS i, g::text AS s FROM generate_series(1, 50000) g", batch_rows=10000):
        sizes.append(df.height)
        total += df["i"].sum()
        schema = schema or df.schema
        assert df.schema == schema
    assert sum(sizes) == 50000
    assert total == 50000 * 50001 // 2
    assert schema == {"i": pl.Int64, "s": pl.String}
    assert max(sizes) <= 65536


async def test_stopping_early_leaves_the_connection_clean(pool, pg_url):
    await pool.create_pool("one", url=pg_url, min_connections=1, max_connections=1)
    seen = 0
    async for df in pool.stream("one", "SELECT g FROM generate_series(1, 5000000) g"):
        seen += df.height
        break
    assert seen > 0
    # The only connection must be usable again, quickly, with no leftover result.
    for _ in range(50):
        if pool.get_pool_status("one")["in_use"] == 0:
            break
        import asyncio

        await asyncio.sleep(0.05)
    df = await pool.query("one", "SELECT 42 AS x")
    assert df["x"].to_list() == [42]


async def test_stream_of_an_empty_result_gives_the_schema(lite):
    await lite.execute("lite", "CREATE TABLE e (a INTEGER, b TEXT)")
    frames = [df async for df in lite.stream("lite", "SELECT * FROM e")]
    assert len(frames) == 1 and frames[0].height == 0
    assert frames[0].schema == {"a": pl.Int64, "b": pl.String}


async def test_stream_error_is_typed(pg):
    from db_pool import QueryError

    with pytest.raises(QueryError) as info:
        async for _ in pg.stream("pg", "SELECT * FROM no_such_table_stream"):
            pass
    assert info.value.sqlstate == "42P01"


@pytest.mark.parametrize("column", ["id", "day", "ts"])
async def test_partitioned_read_matches_the_plain_read(pg, column):
    await pg.execute("pg", "DROP TABLE IF EXISTS part_t")
    await pg.execute(
        "pg",
        "CREATE TABLE part_t AS SELECT g AS id, DATE '2024-01-01' + (g % 365) AS day,"
        " TIMESTAMP '2024-01-01' + g * INTERVAL '1 minute' AS ts, md5(g::text) AS h"
        " FROM generate_series(1, 20000) g",
    )
    await pg.execute("pg", "INSERT INTO part_t VALUES (NULL, NULL, NULL, 'nulls')")
    sql = "SELECT * FROM part_t WHERE id IS NULL OR id > $1"
    plain = await pg.query("pg", sql, [100])
    parts = await pg.query("pg", sql, [100], partition_on=column, partitions=4)
    assert parts.schema == plain.schema
    assert parts.height == plain.height == 20000 - 100 + 1
    assert parts.sort("h").equals(plain.sort("h"))


async def test_partitioned_read_on_sqlite(lite):
    await lite.execute("lite", "CREATE TABLE t (id INTEGER, d DATE, ts TIMESTAMP)")
    start = dt.datetime(2024, 1, 1, 6, 30)
    rows = [
        (i, str(start.date() + dt.timedelta(days=i)), (start + dt.timedelta(hours=7 * i)).isoformat("T"))
        for i in range(1000)
    ]
    await lite.execute_batch("lite", [("INSERT INTO t VALUES (?, ?, ?)", list(r)) for r in rows])
    plain = await lite.query("lite", "SELECT * FROM t")
    for column in ("id", "d", "ts"):
        parts = await lite.query("lite", "SELECT * FROM t", partition_on=column, partitions=3)
        assert parts.schema == plain.schema
        assert parts.sort("id").equals(plain)
