"""SQL Server through FreeTDS: type round trips, parameters, errors, cancellation,
concurrency and broken connections. Runs against the TDS test server (tests/tds_server,
started here on a random port), or against a real SQL Server when DB_POOL_TEST_MSSQL_URL
is set (e.g. mssql://sa:Secret_1@127.0.0.1:1433/master?encrypt=request)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import time
import uuid
from decimal import Decimal

import polars as pl
import pytest
from db_pool import ConfigError, ConnectionError, DatabasePool, QueryError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tds_server"))
from launch import TdsServer  # noqa: E402

REAL_URL = os.environ.get("DB_POOL_TEST_MSSQL_URL")
UTC = dt.timezone.utc
needs_test_server = pytest.mark.skipif(bool(REAL_URL), reason="scripted mode of the TDS test server")


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
        await pool.create_pool("ms", url=mssql_url, max_connections=4)
        yield pool


# (SQL type, [literals], polars dtype, [expected]); every case also gets a NULL row.
CASES = [
    ("tinyint", ["0", "255", "7"], pl.UInt8, [0, 255, 7]),
    ("smallint", ["-32768", "32767", "42"], pl.Int16, [-32768, 32767, 42]),
    ("int", ["-2147483648", "2147483647", "7"], pl.Int32, [-(2**31), 2**31 - 1, 7]),
    ("bigint", ["-9223372036854775808", "9223372036854775807", "12"], pl.Int64, [-(2**63), 2**63 - 1, 12]),
    ("bit", ["1", "0"], pl.Boolean, [True, False]),
    ("real", ["-3.4e38", "3.4e38", "1.5"], pl.Float32,
     [pytest.approx(-3.4e38, rel=1e-6), pytest.approx(3.4e38, rel=1e-6), 1.5]),
    ("float", ["-1.7976931348623157e308", "1.7976931348623157e308", "2.25"], pl.Float64,
     [-1.7976931348623157e308, 1.7976931348623157e308, 2.25]),
    ("decimal(15,2)", ["-9999999999999.99", "9999999999999.99", "1234.5", "0"], pl.Decimal(15, 2),
     [Decimal("-9999999999999.99"), Decimal("9999999999999.99"), Decimal("1234.50"), Decimal("0.00")]),
    ("numeric(38,10)", ["-9999999999999999999999999999.9999999999", "9999999999999999999999999999.9999999999",
                        "0.0000000001"], pl.Decimal(38, 10),
     [Decimal("-9999999999999999999999999999.9999999999"), Decimal("9999999999999999999999999999.9999999999"),
      Decimal("0.0000000001")]),
    ("money", ["-922337203685477.5808", "922337203685477.5807", "12.34"], pl.Decimal(19, 4),
     [Decimal("-922337203685477.5808"), Decimal("922337203685477.5807"), Decimal("12.3400")]),
    ("smallmoney", ["-214748.3648", "214748.3647", "1.5"], pl.Decimal(10, 4),
     [Decimal("-214748.3648"), Decimal("214748.3647"), Decimal("1.5000")]),
    ("char(3)", ["'ab'", "''"], pl.String, ["ab ", "   "]),
    ("varchar(10)", ["'abc'", "''"], pl.String, ["abc", ""]),
    ("nchar(2)", ["N'é'", "N''", "N'✓✓'"], pl.String, ["é ", "  ", "✓✓"]),
    ("nvarchar(20)", ["N'héllo wörld ✓'", "N''"], pl.String, ["héllo wörld ✓", ""]),
    ("nvarchar(max)", ["N'" + "✓" * 5000 + "'", "N''", "N'😀 short'"], pl.String, ["✓" * 5000, "", "😀 short"]),
    ("varchar(max)", ["'" + "x" * 9000 + "'", "''", "'abc'"], pl.String, ["x" * 9000, "", "abc"]),
    ("binary(3)", ["0x0001", "0x000000", "0xffffff"], pl.Binary, [b"\x00\x01\x00", b"\x00\x00\x00", b"\xff\xff\xff"]),
    ("varbinary(10)", ["0x00ff10", "0x", "0x" + "ff" * 10], pl.Binary, [b"\x00\xff\x10", b"", b"\xff" * 10]),
    ("varbinary(max)", ["0x", "0x" + "00ff" * 6000, "0xdeadbeef"], pl.Binary, [b"", b"\x00\xff" * 6000, b"\xde\xad\xbe\xef"]),
    ("date", ["'0001-01-01'", "'9999-12-31'", "'2024-02-29'"], pl.Date,
     [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29)]),
    ("time(7)", ["'00:00:00'", "'23:59:59.9999999'", "'12:34:56.5'"], pl.Time,
     [dt.time(0, 0), dt.time(23, 59, 59, 999999), dt.time(12, 34, 56, 500000)]),
    ("time(3)", ["'12:34:56.789'"], pl.Time, [dt.time(12, 34, 56, 789000)]),
    ("datetime", ["'1753-01-01 00:00:00'", "'9999-12-31 23:59:59.997'", "'2024-05-06 07:08:09.123'"],
     pl.Datetime("us"), [dt.datetime(1753, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 997000),
                         dt.datetime(2024, 5, 6, 7, 8, 9, 123000)]),
    ("smalldatetime", ["'1900-01-01 00:00'", "'2079-06-06 23:59'", "'2024-05-06 07:08'"], pl.Datetime("us"),
     [dt.datetime(1900, 1, 1), dt.datetime(2079, 6, 6, 23, 59), dt.datetime(2024, 5, 6, 7, 8)]),
    ("datetime2", ["'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'2024-05-06 07:08:09.123456'"],
     pl.Datetime("us"), [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                         dt.datetime(2024, 5, 6, 7, 8, 9, 123456)]),
    ("datetimeoffset", ["'2024-05-06 07:08:09 +02:00'", "'1970-01-01 00:00:00 +00:00'", "'2024-01-01 00:30:00 -05:30'"],
     pl.Datetime("us", "UTC"), [dt.datetime(2024, 5, 6, 5, 8, 9, tzinfo=UTC), dt.datetime(1970, 1, 1, tzinfo=UTC),
                                dt.datetime(2024, 1, 1, 6, 0, tzinfo=UTC)]),
    ("uniqueidentifier", ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "'00000000-0000-0000-0000-000000000000'"],
     pl.String, ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
async def test_round_trip(ms, case):
    sql_type, literals, dtype, expected = case
    table = "rt_" + "".join(ch if ch.isalnum() else "_" for ch in sql_type)
    rows = ", ".join(f"({i}, {lit})" for i, lit in enumerate(literals))
    await ms.execute_batch("ms", [
        f"DROP TABLE IF EXISTS {table}",
        f"CREATE TABLE {table} (id int PRIMARY KEY, v {sql_type} NULL)",
        f"INSERT INTO {table} (id, v) VALUES {rows}, ({len(literals)}, NULL)",
    ])
    df = await ms.query("ms", f"SELECT v FROM {table} ORDER BY id")
    assert df.schema["v"] == dtype, (sql_type, df.schema["v"])
    got = df["v"].to_list()
    assert got[-1] is None
    assert got[:-1] == expected
    await ms.execute("ms", f"DROP TABLE {table}")


async def test_expression_types_come_from_the_metadata(ms):
    df = await ms.query("ms", "SELECT CAST(1.5 AS decimal(5,1)) AS d, CAST(NULL AS date) AS n, "
                              "CAST(N'x' AS nvarchar(5)) AS s, CAST(7 AS bigint) AS b")
    assert df.schema == {"d": pl.Decimal(5, 1), "n": pl.Date, "s": pl.String, "b": pl.Int64}
    assert df.row(0) == (Decimal("1.5"), None, "x", 7)


async def test_parameters_of_every_kind(ms):
    df = await ms.query(
        "ms",
        "SELECT ? AS b, ? AS i, ? AS f, ? AS s, ? AS y, CAST(? AS date) AS d, CAST(? AS decimal(6,2)) AS n, "
        "CAST(? AS uniqueidentifier) AS u, ? AS nul, CAST(? AS datetimeoffset) AS ts, ? AS e",
        [True, 2**40, 0.5, "it's ✓", b"\x00\x01", dt.date(2020, 1, 2), Decimal("12.30"),
         uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), None, dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC), ""],
    )
    assert df.row(0, named=True) == {
        "b": True, "i": 2**40, "f": 0.5, "s": "it's ✓", "y": b"\x00\x01", "d": dt.date(2020, 1, 2),
        "n": Decimal("12.30"), "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "nul": None,
        "ts": dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC), "e": "",
    }


async def test_named_parameters_and_values_that_look_like_sql(ms):
    await ms.execute_batch("ms", ["DROP TABLE IF EXISTS people", "CREATE TABLE people (id int, name nvarchar(50))"])
    evil = "x'); DROP TABLE people; --"
    assert await ms.execute("ms", "INSERT INTO people (id, name) VALUES (@id, @name)", {"id": 1, "name": evil}) == 1
    df = await ms.query("ms", "SELECT name FROM people WHERE id = @id", {"id": 1})
    assert df["name"].to_list() == [evil]
    await ms.execute("ms", "DROP TABLE people")


async def test_errors_are_typed_and_the_pool_stays_usable(ms):
    with pytest.raises(QueryError) as info:
        await ms.query("ms", "SELEC 1")
    assert info.value.vendor_code == 102 and info.value.sqlstate == "42000"
    assert "severity 15" in str(info.value) and "state" in str(info.value)
    with pytest.raises(QueryError) as info:
        await ms.query("ms", "SELECT * FROM no_such_table")
    assert info.value.vendor_code == 208 and info.value.sqlstate == "42S02"
    assert "no_such_table" in str(info.value)
    with pytest.raises(QueryError, match="boom"):
        await ms.execute("ms", "RAISERROR('boom', 16, 1)")
    assert (await ms.query("ms", "SELECT 2 AS x"))["x"].to_list() == [2]
    assert ms.get_pool_status("ms")["in_use"] == 0


async def test_wrong_password_is_a_connection_error(mssql_url):
    scheme, rest = mssql_url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    bad = f"{scheme}://{creds.split(':')[0]}:wrong-hunter2@{host}"
    async with DatabasePool() as pool:
        with pytest.raises(ConnectionError) as info:
            await pool.create_pool("pw", url=bad, connect_timeout=10)
    assert info.value.vendor_code == 18456
    assert "wrong-hunter2" not in str(info.value)


async def test_cancel_waitfor_within_a_second_and_reuse_the_connection(mssql_url):
    async with DatabasePool() as pool:
        await pool.create_pool("one", url=mssql_url, max_connections=1)
        spid = (await pool.query("one", "SELECT @@SPID AS spid"))["spid"][0]
        start = time.monotonic()
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await asyncio.wait_for(pool.query("one", "WAITFOR DELAY '00:00:05'; SELECT 1 AS x"), 0.3)
        assert time.monotonic() - start < 1.0
        assert pool.get_pool_status("one")["in_use"] == 0
        # The same connection (same session id) runs the next statement.
        df = await pool.query("one", "SELECT @@SPID AS spid, 7 AS x")
        assert df.row(0) == (spid, 7)


async def test_transactions_commit_and_roll_back(ms):
    await ms.execute_batch("ms", ["DROP TABLE IF EXISTS tx_t", "CREATE TABLE tx_t (id int)"])
    with pytest.raises(RuntimeError):
        async with ms.transaction("ms") as tx:
            await tx.execute("INSERT INTO tx_t VALUES (1)")
            raise RuntimeError("undo")
    async with ms.transaction("ms") as tx:
        await tx.execute("INSERT INTO tx_t VALUES (?)", [2])
        assert (await tx.query("SELECT COUNT(*) AS n FROM tx_t"))["n"][0] == 1
    assert (await ms.query("ms", "SELECT id FROM tx_t"))["id"].to_list() == [2]
    assert await ms.execute_transaction("ms", ["INSERT INTO tx_t VALUES (3)", "DELETE FROM tx_t WHERE id = 2"]) == [1, 1]
    await ms.execute("ms", "DROP TABLE tx_t")


async def test_fifty_tasks_on_a_pool_of_four(ms):
    async def one(i: int) -> int:
        df = await ms.query("ms", "WAITFOR DELAY '00:00:00.020'; SELECT ? AS i", [i])
        return df["i"][0]

    results = await asyncio.gather(*(one(i) for i in range(50)))
    assert results == list(range(50))
    status = ms.get_pool_status("ms")
    assert status["size"] <= 4 and status["in_use"] == 0


@needs_test_server
async def test_broken_connection_is_replaced(mssql_url):
    async with DatabasePool() as pool:
        await pool.create_pool("one", url=mssql_url, max_connections=1)
        spid = (await pool.query("one", "SELECT @@SPID AS spid"))["spid"][0]
        with pytest.raises(ConnectionError):
            await pool.query("one", "SELECT dbpool_disconnect() AS x")
        df = await pool.query("one", "SELECT @@SPID AS spid")
        assert df["spid"][0] != spid
        assert pool.get_pool_status("one")["size"] == 1


async def test_large_result_spans_several_batches(ms):
    await ms.execute_batch("ms", ["DROP TABLE IF EXISTS many", "CREATE TABLE many (i int, s nvarchar(10))"])
    for start in range(0, 70000, 1000):  # SQL Server takes at most 1000 rows per VALUES
        values = ", ".join(f"({i}, N'{i}')" for i in range(start, start + 1000))
        await ms.execute("ms", f"INSERT INTO many VALUES {values}")
    df = await ms.query("ms", "SELECT i, s FROM many ORDER BY i")
    assert df.height == 70000
    assert df["i"].cast(pl.Int64).sum() == 70000 * 69999 // 2
    assert df["s"][-1] == "69999"
    await ms.execute("ms", "DROP TABLE many")


def _with_options(url: str, **options: str) -> str:
    return url + ("&" if "?" in url else "?") + "&".join(f"{k}={v}" for k, v in options.items())


async def test_statement_timeout_from_the_url_cancels_and_keeps_the_connection(mssql_url):
    async with DatabasePool() as pool:
        await pool.create_pool("qt", url=_with_options(mssql_url, statement_timeout="0.3"), max_connections=1)
        spid = (await pool.query("qt", "SELECT @@SPID AS spid"))["spid"][0]
        start = time.monotonic()
        with pytest.raises(QueryError, match="statement_timeout") as info:
            await pool.execute("qt", "WAITFOR DELAY '00:00:03'")
        assert time.monotonic() - start < 1.5
        assert info.value.sqlstate == "HYT00"
        # The attention left the session clean: the same one answers next.
        assert (await pool.query("qt", "SELECT @@SPID AS spid, 4 AS x")).row(0) == (spid, 4)
        # Statements quicker than the timeout are not affected.
        assert (await pool.query("qt", "WAITFOR DELAY '00:00:00.050'; SELECT 5 AS x"))["x"][0] == 5


async def test_encrypt_option_is_validated(mssql_url):
    async with DatabasePool() as pool:
        with pytest.raises(ConfigError, match="encrypt"):
            await pool.create_pool("bad", url=_with_options(mssql_url, encrypt="sometimes"))
        # encrypt=off / request connect to a server without TLS (request falls back to clear text).
        for value in ("off", "request"):
            await pool.create_pool(value, url=_with_options(mssql_url, encrypt=value), max_connections=1)
            assert (await pool.query(value, "SELECT 1 AS x"))["x"][0] == 1


@needs_test_server
async def test_encrypt_require_against_a_server_without_tls_is_a_clear_error(mssql_url):
    async with DatabasePool() as pool:
        start = time.monotonic()
        with pytest.raises(ConnectionError, match="encrypt=require") as info:
            await pool.create_pool("tls", url=_with_options(mssql_url, encrypt="require"), connect_timeout=10)
        assert time.monotonic() - start < 5
        assert "does not support encryption" in str(info.value)
        assert "dbpool_Secret1" not in str(info.value)


@needs_test_server
async def test_error_mid_result_is_a_query_error_and_the_connection_stays(mssql_url):
    async with DatabasePool() as pool:
        await pool.create_pool("one", url=mssql_url, max_connections=1)
        await pool.execute_batch("one", ["DROP TABLE IF EXISTS mid_err", "CREATE TABLE mid_err (i int)",
                                         "INSERT INTO mid_err VALUES (1), (2), (3), (4), (5)"])
        spid = (await pool.query("one", "SELECT @@SPID AS spid"))["spid"][0]
        # Two rows arrive, then an ERROR token: the result is an error, not two rows.
        with pytest.raises(QueryError, match="Divide by zero") as info:
            await pool.query("one", "SELECT i, dbpool_error_after(2) AS e FROM mid_err ORDER BY i")
        assert info.value.vendor_code == 8134
        df = await pool.query("one", "SELECT @@SPID AS spid, COUNT(*) AS n FROM mid_err")
        assert df.row(0) == (spid, 5)
        await pool.execute("one", "DROP TABLE mid_err")


@needs_test_server
async def test_cancel_while_the_server_pauses_mid_result_keeps_the_session(mssql_url):
    async with DatabasePool() as pool:
        await pool.create_pool("one", url=mssql_url, max_connections=1)
        await pool.execute_batch("one", ["DROP TABLE IF EXISTS mid_cancel", "CREATE TABLE mid_cancel (i int)",
                                         "INSERT INTO mid_cancel VALUES " + ", ".join(f"({i})" for i in range(50))])
        spid = (await pool.query("one", "SELECT @@SPID AS spid"))["spid"][0]
        start = time.monotonic()
        # 10 rows arrive, then the server pauses for 30 s in the middle of the result.
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await asyncio.wait_for(
                pool.query("one", "SELECT i, dbpool_delay_after(10, 30) AS d FROM mid_cancel ORDER BY i"), 0.5)
        # db-lib, blocked in its read, sends the attention at its next interrupt check (about
        # once a second) and reads up to the server's DONE_ATTN (docs/api.md).
        assert time.monotonic() - start < 5
        assert pool.get_pool_status("one")["in_use"] == 0
        # The same session (same SPID) answers next: the connection was kept, not replaced.
        df = await pool.query("one", "SELECT @@SPID AS spid, COUNT(*) AS n FROM mid_cancel")
        assert df.row(0) == (spid, 50)
        assert pool.get_pool_status("one")["size"] == 1
        await pool.execute("one", "DROP TABLE mid_cancel")


@needs_test_server
async def test_cancel_while_rows_trickle_in_sends_attention_and_keeps_the_connection(mssql_url):
    async with DatabasePool() as pool:
        await pool.create_pool("one", url=mssql_url, max_connections=1)
        await pool.execute_batch("one", ["DROP TABLE IF EXISTS trickle", "CREATE TABLE trickle (i int)",
                                         "INSERT INTO trickle VALUES " + ", ".join(f"({i})" for i in range(400))])
        spid = (await pool.query("one", "SELECT @@SPID AS spid"))["spid"][0]
        start = time.monotonic()
        # One row every 5 ms: 2 s of rows arriving; the cancel comes while they flow.
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await asyncio.wait_for(
                pool.query("one", "SELECT i, dbpool_row_delay(0.005) AS d FROM trickle ORDER BY i"), 0.4)
        assert time.monotonic() - start < 1.2
        # The reader saw the cancel between rows and sent the attention: the session is kept.
        df = await pool.query("one", "SELECT @@SPID AS spid, COUNT(*) AS n FROM trickle")
        assert df.row(0) == (spid, 400)
        await pool.execute("one", "DROP TABLE trickle")
