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


async def test_bulk_protocol_rows_gives_the_same_frames(pool, pg_url):
    from db_pool import ConfigError

    sep = "&" if "?" in pg_url else "?"
    await pool.create_pool("copy", url=pg_url, max_connections=1)
    await pool.create_pool("rows", url=pg_url + sep + "bulk_protocol=rows", max_connections=1)
    sql = (
        "SELECT g::bigint AS i, (g % 50)::numeric(15,2) AS q, md5(g::text) AS s,"
        " CASE WHEN g % 7 = 0 THEN NULL ELSE DATE '1993-01-01' + g % 2000 END AS d"
        " FROM generate_series(1, 200000) g"
    )
    copied = await pool.query("copy", sql)
    rows = await pool.query("rows", sql)
    assert rows.schema == copied.schema
    assert rows.equals(copied)
    streamed = [df async for df in pool.stream("rows", sql, batch_rows=50000)]
    assert [df.height for df in streamed] == [50000] * 4
    assert pl.concat(streamed).equals(copied)
    with pytest.raises(ConfigError, match="bulk_protocol"):
        await pool.create_pool("bad", url=pg_url + sep + "bulk_protocol=fast")


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


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


async def test_sqlite_stream_reads_batch_by_batch_in_bounded_memory(lite):
    # 2M rows of about 60 MB as one frame; streamed, memory must stay near one batch.
    sql = (
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 2000000) "
        "SELECT i, 'label number ' || i AS s FROM r"
    )
    start = _rss_mb()
    peak = start
    sizes, total = [], 0
    async for df in lite.stream("lite", sql, batch_rows=20000):
        sizes.append(df.height)
        total += df["i"].sum()
        assert df.schema == {"i": pl.Int64, "s": pl.String}
        del df
        peak = max(peak, _rss_mb())
    assert sum(sizes) == 2000000 and total == 2000000 * 2000001 // 2
    assert max(sizes) == 20000 and len(sizes) == 100
    assert peak - start < 30, f"RSS grew {peak - start:.0f} MB while streaming"


@pytest.mark.parametrize("protocol", ["copy", "rows"])
async def test_ten_million_row_stream_stays_in_bounded_memory(pool, pg_url, protocol):
    # 10M rows are about 300 MB as one frame; streamed, memory must stay near one batch,
    # through COPY and through single-row mode alike.
    sep = "&" if "?" in pg_url else "?"
    await pool.create_pool("big", url=f"{pg_url}{sep}bulk_protocol={protocol}", max_connections=1)
    await pool.query("big", "SELECT 1")  # connected: the baseline holds the connection
    start = _rss_mb()
    peak = start
    batches, rows, total = 0, 0, 0
    async for df in pool.stream(
        "big", "SELECT g::int8 AS i, g::text AS s FROM generate_series(1, 10000000) g", batch_rows=100000
    ):
        batches += 1
        rows += df.height
        total += df["i"].sum()
        assert df.height <= 100000
        del df
        peak = max(peak, _rss_mb())
    assert rows == 10000000 and total == 10000000 * 10000001 // 2
    assert batches == 100
    assert peak - start < 60, f"RSS grew {peak - start:.0f} MB while streaming"


async def test_sqlite_stream_stopped_early_releases_the_statement(pool, tmp_path):
    url = f"sqlite:///{tmp_path}/early.db"
    await pool.create_pool("one", url=url, min_connections=1, max_connections=1)
    await pool.execute(
        "one",
        "CREATE TABLE t AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 200000) SELECT i FROM r",
    )
    seen = 0
    async for df in pool.stream("one", "SELECT i FROM t", batch_rows=10000):
        seen += df.height
        break
    assert seen == 10000
    # The statement was reset: its read snapshot is gone, so a checkpoint can truncate the
    # WAL and the one connection runs the next call at once.
    await pool.execute("one", "INSERT INTO t VALUES (0)")
    df = await pool.query("one", "SELECT count(*) AS n FROM t")
    assert df["n"].to_list() == [200001]


async def test_sqlite_stream_error_mid_result_is_typed(lite):
    from db_pool import DataConversionError

    await lite.execute(
        "lite",
        "CREATE TABLE m AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 50000) "
        "SELECT CAST(i AS INTEGER) AS i FROM r",
    )
    await lite.execute("lite", "UPDATE m SET i = 'oops' WHERE i = 30000")
    seen = 0
    with pytest.raises(DataConversionError, match="row index 29999"):
        async for df in lite.stream("lite", "SELECT i FROM m ORDER BY rowid", batch_rows=10000):
            seen += df.height
    assert seen == 20000
    assert (await lite.query("lite", "SELECT 1 AS x"))["x"].to_list() == [1]
