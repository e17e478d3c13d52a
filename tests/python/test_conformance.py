"""Cross-database conformance: ONE table of cases (turbodbc-style), each a statement per SQL
dialect and the expected Polars frame, run against every SQL database db-pool supports:
PostgreSQL, SQLite, MySQL/MariaDB and SQL Server (the TDS test server, or a real server
when DB_POOL_TEST_MSSQL_URL is set).

A database that differs by design says so in the table (`Differs(why, ...)` with its own
expectation); nothing is skipped silently. The SQL differs between dialects only where the
dialect does (placeholders, literals, type names)."""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from db_pool import DatabasePool, QueryError
from polars.testing import assert_frame_equal

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tds_server"))
from launch import TdsServer  # noqa: E402

DATABASES = ["postgresql", "sqlite", "mysql", "mssql"]
UTC = dt.timezone.utc

# A per-dialect value: {"postgresql": ..., "sqlite": ..., "mysql": ..., "mssql": ...}, with
# "*" for the dialects not named. A plain value is the same for all.
PerDb = Any


def pick(value: PerDb, db: str) -> Any:
    if isinstance(value, dict) and (set(value) & {*DATABASES, "*"}):
        return value[db] if db in value else value["*"]
    return value


@dataclass(frozen=True)
class Differs:
    """This database differs from the others by design: why, and what it gives instead
    (any field left None keeps the common expectation)."""

    why: str
    dtype: Any = None
    values: list | None = None
    expect: Any = None


@dataclass
class Case:
    """kind: "query" (setup, then `sql` with `params` gives `expect`, a DataFrame),
    "execute" (each of `statements` gives the rows affected in `expect`, then `sql` gives
    `frame`), "batch" (execute_batch(`statements`) gives the frames in `expect`),
    "transaction" (statements[0] committed, statements[1] rolled back, then `sql` gives
    `expect`), "error" (`sql` raises `expect`, an exception class, with the SQLSTATE in
    `sqlstate`)."""

    name: str
    kind: str
    sql: PerDb = None
    expect: Any = None
    setup: PerDb = field(default_factory=list)
    params: PerDb = None
    statements: PerDb = None
    frame: Any = None
    sqlstate: PerDb = None
    differs: dict[str, Differs] = field(default_factory=dict)


def typed(name: str, decl: PerDb, literals: PerDb, dtype, values: list, **differs: Differs) -> Case:
    """A type round trip: a table with column `v` of type `decl`, one row per literal and
    one NULL row, read back in order as `values` + [None] of Polars type `dtype`."""
    table = f"conf_{name}"
    setup = {}
    for db in DATABASES:
        rows = ", ".join(f"({i}, {lit})" for i, lit in enumerate(pick(literals, db)))
        null_id = len(pick(literals, db))
        setup[db] = [f"DROP TABLE IF EXISTS {table}",
                     f"CREATE TABLE {table} (id INT PRIMARY KEY, v {pick(decl, db)} NULL)",
                     f"INSERT INTO {table} (id, v) VALUES {rows}, ({null_id}, NULL)"]
    return Case(name, "query", sql=f"SELECT v FROM {table} ORDER BY id", setup=setup,
                expect=pl.DataFrame({"v": [*values, None]}, schema={"v": dtype}), differs=differs)


SQLITE_INTEGERS = Differs("SQLite stores every integer as 64 bits: any INT column is Int64", dtype=pl.Int64)
SQLITE_DOUBLES = Differs("SQLite has one floating-point storage class, 8 bytes: Float64", dtype=pl.Float64)
MYSQL_TIME = Differs("MySQL TIME spans -838:59:59..838:59:59, an elapsed time: Duration(us), not Time",
                     dtype=pl.Duration("us"),
                     values=[dt.timedelta(0), dt.timedelta(hours=23, minutes=59, seconds=59, microseconds=999999),
                             dt.timedelta(hours=12, minutes=34, seconds=56, microseconds=500000)])
MYSQL_BOOLEAN = Differs("MySQL has no boolean type: BOOLEAN is TINYINT(1), so Int8 (BIT(1) gives Boolean)",
                        dtype=pl.Int8, values=[1, 0])

