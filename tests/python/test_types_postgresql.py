"""PostgreSQL -> Arrow -> Polars type round trips (TYPES.md): NULL, min, max, ordinary value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from db_pool import DataConversionError

UTC = dt.timezone.utc

# (SQL type, [SQL literals], polars dtype, [expected python values]); every row also gets NULL.
CASES = [
    ("boolean", ["true", "false"], pl.Boolean, [True, False]),
    ("smallint", ["-32768", "32767", "42"], pl.Int16, [-32768, 32767, 42]),
    ("integer", ["-2147483648", "2147483647", "7"], pl.Int32, [-(2**31), 2**31 - 1, 7]),
    ("bigint", ["-9223372036854775808", "9223372036854775807", "12"], pl.Int64, [-(2**63), 2**63 - 1, 12]),
    ("real", ["-3.4e38", "3.4e38", "1.5"], pl.Float32, [pytest.approx(-3.4e38, rel=1e-6), pytest.approx(3.4e38, rel=1e-6), 1.5]),
    ("double precision", ["-1.7976931348623157e308", "1.7976931348623157e308", "2.25"], pl.Float64, [-1.7976931348623157e308, 1.7976931348623157e308, 2.25]),
    ("numeric(15,2)", ["-9999999999999.99", "9999999999999.99", "1234.5", "0"], pl.Decimal(15, 2),
     [Decimal("-9999999999999.99"), Decimal("9999999999999.99"), Decimal("1234.50"), Decimal("0.00")]),
    ("numeric(38,10)", ["-9999999999999999999999999999.9999999999", "9999999999999999999999999999.9999999999", "0.0000000001"],
     pl.Decimal(38, 10), [Decimal("-9999999999999999999999999999.9999999999"), Decimal("9999999999999999999999999999.9999999999"), Decimal("0.0000000001")]),
    ("money", ["-92233720368547758.08", "92233720368547758.07", "12.34"], pl.Decimal(19, 4),
     [Decimal("-92233720368547758.08"), Decimal("92233720368547758.07"), Decimal("12.34")]),
    ("text", ["''", "'héllo wörld ✓'", "'plain'"], pl.String, ["", "héllo wörld ✓", "plain"]),
    ("varchar(10)", ["'abc'"], pl.String, ["abc"]),
    ("char(3)", ["'ab'"], pl.String, ["ab "]),
    ("bytea", ["'\\x'::bytea", "'\\x00ff10'::bytea"], pl.Binary, [b"", b"\x00\xff\x10"]),
    ("date", ["'4713-01-01 BC'", "'5874897-12-31'", "'2024-02-29'", "'1970-01-01'"], pl.Date,
     [None, None, dt.date(2024, 2, 29), dt.date(1970, 1, 1)]),
    ("time", ["'00:00:00'", "'23:59:59.999999'", "'12:34:56.5'"], pl.Time,
     [dt.time(0, 0), dt.time(23, 59, 59, 999999), dt.time(12, 34, 56, 500000)]),
    ("timestamp", ["'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'2024-05-06 07:08:09.123456'"],
     pl.Datetime("us"), [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(2024, 5, 6, 7, 8, 9, 123456)]),
    ("timestamptz", ["'2024-05-06 07:08:09+02'", "'1970-01-01 00:00:00+00'"], pl.Datetime("us", "UTC"),
     [dt.datetime(2024, 5, 6, 5, 8, 9, tzinfo=UTC), dt.datetime(1970, 1, 1, tzinfo=UTC)]),
    ("interval", ["'1 day 02:03:04.5'", "'-5 seconds'", "'0'"], pl.Duration("us"),
     [dt.timedelta(days=1, hours=2, minutes=3, seconds=4.5), dt.timedelta(seconds=-5), dt.timedelta(0)]),
    ("uuid", ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'"], pl.String,
     ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"]),
    ("json", ["'{\"a\": [1, 2]}'"], pl.String, ['{"a": [1, 2]}']),
    ("jsonb", ["'{\"a\": [1, 2]}'"], pl.String, ['{"a": [1, 2]}']),
    ("integer[]", ["'{1,NULL,3}'", "'{}'"], pl.List(pl.Int32), [[1, None, 3], []]),
    ("text[]", ["'{a,\"b c\",NULL}'"], pl.List(pl.String), [["a", "b c", None]]),
    ("numeric(10,3)[]", ["'{1.5,-2.25}'"], pl.List(pl.Decimal(10, 3)), [[Decimal("1.500"), Decimal("-2.250")]]),
    ("inet", ["'192.168.0.1/24'", "'::1'"], pl.String, ["192.168.0.1/24", "::1"]),
]


def _ids(case):
    return case[0]


@pytest.mark.parametrize("case", [c for c in CASES if c[0] != "date"], ids=_ids)
async def test_round_trip(pg, case):
    sql_type, literals, dtype, expected = case
    values = ", ".join(f"(({lit})::{sql_type}, {i})" for i, lit in enumerate(literals))
    sql = f"SELECT v FROM (VALUES {values}, (NULL::{sql_type}, {len(literals)})) AS t(v, i) ORDER BY i"
    df = await pg.query("pg", sql)
    assert df.schema["v"] == dtype, (sql_type, df.schema["v"])
    got = df["v"].to_list()
    assert got[-1] is None
    assert got[:-1] == expected


async def test_dates_in_range_and_infinity_is_an_error_naming_the_column(pg):
    df = await pg.query("pg", "SELECT '2024-02-29'::date AS d UNION ALL SELECT '0001-01-01'::date UNION ALL SELECT NULL")
    assert df.schema["d"] == pl.Date
    assert df["d"].to_list() == [dt.date(2024, 2, 29), dt.date(1, 1, 1), None]
    with pytest.raises(DataConversionError, match="when_col"):
        await pg.query("pg", "SELECT 'infinity'::date AS when_col")


async def test_timestamptz_is_utc_whatever_the_session_zone(pg):
    async with pg.transaction("pg") as tx:
        await tx.execute("SET LOCAL TIME ZONE 'America/New_York'")
        df = await tx.query("SELECT '2024-01-01 12:00:00-05'::timestamptz AS t")
    assert df["t"].to_list() == [dt.datetime(2024, 1, 1, 17, 0, tzinfo=UTC)]


async def test_unconstrained_numeric_keeps_exact_text(pg):
    df = await pg.query("pg", "SELECT 1.0/3 AS q, 123456789012345678901234567890.5::numeric AS big")
    assert df.schema["q"] == pl.String
    assert Decimal(df["q"][0]) == Decimal(1) / Decimal(3) or df["q"][0].startswith("0.3333")
    assert df["big"][0] == "123456789012345678901234567890.5"


async def test_enum_and_domain(pg):
    await pg.execute_batch("pg", [
        "DROP TABLE IF EXISTS mood_t", "DROP TYPE IF EXISTS mood", "DROP DOMAIN IF EXISTS posint",
        "CREATE TYPE mood AS ENUM ('sad', 'happy')",
        "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
    ])
    df = await pg.query("pg", "SELECT 'happy'::mood AS m, 5::posint AS p, NULL::mood AS n")
    assert df.schema["m"] == pl.String and df["m"].to_list() == ["happy"]
    assert df.schema["p"] == pl.Int32 and df["p"].to_list() == [5]
    assert df["n"].to_list() == [None]


async def test_parameters_of_every_kind(pg):
    df = await pg.query(
        "pg",
        "SELECT $1::boolean AS b, $2::bigint AS i, $3::float8 AS f, $4::text AS s, $5::bytea AS y,"
        " $6::date AS d, $7::numeric(6,2) AS n, $8::uuid AS u, $9::int AS nul, $10::timestamptz AS ts",
        [True, 2**40, 0.5, "it's", b"\x00\x01", dt.date(2020, 1, 2), Decimal("12.30"),
         "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", None, dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)],
    )
    row = df.row(0, named=True)
    assert row == {
        "b": True, "i": 2**40, "f": 0.5, "s": "it's", "y": b"\x00\x01", "d": dt.date(2020, 1, 2),
        "n": Decimal("12.30"), "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "nul": None,
        "ts": dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
    }


async def test_empty_result_keeps_the_schema(pg):
    df = await pg.query("pg", "SELECT 1::int AS a, 'x'::text AS b WHERE false")
    assert df.height == 0
    assert df.schema == {"a": pl.Int32, "b": pl.String}


async def test_large_result_spans_several_batches(pg):
    df = await pg.query("pg", "SELECT g::bigint AS i, g::text AS s FROM generate_series(1, 200000) g")
    assert df.height == 200000
    assert df["i"].sum() == 200000 * 200001 // 2
    assert df["s"][-1] == "200000"
