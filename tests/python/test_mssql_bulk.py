"""SQL Server bulk_insert (FreeTDS bcp): frames written then read back, NULLs, limits, many
rows in several batches, column matching and typed errors. Runs against the TDS test server
(which implements INSERT BULK and the BULK LOAD packet), or a real SQL Server when
DB_POOL_TEST_MSSQL_URL is set."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from decimal import Decimal

import polars as pl
import pytest
from db_pool import ConfigError, DatabasePool, DataConversionError, QueryError
from polars.testing import assert_frame_equal

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tds_server"))
from launch import TdsServer  # noqa: E402

REAL_URL = os.environ.get("DB_POOL_TEST_MSSQL_URL")
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def mssql_url():
    if REAL_URL:
        yield REAL_URL
        return
    with TdsServer() as server:
        yield server.url


@pytest.fixture
async def ms(mssql_url):
    async with DatabasePool() as pool:
        await pool.create_pool("ms", url=mssql_url, max_connections=2)
        yield pool


async def _table(ms, name: str, columns: str) -> None:
    await ms.execute_batch("ms", [f"DROP TABLE IF EXISTS {name}", f"CREATE TABLE {name} ({columns})"])


async def test_every_type_round_trips_with_nulls_and_limits(ms):
    await _table(ms, "bulk_types", "id int, ti tinyint, si smallint, i int, bi bigint, b bit, r real, "
                 "f float, d decimal(38,10), m money, s nvarchar(40), v varchar(20), bin varbinary(16), "
                 "dd date, t datetime2(7), tz datetimeoffset(7)")
    df = pl.DataFrame({
        "id": [1, 2, 3],
        "ti": pl.Series([0, 255, None], dtype=pl.UInt8),
        "si": pl.Series([-32768, 32767, None], dtype=pl.Int16),
        "i": pl.Series([-(2**31), 2**31 - 1, None], dtype=pl.Int32),
        "bi": pl.Series([-(2**63), 2**63 - 1, None], dtype=pl.Int64),
        "b": [True, False, None],
        "r": pl.Series([1.5, -3.25, None], dtype=pl.Float32),
        "f": [1.7976931348623157e308, -2.5e-300, None],
        "d": pl.Series([Decimal("-9999999999999999999999999999.9999999999"),
                        Decimal("0.0000000001"), None], dtype=pl.Decimal(38, 10)),
        "m": pl.Series([Decimal("-922337203685477.5808"), Decimal("922337203685477.5807"), None],
                       dtype=pl.Decimal(19, 4)),
        "s": ["héllo wörld ✓", "😀 four-byte", None],
        "v": ["plain ascii", "café", None],
        "bin": [b"\x00\x01\xff", b"\xde\xad\xbe\xef", None],
        "dd": [dt.date(1, 1, 1), dt.date(9999, 12, 31), None],
        "t": [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), None],
        "tz": [dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC), dt.datetime(1970, 1, 1, tzinfo=UTC), None],
    })
    assert await ms.bulk_insert("ms", "bulk_types", df) == 3
    back = await ms.query("ms", "SELECT * FROM bulk_types ORDER BY id")
    assert_frame_equal(back.drop("tz", "r", "d", "m"), df.drop("tz", "r", "d", "m"), check_dtypes=False)
    assert back["r"].to_list() == [1.5, -3.25, None]
    assert back["d"].to_list() == df["d"].to_list()
    assert back["m"].to_list() == df["m"].to_list()
    assert back["tz"].to_list() == df["tz"].to_list()
    assert back["ti"].dtype == pl.UInt8 and back["bin"].dtype == pl.Binary
    await ms.execute("ms", "DROP TABLE bulk_types")


async def test_many_rows_in_several_batches(ms):
    await _table(ms, "bulk_many", "i bigint, s nvarchar(12), x float")
    n = 25000
    df = pl.DataFrame({"i": range(n), "s": [f"row {i}" for i in range(n)], "x": [i / 4 for i in range(n)]})
    # 25000 rows, 4000 per batch: seven BULK LOAD messages, each committed on its own.
    assert await ms.bulk_insert("ms", "bulk_many", df, batch_rows=4000) == n
    back = await ms.query("ms", "SELECT i, s, x FROM bulk_many ORDER BY i")
    assert_frame_equal(back, df, check_dtypes=False)
    await ms.execute("ms", "DROP TABLE bulk_many")


async def test_columns_are_matched_by_name_and_missing_ones_are_null(ms):
    await _table(ms, "bulk_names", "a int, B nvarchar(5), c float")
    df = pl.DataFrame({"b": ["x", "y"], "A": [1, 2]})  # other order, other case, no c
    assert await ms.bulk_insert("ms", "bulk_names", df) == 2
    back = await ms.query("ms", "SELECT a, B, c FROM bulk_names ORDER BY a")
    assert back.rows() == [(1, "x", None), (2, "y", None)]
    await ms.execute("ms", "DROP TABLE bulk_names")


async def test_unknown_column_and_incompatible_type_are_typed_errors(ms):
    await _table(ms, "bulk_bad", "a int, s nvarchar(10), d date")
    with pytest.raises(ConfigError, match="column 'nope' is not a column of bulk_bad"):
        await ms.bulk_insert("ms", "bulk_bad", pl.DataFrame({"a": [1], "nope": [2]}))
    with pytest.raises(DataConversionError, match="column 'a': Arrow String cannot be written to the int column"):
        await ms.bulk_insert("ms", "bulk_bad", pl.DataFrame({"a": ["1"]}))
    with pytest.raises(DataConversionError, match="column 'd': Arrow Float64"):
        await ms.bulk_insert("ms", "bulk_bad", pl.DataFrame({"d": [1.5]}))
    with pytest.raises(ConfigError, match="table name"):
        await ms.bulk_insert("ms", "bulk_bad; DROP TABLE x", pl.DataFrame({"a": [1]}))
    with pytest.raises(QueryError) as info:
        await ms.bulk_insert("ms", "no_such_table", pl.DataFrame({"a": [1]}))
    assert info.value.vendor_code == 208
    assert (await ms.query("ms", "SELECT COUNT(*) AS n FROM bulk_bad"))["n"][0] == 0
    await ms.execute("ms", "DROP TABLE bulk_bad")


async def test_a_value_out_of_range_names_the_row_and_writes_nothing(ms):
    await _table(ms, "bulk_range", "i tinyint, d decimal(5,2)")
    df = pl.DataFrame({"i": [1, 2, 300, 4], "d": [1.0, 2.0, 3.0, 4.0]}).with_columns(pl.col("d").cast(pl.Decimal(10, 2)))
    with pytest.raises(DataConversionError, match=r"row 2, column 'i': 300 is out of range for tinyint"):
        await ms.bulk_insert("ms", "bulk_range", df)
    big = pl.DataFrame({"d": pl.Series([Decimal("1.00"), Decimal("1234.50")], dtype=pl.Decimal(10, 2))})
    with pytest.raises(DataConversionError, match=r"row 1, column 'd': 1234.50 is out of range for decimal\(5,2\)"):
        await ms.bulk_insert("ms", "bulk_range", big)
    assert (await ms.query("ms", "SELECT COUNT(*) AS n FROM bulk_range"))["n"][0] == 0
    await ms.execute("ms", "DROP TABLE bulk_range")


async def test_a_row_the_server_rejects_fails_its_batch_and_keeps_earlier_ones(mssql_url):
    async with DatabasePool() as pool:
        await pool.create_pool("one", url=mssql_url, max_connections=1)
        await pool.execute_batch("one", ["DROP TABLE IF EXISTS bulk_pk", "CREATE TABLE bulk_pk (id int PRIMARY KEY, s nvarchar(5))"])
        # Batches of 2: rows 0-1 commit, row 3 repeats id 1 and fails the second batch.
        df = pl.DataFrame({"id": [0, 1, 2, 1, 4], "s": ["a", "b", "c", "d", "e"]})
        with pytest.raises(QueryError, match=r"rows 2\.\.3.*2 rows were committed before") as info:
            await pool.bulk_insert("one", "bulk_pk", df, batch_rows=2)
        assert info.value.vendor_code == 2627
        assert (await pool.query("one", "SELECT id FROM bulk_pk ORDER BY id"))["id"].to_list() == [0, 1]
        assert pool.get_pool_status("one")["in_use"] == 0
        await pool.execute("one", "DROP TABLE bulk_pk")


async def test_empty_frame_writes_nothing(ms):
    await _table(ms, "bulk_empty", "a int")
    assert await ms.bulk_insert("ms", "bulk_empty", pl.DataFrame({"a": pl.Series([], dtype=pl.Int32)})) == 0
    await ms.execute("ms", "DROP TABLE bulk_empty")


async def test_max_types_guid_fixed_width_legacy_datetime_and_smallmoney(ms):
    await _table(ms, "bulk_more", "id int, s nvarchar(max), b varbinary(max), v varchar(max), g uniqueidentifier, "
                 "c char(3), n nchar(2), dt datetime, sdt smalldatetime, sm smallmoney")
    df = pl.DataFrame({
        "id": [1, 2],
        "s": ["✓" * 5000, None],  # longer than one packet: PLP chunks in the bulk load
        "b": [b"\x00\xff" * 6000, None],
        "v": ["x" * 9000, None],
        "g": ["6F9619FF-8B86-D011-B42D-00C04FC964FF", None],
        "c": ["ab", None],
        "n": ["é", None],
        "dt": [dt.datetime(2024, 5, 6, 7, 8, 9, 123000), None],
        "sdt": [dt.datetime(2024, 5, 6, 7, 8), None],
        "sm": pl.Series([Decimal("-214748.3648"), None], dtype=pl.Decimal(10, 4)),
    })
    assert await ms.bulk_insert("ms", "bulk_more", df) == 2
    back = await ms.query("ms", "SELECT * FROM bulk_more ORDER BY id")
    assert back.row(0) == (1, "✓" * 5000, b"\x00\xff" * 6000, "x" * 9000, "6f9619ff-8b86-d011-b42d-00c04fc964ff",
                           "ab ", "é ", dt.datetime(2024, 5, 6, 7, 8, 9, 123000), dt.datetime(2024, 5, 6, 7, 8),
                           Decimal("-214748.3648"))
    assert back.row(1) == (2,) + (None,) * 9
    await ms.execute("ms", "DROP TABLE bulk_more")


async def test_text_outside_windows_1252_into_varchar_is_refused(ms):
    await _table(ms, "bulk_cp", "v varchar(10)")
    with pytest.raises(DataConversionError, match=r"row 1, column 'v': a character outside Windows-1252"):
        await ms.bulk_insert("ms", "bulk_cp", pl.DataFrame({"v": ["café €", "✓"]}))
    await ms.execute("ms", "DROP TABLE bulk_cp")


async def test_cancelled_bulk_insert_keeps_whole_batches_and_the_pool_usable(mssql_url):
    async with DatabasePool() as pool:
        await pool.create_pool("one", url=mssql_url, max_connections=1)
        await pool.execute_batch("one", ["DROP TABLE IF EXISTS bulk_cancel", "CREATE TABLE bulk_cancel (i int)"])
        df = pl.DataFrame({"i": pl.Series(range(400000), dtype=pl.Int32)})
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await asyncio.wait_for(pool.bulk_insert("one", "bulk_cancel", df, batch_rows=1000), 0.3)
        assert pool.get_pool_status("one")["in_use"] == 0
        # Only committed batches are there: the open one went with the closed connection.
        n = (await pool.query("one", "SELECT COUNT(*) AS n FROM bulk_cancel"))["n"][0]
        assert n % 1000 == 0 and n < 400000
        await pool.execute("one", "DROP TABLE bulk_cancel")


async def test_empty_string_arrives_as_null(ms):
    # db-lib's bcp reads a length of 0 as NULL (docs/types.md): documented, and checked here.
    await _table(ms, "bulk_emptystr", "id int, s nvarchar(5)")
    assert await ms.bulk_insert("ms", "bulk_emptystr", pl.DataFrame({"id": [1, 2], "s": ["", "x"]})) == 2
    assert (await ms.query("ms", "SELECT id, s FROM bulk_emptystr ORDER BY id")).rows() == [(1, None), (2, "x")]
    await ms.execute("ms", "DROP TABLE bulk_emptystr")