TEXT = ["''", "'héllo wörld ✓'", "'😀 日本語'"]
N_TEXT = ["N''", "N'héllo wörld ✓'", "N'😀 日本語'"]
DATES = ["'1000-01-01'", "'9999-12-31'", "'2024-02-29'"]
TIMES = ["'00:00:00'", "'23:59:59.999999'", "'12:34:56.5'"]
STAMPS = ["'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'2024-05-06 07:08:09.123456'"]

CASES: list[Case] = [
    # ---- types: NULL, minimum, maximum and an ordinary value of each
    typed("int16", {"*": "SMALLINT"}, ["-32768", "32767", "42"], pl.Int16, [-32768, 32767, 42],
          sqlite=SQLITE_INTEGERS),
    typed("int32", {"*": "INTEGER", "mssql": "int"}, ["-2147483648", "2147483647", "7"], pl.Int32,
          [-(2**31), 2**31 - 1, 7], sqlite=SQLITE_INTEGERS),
    typed("int64", "BIGINT", ["-9223372036854775808", "9223372036854775807", "12"], pl.Int64,
          [-(2**63), 2**63 - 1, 12]),
    typed("float32", {"*": "REAL", "mysql": "FLOAT"}, ["-3.4e38", "3.4e38", "1.5"], pl.Float32,
          [-3.4e38, 3.4e38, 1.5], sqlite=SQLITE_DOUBLES),
    typed("float64", {"*": "DOUBLE PRECISION", "mssql": "float"},
          ["-1.7976931348623157e308", "1.7976931348623157e308", "-2.25"], pl.Float64,
          [-1.7976931348623157e308, 1.7976931348623157e308, -2.25]),
    typed("decimal", "DECIMAL(12,2)", ["-9999999999.99", "9999999999.99", "1234.5"], pl.Decimal(12, 2),
          [Decimal("-9999999999.99"), Decimal("9999999999.99"), Decimal("1234.50")]),
    typed("decimal38", "DECIMAL(38,10)",
          {"*": ["-9999999999999999999999999999.9999999999", "9999999999999999999999999999.9999999999", "0.0000000001"],
           "sqlite": ["-99999.9999999999", "99999.9999999999", "0.0000000001"]},
          pl.Decimal(38, 10),
          [Decimal("-9999999999999999999999999999.9999999999"), Decimal("9999999999999999999999999999.9999999999"),
           Decimal("0.0000000001")],
          sqlite=Differs("SQLite stores DECIMAL values as 8-byte doubles (NUMERIC affinity): 38 digits cannot "
                         "survive, so its literals have the 15 significant digits a double holds",
                         values=[Decimal("-99999.9999999999"), Decimal("99999.9999999999"), Decimal("0.0000000001")])),
    typed("text", {"*": "VARCHAR(100)", "postgresql": "TEXT", "sqlite": "TEXT", "mssql": "nvarchar(100)"},
          {"*": TEXT, "mssql": N_TEXT}, pl.String, ["", "héllo wörld ✓", "😀 日本語"]),
    typed("binary", {"postgresql": "BYTEA", "sqlite": "BLOB", "*": "VARBINARY(10)"},
          {"postgresql": ["'\\x'::bytea", "'\\x00ff10'::bytea", "'\\xdeadbeef'::bytea"],
           "sqlite": ["X''", "X'00ff10'", "X'deadbeef'"], "mysql": ["x''", "x'00ff10'", "x'deadbeef'"],
           "mssql": ["0x", "0x00ff10", "0xdeadbeef"]},
          pl.Binary, [b"", b"\x00\xff\x10", b"\xde\xad\xbe\xef"]),
    typed("boolean", {"*": "BOOLEAN", "mssql": "bit"}, {"*": ["TRUE", "FALSE"], "mssql": ["1", "0"]},
          pl.Boolean, [True, False], mysql=MYSQL_BOOLEAN),
    typed("date", "DATE", DATES, pl.Date, [dt.date(1000, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29)]),
    typed("time", {"*": "TIME", "mysql": "TIME(6)", "mssql": "time(6)"}, TIMES, pl.Time,
          [dt.time(0, 0), dt.time(23, 59, 59, 999999), dt.time(12, 34, 56, 500000)], mysql=MYSQL_TIME),
    typed("timestamp", {"*": "TIMESTAMP", "mysql": "DATETIME(6)", "mssql": "datetime2(6)"}, STAMPS,
          pl.Datetime("us"), [dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                              dt.datetime(2024, 5, 6, 7, 8, 9, 123456)]),
    typed("timestamptz", {"postgresql": "TIMESTAMPTZ", "sqlite": "TIMESTAMPTZ", "mysql": "TIMESTAMP(6)",
                          "mssql": "datetimeoffset(6)"},
          {"*": ["'1970-01-01 00:00:01+00:00'", "'2038-01-19 03:14:07.999999+00:00'", "'2024-05-06 07:08:09.5+02:00'"],
           # MySQL TIMESTAMP literals carry no offset: they are in the session time zone, UTC.
           "mysql": ["'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'", "'2024-05-06 05:08:09.5'"],
           "mssql": ["'1970-01-01 00:00:01 +00:00'", "'2038-01-19 03:14:07.999999 +00:00'",
                     "'2024-05-06 07:08:09.5 +02:00'"]},
          pl.Datetime("us", "UTC"),
          [dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), dt.datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC),
           dt.datetime(2024, 5, 6, 5, 8, 9, 500000, tzinfo=UTC)]),
    # ---- results without rows keep their types
    Case("empty_result", "query", sql="SELECT id, name FROM conf_empty WHERE id < 0",
         setup={"*": ["DROP TABLE IF EXISTS conf_empty", "CREATE TABLE conf_empty (id INTEGER, name VARCHAR(20))",
                      "INSERT INTO conf_empty VALUES (1, 'one')"],
                "mssql": ["DROP TABLE IF EXISTS conf_empty", "CREATE TABLE conf_empty (id int, name nvarchar(20))",
                          "INSERT INTO conf_empty VALUES (1, N'one')"]},
         expect=pl.DataFrame(schema={"id": pl.Int32, "name": pl.String}),
         differs={"sqlite": Differs("SQLite integers are Int64", expect=pl.DataFrame(
             schema={"id": pl.Int64, "name": pl.String}))}),
    # ---- parameters, bound (never interpolated): a value that looks like SQL stays a value
    Case("parameters", "execute",
         setup={"*": ["DROP TABLE IF EXISTS conf_params",
                      "CREATE TABLE conf_params (id BIGINT, s VARCHAR(50), f DOUBLE PRECISION, b VARBINARY(10))"],
                "postgresql": ["DROP TABLE IF EXISTS conf_params",
                               "CREATE TABLE conf_params (id BIGINT, s TEXT, f DOUBLE PRECISION, b BYTEA)"],
                "sqlite": ["DROP TABLE IF EXISTS conf_params",
                           "CREATE TABLE conf_params (id BIGINT, s TEXT, f DOUBLE, b BLOB)"],
                "mssql": ["DROP TABLE IF EXISTS conf_params",
                          "CREATE TABLE conf_params (id bigint, s nvarchar(50), f float, b varbinary(10))"]},
         statements={
             "*": [("INSERT INTO conf_params VALUES (?, ?, ?, ?)", [1, "it's ✓'); DROP TABLE conf_params; --", 0.5, b"\x00\x01"]),
                   ("INSERT INTO conf_params VALUES (?, ?, ?, ?)", [2, None, None, None])],
             "postgresql": [("INSERT INTO conf_params VALUES ($1, $2, $3, $4)",
                             [1, "it's ✓'); DROP TABLE conf_params; --", 0.5, b"\x00\x01"]),
                            ("INSERT INTO conf_params VALUES ($1, $2, $3, $4)", [2, None, None, None])],
             # SQL Server does not convert the nvarchar NULL of an untyped None to varbinary.
             "mssql": [("INSERT INTO conf_params VALUES (?, ?, ?, ?)",
                        [1, "it's ✓'); DROP TABLE conf_params; --", 0.5, b"\x00\x01"]),
                       ("INSERT INTO conf_params VALUES (?, ?, ?, CAST(? AS varbinary(10)))", [2, None, None, None])]},
         expect=[1, 1], sql={"*": "SELECT id, s, f, b FROM conf_params WHERE id >= ? ORDER BY id",
                             "postgresql": "SELECT id, s, f, b FROM conf_params WHERE id >= $1 ORDER BY id"},
         params=[1],
         frame=pl.DataFrame({"id": [1, 2], "s": ["it's ✓'); DROP TABLE conf_params; --", None], "f": [0.5, None],
                             "b": [b"\x00\x01", None]},
                            schema={"id": pl.Int64, "s": pl.String, "f": pl.Float64, "b": pl.Binary})),
    # ---- rows affected: UPDATE counts the rows it matched, also when a value did not change
    Case("rows_affected", "execute",
         setup=["DROP TABLE IF EXISTS conf_rows", "CREATE TABLE conf_rows (id INT, n INT)",
                "INSERT INTO conf_rows VALUES (1, 10), (2, 20), (3, 30)"],
         statements=[("UPDATE conf_rows SET n = n + 1 WHERE id >= 2", None),
                     ("UPDATE conf_rows SET n = 10 WHERE id = 1", None),  # unchanged value, still 1
                     ("DELETE FROM conf_rows WHERE id = 3", None),
                     ("INSERT INTO conf_rows VALUES (4, 40), (5, 50)", None),
                     ("DELETE FROM conf_rows WHERE id > 100", None)],
         expect=[2, 1, 1, 2, 0], sql="SELECT id, n FROM conf_rows ORDER BY id",
         frame=pl.DataFrame({"id": [1, 2, 4, 5], "n": [10, 21, 40, 50]}, schema={"id": pl.Int32, "n": pl.Int32}),
         differs={"sqlite": Differs("SQLite integers are Int64", expect=[2, 1, 1, 2, 0], dtype=pl.Int64)}),
    # ---- execute_batch: in order on one connection, a frame per statement
    Case("execute_batch", "batch",
         setup=["DROP TABLE IF EXISTS conf_batch", "CREATE TABLE conf_batch (id INT, name VARCHAR(10))"],
         statements={"*": ["INSERT INTO conf_batch VALUES (1, 'a'), (2, 'b')",
                           ("UPDATE conf_batch SET name = ? WHERE id = ?", ["z", 2]),
                           "SELECT id, name FROM conf_batch ORDER BY id"],
                     "postgresql": ["INSERT INTO conf_batch VALUES (1, 'a'), (2, 'b')",
                                    ("UPDATE conf_batch SET name = $1 WHERE id = $2", ["z", 2]),
                                    "SELECT id, name FROM conf_batch ORDER BY id"]},
         expect=[pl.DataFrame({"rows_affected": [2]}, schema={"rows_affected": pl.Int64}),
                 pl.DataFrame({"rows_affected": [1]}, schema={"rows_affected": pl.Int64}),
                 pl.DataFrame({"id": [1, 2], "name": ["a", "z"]}, schema={"id": pl.Int32, "name": pl.String})],
         differs={"sqlite": Differs("SQLite integers are Int64", dtype=pl.Int64)}),
    # ---- transactions: the committed row stays, the rolled-back one does not
    Case("transaction", "transaction",
         setup=["DROP TABLE IF EXISTS conf_tx", "CREATE TABLE conf_tx (id INT)"],
         statements=["INSERT INTO conf_tx VALUES (1)", "INSERT INTO conf_tx VALUES (2)"],
         sql="SELECT id FROM conf_tx ORDER BY id", expect=pl.DataFrame({"id": [1]}, schema={"id": pl.Int32}),
         differs={"sqlite": Differs("SQLite integers are Int64", dtype=pl.Int64)}),
    # ---- error classes: QueryError with the database's SQLSTATE (class 42 everywhere)
    Case("syntax_error", "error", sql="SELEC 1", expect=QueryError,
         sqlstate={"postgresql": "42601", "sqlite": "42601", "mysql": "42000", "mssql": "42000"}),
    Case("unknown_table", "error", sql="SELECT * FROM conf_no_such_table", expect=QueryError,
         sqlstate={"postgresql": "42P01", "sqlite": "42P01", "mysql": "42S02", "mssql": "42S02"}),
]


