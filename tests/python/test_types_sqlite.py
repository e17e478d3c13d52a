"""SQLite -> Arrow -> Polars: types from declared column types (TYPES.md), NULL/min/max/ordinary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from db_pool import DataConversionError

CASES = [
    ("INTEGER", ["-9223372036854775808", "9223372036854775807", "42"], pl.Int64, [-(2**63), 2**63 - 1, 42]),
    ("BIGINT", ["-1", "1"], pl.Int64, [-1, 1]),
    ("BOOLEAN", ["0", "1"], pl.Boolean, [False, True]),
    ("REAL", ["-1.7976931348623157e308", "1.7976931348623157e308", "2.5"], pl.Float64, [-1.7976931348623157e308, 1.7976931348623157e308, 2.5]),
    ("DOUBLE", ["3"], pl.Float64, [3.0]),
    ("TEXT", ["''", "'héllo ✓'", "'plain'"], pl.String, ["", "héllo ✓", "plain"]),
    ("VARCHAR(20)", ["'v'"], pl.String, ["v"]),
    ("BLOB", ["x''", "x'00ff'"], pl.Binary, [b"", b"\x00\xff"]),
    ("DECIMAL(10,2)", ["'-99999999.99'", "'99999999.99'", "'12.5'", "3"], pl.Decimal(10, 2),
     [Decimal("-99999999.99"), Decimal("99999999.99"), Decimal("12.50"), Decimal("3.00")]),
    ("DATE", ["'0001-01-01'", "'9999-12-31'", "'2024-02-29'"], pl.Date, [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29)]),
    ("TIMESTAMP", ["'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'2024-05-06T07:08:09.5'"], pl.Datetime("us"),
     [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(2024, 5, 6, 7, 8, 9, 500000)]),
    ("DATETIME", ["'2024-05-06 07:08:09+02:00'"], pl.Datetime("us"), [dt.datetime(2024, 5, 6, 5, 8, 9)]),
    ("TIME", ["'00:00:00'", "'23:59:59.999999'", "'12:34:56'"], pl.Time, [dt.time(0), dt.time(23, 59, 59, 999999), dt.time(12, 34, 56)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
async def test_round_trip_by_declared_type(lite, case):
    decl, literals, dtype, expected = case
    await lite.execute("lite", f"CREATE TABLE t (i INTEGER PRIMARY KEY, v {decl})")
    for i, lit in enumerate(literals):
        await lite.execute("lite", f"INSERT INTO t VALUES ({i}, {lit})")
    await lite.execute("lite", f"INSERT INTO t VALUES ({len(literals)}, NULL)")
    df = await lite.query("lite", "SELECT v FROM t ORDER BY i")
    assert df.schema["v"] == dtype, (decl, df.schema["v"])
    got = df["v"].to_list()
    assert got[-1] is None
    assert got[:-1] == expected


async def test_expression_columns_take_the_value_type(lite):
    df = await lite.query("lite", "SELECT 1 + 1 AS i, 0.5 AS f, 'x' AS s, NULL AS n, x'01' AS b")
    assert df.schema == {"i": pl.Int64, "f": pl.Float64, "s": pl.String, "n": pl.Null, "b": pl.Binary}
    assert df.row(0) == (2, 0.5, "x", None, b"\x01")


async def test_integer_column_with_nulls_stays_integer(lite):
    await lite.execute("lite", "CREATE TABLE n (v INTEGER)")
    await lite.execute("lite", "INSERT INTO n VALUES (1), (NULL), (3)")
    df = await lite.query("lite", "SELECT v FROM n")
    assert df.schema["v"] == pl.Int64
    assert df["v"].to_list() == [1, None, 3]


async def test_unparsable_date_is_an_error_naming_the_column(lite):
    await lite.execute("lite", "CREATE TABLE d (born DATE)")
    await lite.execute("lite", "INSERT INTO d VALUES ('not a date')")
    with pytest.raises(DataConversionError, match="born"):
        await lite.query("lite", "SELECT born FROM d")


async def test_invalid_utf8_is_an_error_naming_the_column(lite):
    await lite.execute("lite", "CREATE TABLE u (label TEXT)")
    await lite.execute("lite", "INSERT INTO u VALUES (CAST(x'ff fe' AS TEXT))".replace(" fe", "fe"))
    with pytest.raises(DataConversionError, match="label"):
        await lite.query("lite", "SELECT label FROM u")


async def test_empty_result_keeps_declared_schema(lite):
    await lite.execute("lite", "CREATE TABLE e (a INTEGER, b TEXT, c DATE)")
    df = await lite.query("lite", "SELECT * FROM e")
    assert df.height == 0
    assert df.schema == {"a": pl.Int64, "b": pl.String, "c": pl.Date}
