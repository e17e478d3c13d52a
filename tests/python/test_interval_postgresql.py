"""PostgreSQL interval -> Polars: Duration(us) without months, else the exact
{months, days, microseconds} struct (query, interval[], partitions); the stream rule."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from db_pool import DataConversionError

INTERVAL = pl.Struct({"months": pl.Int32, "days": pl.Int32, "microseconds": pl.Int64})
BIG = "'1 year 2 months 3 days 04:05:06.789'"
BIG_PARTS = {"months": 14, "days": 3, "microseconds": 14_706_789_000}
HOUR = 3_600_000_000


def _rows(n: int, month_row: int, limit: str | None = None) -> str:
    """Row g: g days and g seconds; every 1000th row NULL; row month_row: BIG."""
    return (
        f"SELECT g::int4 AS g, CASE WHEN g = {month_row} THEN interval {BIG} "
        "WHEN g % 1000 = 0 THEN NULL ELSE g * interval '1 day 00:00:01' END AS iv "
        f"FROM generate_series(1, {limit or n}) g"
    )


async def test_without_months_it_is_a_duration(pg):
    df = await pg.query(
        "pg", "SELECT v::interval AS iv FROM (VALUES ('1 day 02:03:04.5'), (NULL), ('-36 hours')) t(v)"
    )
    assert df.schema["iv"] == pl.Duration("us")
    assert df["iv"].to_list() == [dt.timedelta(days=1, hours=2, minutes=3, seconds=4.5), None, dt.timedelta(hours=-36)]


async def test_with_months_every_row_is_the_exact_struct(pg):
    df = await pg.query(
        "pg",
        "SELECT v::interval AS iv FROM (VALUES (1, '1 day 02:03:04.5'), (2, NULL), "
        f"(3, {BIG}), (4, '-1 mon'), (5, '36 hours'), (6, '-1 day +02:00')) t(i, v) ORDER BY i",
    )
    assert df.schema["iv"] == INTERVAL
    assert df["iv"].to_list() == [
        {"months": 0, "days": 1, "microseconds": 7_384_500_000},  # PostgreSQL's own split
        None,
        BIG_PARTS,
        {"months": -1, "days": 0, "microseconds": 0},
        {"months": 0, "days": 0, "microseconds": 36 * HOUR},  # no folding into days
        {"months": 0, "days": -1, "microseconds": 2 * HOUR},
    ]
    # The user's own folding, as documented: a month of 30 days.
    folded = df.select(
        (pl.col("iv").struct.field("months") * 30 + pl.col("iv").struct.field("days")).alias("d")
    )
    assert folded["d"].to_list()[3] == -30


async def test_a_month_in_the_last_row_makes_the_whole_column_the_struct(pg):
    df = await pg.query("pg", _rows(70_000, 70_000))  # two Arrow batches of the result
    assert df.schema["iv"] == INTERVAL
    assert df["iv"][0] == {"months": 0, "days": 1, "microseconds": 1_000_000}
    assert df["iv"][999] is None
    assert df["iv"][65_536] == {"months": 0, "days": 65_537, "microseconds": 65_537_000_000}
    assert df["iv"][69_999] == BIG_PARTS
    # With parameters (the extended-protocol row path): the same.
    same = await pg.query("pg", _rows(70_000, 70_000, "$1::int"), [70_000])
    assert same.equals(df)


async def test_interval_arrays(pg):
    df = await pg.query("pg", "SELECT ARRAY['1 day', NULL]::interval[] AS a")
    assert df.schema["a"] == pl.List(pl.Duration("us"))
    assert df["a"].to_list() == [[dt.timedelta(days=1), None]]
    df = await pg.query(
        "pg", "SELECT ARRAY['1 day', NULL, '-1 mon 2 days 00:00:03']::interval[] AS a"
    )
    assert df.schema["a"] == pl.List(INTERVAL)
    assert df["a"].to_list() == [[
        {"months": 0, "days": 1, "microseconds": 0},
        None,
        {"months": -1, "days": 2, "microseconds": 3_000_000},
    ]]


@pytest.mark.parametrize("with_params", [False, True])
async def test_stream_first_batch_with_a_month_makes_every_batch_the_struct(pg, with_params):
    sql, params = (_rows(2500, 1, "$1::int"), [2500]) if with_params else (_rows(2500, 1), None)
    frames = [df async for df in pg.stream("pg", sql, params, batch_rows=1000)]
    assert [f.height for f in frames] == [1000, 1000, 500]
    assert all(f.schema["iv"] == INTERVAL for f in frames)
    assert frames[0]["iv"][0] == BIG_PARTS
    assert frames[2]["iv"][499] == {"months": 0, "days": 2500, "microseconds": 2_500_000_000}


@pytest.mark.parametrize("with_params", [False, True])
async def test_stream_month_after_the_first_batch_is_an_error_naming_the_column(pg, with_params):
    sql, params = (_rows(5000, 1500, "$1::int"), [5000]) if with_params else (_rows(5000, 1500), None)
    seen = []
    with pytest.raises(DataConversionError, match=r"column 'iv' \(row 1500\).*14 month") as info:
        async for df in pg.stream("pg", sql, params, batch_rows=1000):
            seen.append(df)
    assert "::text" in str(info.value) and "query()" in str(info.value)
    assert len(seen) == 1 and seen[0].schema["iv"] == pl.Duration("us")
    # Without the month the stream is Duration throughout, and the connection is fine.
    frames = [df async for df in pg.stream("pg", _rows(2500, 0), batch_rows=1000)]
    assert all(f.schema["iv"] == pl.Duration("us") for f in frames)
    assert frames[2]["iv"][499] == dt.timedelta(days=2500, seconds=2500)


async def test_stream_of_no_rows_is_a_duration(pg):
    frames = [df async for df in pg.stream("pg", _rows(0, 0), batch_rows=1000)]
    assert len(frames) == 1 and frames[0].height == 0
    assert frames[0].schema["iv"] == pl.Duration("us")


async def test_partitions_share_one_schema_when_one_has_months(pg):
    await pg.execute("pg", "DROP TABLE IF EXISTS interval_part_t")
    await pg.execute(
        "pg",
        "CREATE TABLE interval_part_t AS SELECT g AS id, "
        "CASE WHEN g = 9999 THEN interval '-1 mon' WHEN g = 10 THEN interval '36 hours' "
        "WHEN g % 100 = 0 THEN NULL ELSE g * interval '1 day 00:00:01' END AS iv, "
        "ARRAY[g * interval '1 second'] AS ivs FROM generate_series(1, 10000) g",
    )
    sql = "SELECT * FROM interval_part_t"
    plain = await pg.query("pg", sql)
    parts = await pg.query("pg", sql, partition_on="id", partitions=4)
    assert plain.schema["iv"] == parts.schema["iv"] == INTERVAL
    assert plain.schema["ivs"] == parts.schema["ivs"] == pl.List(pl.Duration("us"))
    parts = parts.sort("id")
    # Rows of partitions without months were Duration: split back into whole 24-hour days
    # and the rest (justify_hours), which is PostgreSQL's own split for these values...
    assert parts["iv"][0] == {"months": 0, "days": 1, "microseconds": 1_000_000}
    assert parts["iv"][99] is None
    assert parts["iv"][9998] == {"months": -1, "days": 0, "microseconds": 0}
    assert parts.filter(pl.col("id") != 10).equals(plain.sort("id").filter(pl.col("id") != 10))
    # ...but not for '36 hours' (days 0, 36 h on the server), as documented.
    assert parts["iv"][9] == {"months": 0, "days": 1, "microseconds": 12 * HOUR}
    assert plain.sort("id")["iv"][9] == {"months": 0, "days": 0, "microseconds": 36 * HOUR}
    # No month anywhere: Duration in every partition.
    parts = await pg.query("pg", "SELECT * FROM interval_part_t WHERE id < 9000", partition_on="id", partitions=3)
    assert parts.schema["iv"] == pl.Duration("us")
