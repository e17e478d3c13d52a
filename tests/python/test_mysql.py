"""MySQL / MariaDB through the public API: type round trips (NULL, min, max, ordinary) with
Polars dtypes, parameters, execute / execute_batch / transactions, errors, 200 concurrent
tasks on a pool of 4, cancellation."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from decimal import Decimal

import polars as pl
import pytest
from db_pool import ConfigError, ConnectionError, DataConversionError, QueryError

UTC = dt.timezone.utc


@pytest.fixture
async def my(pool, mysql_url):
    """A DatabasePool with pool "my" on the throwaway MariaDB."""
    await pool.create_pool("my", url=mysql_url, max_connections=4)
    return pool


# (SQL column type, [SQL literals], polars dtype, [expected python values]); every case also
# stores a NULL, read back last.
CASES = [
    ("TINYINT", ["-128", "127", "5"], pl.Int8, [-128, 127, 5]),
    ("TINYINT UNSIGNED", ["0", "255", "7"], pl.UInt8, [0, 255, 7]),
    ("SMALLINT", ["-32768", "32767", "12"], pl.Int16, [-32768, 32767, 12]),
    ("SMALLINT UNSIGNED", ["0", "65535"], pl.UInt16, [0, 65535]),
    ("MEDIUMINT", ["-8388608", "8388607", "3"], pl.Int32, [-8388608, 8388607, 3]),
    ("MEDIUMINT UNSIGNED", ["0", "16777215"], pl.UInt32, [0, 16777215]),
    ("INT", ["-2147483648", "2147483647", "42"], pl.Int32, [-(2**31), 2**31 - 1, 42]),
    ("INT UNSIGNED", ["0", "4294967295"], pl.UInt32, [0, 2**32 - 1]),
    ("BIGINT", ["-9223372036854775808", "9223372036854775807", "77"], pl.Int64, [-(2**63), 2**63 - 1, 77]),
    ("BIGINT UNSIGNED", ["0", "18446744073709551615", "8"], pl.UInt64, [0, 2**64 - 1, 8]),
    ("YEAR", ["1901", "2155", "2024"], pl.Int16, [1901, 2155, 2024]),
    ("FLOAT", ["-3.40282e38", "3.40282e38", "1.5"], pl.Float32,
     [pytest.approx(-3.40282e38, rel=1e-6), pytest.approx(3.40282e38, rel=1e-6), 1.5]),
    ("DOUBLE", ["-1.7976931348623157e308", "1.7976931348623157e308", "2.25"], pl.Float64,
     [-1.7976931348623157e308, 1.7976931348623157e308, 2.25]),
    ("DECIMAL(15,2)", ["-9999999999999.99", "9999999999999.99", "1234.5", "0"], pl.Decimal(15, 2),
     [Decimal("-9999999999999.99"), Decimal("9999999999999.99"), Decimal("1234.50"), Decimal("0.00")]),
    ("DECIMAL(38,10)", ["-9999999999999999999999999999.9999999999", "9999999999999999999999999999.9999999999",
                        "0.0000000001"], pl.Decimal(38, 10),
     [Decimal("-9999999999999999999999999999.9999999999"), Decimal("9999999999999999999999999999.9999999999"),
      Decimal("0.0000000001")]),
    ("DECIMAL(65,30)", ["1.5"], pl.String, ["1.500000000000000000000000000000"]),
    ("DATE", ["'1000-01-01'", "'9999-12-31'", "'2024-02-29'"], pl.Date,
     [dt.date(1000, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29)]),
    ("DATETIME(6)", ["'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'2024-05-06 07:08:09.123456'"],
     pl.Datetime("us"), [dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                         dt.datetime(2024, 5, 6, 7, 8, 9, 123456)]),
    ("TIMESTAMP(6) NULL", ["'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'", "'2024-05-06 07:08:09.5'"],
     pl.Datetime("us", "UTC"), [dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
                                dt.datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC),
                                dt.datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)]),
    ("TIME(6)", ["'-838:59:59'", "'838:59:59'", "'12:34:56.5'"], pl.Duration("us"),
     [-dt.timedelta(hours=838, minutes=59, seconds=59), dt.timedelta(hours=838, minutes=59, seconds=59),
      dt.timedelta(hours=12, minutes=34, seconds=56.5)]),
    ("VARCHAR(255)", ["''", "'héllo wörld ✓'", "'😀'"], pl.String, ["", "héllo wörld ✓", "😀"]),
    ("CHAR(5)", ["'ab'"], pl.String, ["ab"]),
    ("TEXT", ["'long text'"], pl.String, ["long text"]),
    ("BINARY(3)", ["'ab'"], pl.Binary, [b"ab\x00"]),
    ("VARBINARY(8)", ["''", "x'00ff10'"], pl.Binary, [b"", b"\x00\xff\x10"]),
    ("BLOB", ["x'deadbeef'"], pl.Binary, [b"\xde\xad\xbe\xef"]),
    ("JSON", ["'{\"a\": [1, 2]}'"], pl.String, ['{"a": [1, 2]}']),
    ("ENUM('sad','happy')", ["'happy'", "'sad'"], pl.String, ["happy", "sad"]),
    ("SET('a','b','c')", ["'a,c'", "''"], pl.String, ["a,c", ""]),
    ("BOOLEAN", ["FALSE", "TRUE", "7"], pl.Int8, [0, 1, 7]),  # TINYINT(1): MySQL has no boolean
    ("BIT(1)", ["b'0'", "b'1'"], pl.Boolean, [False, True]),
    ("BIT(8)", ["b'00000000'", "b'11111111'", "b'101'"], pl.UInt64, [0, 255, 5]),
    ("BIT(64)", ["0", "0xFFFFFFFFFFFFFFFF", "258"], pl.UInt64, [0, 2**64 - 1, 258]),
    ("UUID", ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"], pl.String, ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
async def test_round_trip(my, case):
    sql_type, literals, dtype, expected = case
    async with my.transaction("my") as tx:  # one connection for the temporary table
        await tx.execute(f"CREATE TEMPORARY TABLE rt (id INT PRIMARY KEY, v {sql_type})")
        rows = ", ".join(f"({i}, {lit})" for i, lit in enumerate(literals))
        await tx.execute(f"INSERT INTO rt VALUES {rows}, ({len(literals)}, NULL)")
        df = await tx.query("SELECT v FROM rt ORDER BY id")
        await tx.execute("DROP TEMPORARY TABLE rt")
    assert df.schema["v"] == dtype, (sql_type, df.schema["v"])
    got = df["v"].to_list()
    assert got[-1] is None
    assert got[:-1] == expected


async def test_null_column_and_empty_result(my):
    df = await my.query("my", "SELECT NULL AS n, 1 AS one")
    assert df.schema["n"] == pl.Null
    assert df["n"].to_list() == [None]
    df = await my.query("my", "SELECT seq AS a, 'x' AS b FROM seq_1_to_10 WHERE seq > 100")
    assert df.height == 0
    assert df.schema == {"a": pl.UInt64, "b": pl.String}


async def test_zero_dates_error_or_null(my, mysql_url):
    async with my.transaction("my") as tx:
        await tx.execute("SET SESSION sql_mode = ''")
        await tx.execute("CREATE TEMPORARY TABLE zd (id INT, d DATE)")
        await tx.execute("INSERT INTO zd VALUES (1, '2024-01-02'), (2, '0000-00-00')")
        with pytest.raises(DataConversionError, match="when_col"):
            await tx.query("SELECT d AS when_col FROM zd ORDER BY id")
        await tx.execute("DROP TEMPORARY TABLE zd")
        await tx.execute("SET SESSION sql_mode = DEFAULT")
    sep = "&" if "?" in mysql_url else "?"
    await my.create_pool("lenient", url=f"{mysql_url}{sep}zero_date=null", max_connections=1)
    df = await my.query("lenient", "SELECT CAST('0000-00-00' AS DATE) AS d, DATE '2024-01-02' AS ok")
    assert df.to_dicts() == [{"d": None, "ok": dt.date(2024, 1, 2)}]


async def test_parameters_of_every_kind(my):
    df = await my.query(
        "my",
        "SELECT ? AS b, ? AS i, ? AS f, ? AS s, ? AS y, CAST(? AS DATE) AS d, CAST(? AS DECIMAL(6,2)) AS n, "
        "? AS nul, CAST(? AS DATETIME(6)) AS ts",
        [True, 2**40, 0.5, "it's ✓", b"\x00\x01", dt.date(2020, 1, 2), Decimal("12.30"), None,
         dt.datetime(2020, 1, 2, 3, 4, 5, 600000)],
    )
    row = df.row(0, named=True)
    assert row == {
        "b": 1, "i": 2**40, "f": 0.5, "s": "it's ✓", "y": b"\x00\x01", "d": dt.date(2020, 1, 2),
        "n": Decimal("12.30"), "nul": None, "ts": dt.datetime(2020, 1, 2, 3, 4, 5, 600000),
    }
    assert df.schema["i"] == pl.Int64 and df.schema["y"] == pl.Binary


async def test_execute_execute_batch_and_transactions(my):
    await my.execute("my", "DROP TABLE IF EXISTS dbpool_items")
    await my.execute("my", "CREATE TABLE dbpool_items (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB")
    try:
        assert await my.execute("my", "INSERT INTO dbpool_items VALUES (?, ?), (?, ?)", [1, "a", 2, "b"]) == 2
        frames = await my.execute_batch("my", [
            "UPDATE dbpool_items SET name = 'z' WHERE id = 1",
            ("INSERT INTO dbpool_items VALUES (?, ?)", [3, "c"]),
            "SELECT id, name FROM dbpool_items ORDER BY id",
        ])
        assert frames[0]["rows_affected"].to_list() == [1]
        assert frames[1]["rows_affected"].to_list() == [1]
        assert frames[2].to_dicts() == [{"id": 1, "name": "z"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}]

        async with my.transaction("my") as tx:
            await tx.execute("INSERT INTO dbpool_items VALUES (?, ?)", [4, "d"])
        with pytest.raises(RuntimeError):
            async with my.transaction("my") as tx:
                await tx.execute("INSERT INTO dbpool_items VALUES (?, ?)", [5, "e"])
                raise RuntimeError("roll back")
        counts = await my.execute_transaction("my", ["DELETE FROM dbpool_items WHERE id = 4",
                                                    "UPDATE dbpool_items SET name = 'y'"])
        assert counts == [1, 3]
        df = await my.query("my", "SELECT id, name FROM dbpool_items ORDER BY id")
        assert df["id"].to_list() == [1, 2, 3] and set(df["name"].to_list()) == {"y"}
    finally:
        await my.execute("my", "DROP TABLE dbpool_items")


async def test_errors_are_typed_with_sqlstate_and_errno(my):
    with pytest.raises(QueryError) as info:
        await my.query("my", "SELEC 1")
    assert info.value.sqlstate == "42000" and info.value.vendor_code == 1064
    with pytest.raises(QueryError) as info:
        await my.query("my", "SELECT * FROM no_such_table_here")
    assert info.value.sqlstate == "42S02" and info.value.vendor_code == 1146
    async with my.transaction("my") as tx:
        await tx.execute("CREATE TEMPORARY TABLE u (id INT PRIMARY KEY)")
        await tx.execute("INSERT INTO u VALUES (1)")
        with pytest.raises(QueryError) as info:
            await tx.execute("INSERT INTO u VALUES (?)", [1])
        assert info.value.sqlstate == "23000" and info.value.vendor_code == 1062
        await tx.execute("DROP TEMPORARY TABLE u")
    with pytest.raises(ConfigError):
        await my.query("my", "SELECT :x", {"x": 1})
    assert (await my.query("my", "SELECT 1 AS x"))["x"].to_list() == [1]


async def test_wrong_password_and_bad_option(pool):
    user_url = os.environ.get("DB_POOL_TEST_MYSQL_USER_URL")
    if not user_url:
        pytest.skip("DB_POOL_TEST_MYSQL_USER_URL not set")
    bad = user_url.replace(":dbpool_secret@", ":wrong-hunter2@")
    assert bad != user_url
    with pytest.raises(ConnectionError) as info:
        await pool.create_pool("pw", url=bad, connect_timeout=5)
    text = str(info.value)
    assert "wrong-hunter2" not in text and "dbpool_secret" not in text
    assert "Access denied" in text
    assert user_url.split("@")[1].split("/")[0] in text  # host:port
    assert info.value.vendor_code == 1045 and info.value.sqlstate == "28000"
    with pytest.raises(ConfigError, match="no_such_option"):
        await pool.create_pool("opt", url=user_url + "?no_such_option=1")
    await pool.create_pool("maria", url=user_url.replace("mysql://", "mariadb://"), max_connections=1)
    assert (await pool.query("maria", "SELECT 2 AS x"))["x"].to_list() == [2]


async def test_200_concurrent_tasks_on_a_pool_of_4(pool, mysql_url):
    await pool.create_pool("my4", url=mysql_url, min_connections=1, max_connections=4)

    async def one(i: int) -> tuple[int, int]:
        df = await pool.query("my4", "SELECT ? AS v, CONNECTION_ID() AS id", [i])
        return int(df["v"][0]), int(df["id"][0])

    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(200))), 60)
    assert [v for v, _ in results] == list(range(200))
    assert 1 <= len({conn for _, conn in results}) <= 4
    status = pool.get_pool_status("my4")
    assert status["in_use"] == 0 and status["waiting"] == 0
    assert status["idle"] == status["size"] <= 4


async def test_wait_for_timeout_cancels_the_query_on_the_server(my):
    start = time.monotonic()
    with pytest.raises((asyncio.TimeoutError, TimeoutError)):
        await asyncio.wait_for(my.query("my", "SELECT SLEEP(10), 'cancel-me' AS tag"), 0.2)
    assert time.monotonic() - start < 1.0
    busy = await my.query(
        "my",
        "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST "
        "WHERE COMMAND = 'Query' AND INFO LIKE '%cancel-me%' AND ID <> CONNECTION_ID()",
    )
    assert busy["n"][0] == 0
    assert my.get_pool_status("my")["in_use"] == 0
    # The connections, including the one that ran the cancelled query, are clean.
    for _ in range(4):
        assert (await my.query("my", "SELECT 7 AS x"))["x"].to_list() == [7]


async def test_stream_in_batches(my):
    sizes = []
    total = 0
    async for df in my.stream("my", "SELECT seq AS i FROM seq_1_to_25000", batch_rows=10000):
        sizes.append(df.height)
        total += df["i"].sum()
    assert sizes == [10000, 10000, 5000]
    assert total == 25000 * 25001 // 2


async def test_timestamp_is_the_utc_instant_whatever_zone_stored_it(my):
    assert (await my.query("my", "SELECT @@session.time_zone AS tz"))["tz"][0] == "+00:00"
    async with my.transaction("my") as tx:
        await tx.execute("CREATE TEMPORARY TABLE tz (id INT, ts TIMESTAMP(6) NULL)")
        # Stored by a session in +02:00: 12:00 there is 10:00 UTC.
        await tx.execute("SET time_zone = '+02:00'")
        await tx.execute("INSERT INTO tz VALUES (1, '2024-05-06 12:00:00.25'), (2, FROM_UNIXTIME(0.5))")
        await tx.execute("SET time_zone = '+00:00'")
        df = await tx.query("SELECT ts, UNIX_TIMESTAMP(ts) AS epoch FROM tz ORDER BY id")
        await tx.execute("DROP TEMPORARY TABLE tz")
    assert df.schema["ts"] == pl.Datetime("us", "UTC")
    assert df["ts"].to_list() == [dt.datetime(2024, 5, 6, 10, 0, 0, 250000, tzinfo=UTC),
                                  dt.datetime(1970, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)]
    # The same instant as the server's own epoch seconds.
    assert [float(e) for e in df["epoch"]] == [t.timestamp() for t in df["ts"].to_list()]


async def test_cancel_kills_the_query_and_keeps_the_session(pool, mysql_url):
    await pool.create_pool("one", url=mysql_url, max_connections=1)
    await pool.create_pool("watch", url=mysql_url, max_connections=1)
    session = (await pool.query("one", "SELECT CONNECTION_ID() AS id"))["id"][0]
    task = asyncio.ensure_future(pool.query("one", "SELECT SLEEP(10), 'kill-query-probe' AS tag"))
    await asyncio.sleep(0.3)
    running = await pool.query("watch", "SELECT ID AS id FROM information_schema.PROCESSLIST "
                                        "WHERE INFO LIKE '%kill-query-probe%' AND COMMAND <> 'Sleep' "
                                        "AND ID <> CONNECTION_ID()")
    assert running["id"].to_list() == [session]  # the statement runs on the server
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    state = await pool.query("watch", f"SELECT COMMAND AS c, INFO AS i FROM information_schema.PROCESSLIST WHERE ID = {session}")
    assert state.to_dicts() == [{"c": "Sleep", "i": None}]  # KILL QUERY stopped it; the session stays
    assert (await pool.query("one", "SELECT CONNECTION_ID() AS id"))["id"][0] == session