@pytest.fixture(scope="module")
def tds_url():
    real = os.environ.get("DB_POOL_TEST_MSSQL_URL")
    if real:
        yield real
        return
    with TdsServer() as server:
        yield server.url


@pytest.fixture
async def conn(request, tmp_path, tds_url):
    """(pool, pool id, db) for the database of the test's `db` parameter."""
    db = request.node.callspec.params["db"]
    if db == "postgresql":
        url = request.getfixturevalue("pg_url")
    elif db == "mysql":
        url = request.getfixturevalue("mysql_url")
    elif db == "sqlite":
        url = f"sqlite:///{tmp_path}/conformance.db"
    else:
        url = tds_url
    async with DatabasePool() as pool:
        await pool.create_pool(db, url=url, max_connections=2)
        yield pool, db


def _expected_frame(expect: pl.DataFrame, differs: Differs | None) -> pl.DataFrame:
    if differs is None:
        return expect
    if differs.expect is not None and isinstance(differs.expect, pl.DataFrame):
        return differs.expect
    out = expect
    if differs.values is not None:
        out = pl.DataFrame({out.columns[0]: [*differs.values, None]},
                           schema={out.columns[0]: differs.dtype or out.dtypes[0]})
    elif differs.dtype is not None:
        out = out.with_columns(pl.col(c).cast(differs.dtype) for c, t in out.schema.items() if t.is_integer()
                               or c == "v")
    return out


def _statement(item):
    return item if isinstance(item, str) else (item[0], item[1])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("db", DATABASES)
async def test_conformance(conn, db, case):
    pool, pid = conn
    setup = pick(case.setup, db)
    if setup:
        await pool.execute_batch(pid, setup)
    try:
        await _run(pool, pid, db, case)
    finally:
        for table in re.findall(r"CREATE TABLE (\w+)", " ".join(setup or [])):
            await pool.execute(pid, f"DROP TABLE IF EXISTS {table}")


async def _run(pool: DatabasePool, pid: str, db: str, case: Case) -> None:
    differs = case.differs.get(db)
    if case.kind == "query":
        df = await pool.query(pid, pick(case.sql, db), pick(case.params, db))
        assert_frame_equal(df, _expected_frame(case.expect, differs))
    elif case.kind == "execute":
        counts = []
        for sql, params in pick(case.statements, db):
            counts.append(await pool.execute(pid, sql, params))
        assert counts == (differs.expect if differs and differs.expect is not None else case.expect)
        df = await pool.query(pid, pick(case.sql, db), pick(case.params, db))
        assert_frame_equal(df, _expected_frame(case.frame, differs))
    elif case.kind == "batch":
        frames = await pool.execute_batch(pid, [_statement(s) for s in pick(case.statements, db)])
        assert len(frames) == len(case.expect)
        for got, want in zip(frames, case.expect, strict=True):
            assert_frame_equal(got, _expected_frame(want, differs) if "rows_affected" not in want.columns else want)
    elif case.kind == "transaction":
        commit, rollback = pick(case.statements, db)
        async with pool.transaction(pid) as tx:
            await tx.execute(commit)
        with pytest.raises(RuntimeError, match="undo"):
            async with pool.transaction(pid) as tx:
                await tx.execute(rollback)
                raise RuntimeError("undo")
        df = await pool.query(pid, pick(case.sql, db))
        assert_frame_equal(df, _expected_frame(case.expect, differs))
        assert pool.get_pool_status(pid)["in_use"] == 0
    elif case.kind == "error":
        with pytest.raises(case.expect) as info:
            await pool.query(pid, pick(case.sql, db))
        assert info.value.sqlstate == pick(case.sqlstate, db), str(info.value)
        assert info.value.pool_id == pid
        # The connection that saw the error serves the next statement.
        assert (await pool.query(pid, "SELECT 1 AS x"))["x"].cast(pl.Int64).to_list() == [1]
    else:
        raise AssertionError(f"unknown case kind {case.kind}")


def test_the_table_names_every_database_for_each_difference():
    """Every Differs entry names a known database and gives a reason."""
    for case in CASES:
        for db, differs in case.differs.items():
            assert db in DATABASES, (case.name, db)
            assert len(differs.why) > 10, (case.name, db)
