"""The DatabasePool API end to end on embedded SQLite (file and :memory:)."""

from __future__ import annotations

import asyncio
import time

import db_pool
import polars as pl
import pytest
from db_pool import DatabasePool, PoolClosedError, PoolNotFoundError, QueryError


async def test_create_insert_query_with_bound_params(lite):
    await lite.execute("lite", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
    n = await lite.execute("lite", "INSERT INTO users VALUES (?, ?, ?), (?, ?, ?)", [1, "ann", 1.5, 2, "bob", None])
    assert n == 2
    df = await lite.query("lite", "SELECT * FROM users WHERE id = ?", [2])
    assert df.to_dicts() == [{"id": 2, "name": "bob", "score": None}]
    assert df.schema == {"id": pl.Int64, "name": pl.String, "score": pl.Float64}
    named = await lite.query("lite", "SELECT name FROM users WHERE id = :id", {"id": 1})
    assert named["name"].to_list() == ["ann"]


async def test_params_are_bound_not_interpolated(lite):
    await lite.execute("lite", "CREATE TABLE t (s TEXT)")
    evil = "x'); DROP TABLE t; --"
    await lite.execute("lite", "INSERT INTO t VALUES (?)", [evil])
    df = await lite.query("lite", "SELECT s FROM t")
    assert df["s"].to_list() == [evil]


async def test_execute_batch_gives_one_frame_per_statement(lite):
    frames = await lite.execute_batch(
        "lite",
        ["CREATE TABLE b (x INTEGER)", "INSERT INTO b VALUES (1), (2), (3)", "SELECT sum(x) AS s FROM b"],
    )
    assert len(frames) == 3
    assert frames[0].columns == ["rows_affected"]
    assert frames[1]["rows_affected"].to_list() == [3]
    assert frames[2]["s"].to_list() == [6]


async def test_execute_transaction_is_all_or_nothing(lite):
    await lite.execute("lite", "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)")
    counts = await lite.execute_transaction(
        "lite", ["INSERT INTO acct VALUES (1, 10)", "INSERT INTO acct VALUES (2, 20)"]
    )
    assert counts == [1, 1]
    with pytest.raises(QueryError) as info:
        await lite.execute_transaction(
            "lite", ["INSERT INTO acct VALUES (3, 30)", "INSERT INTO acct VALUES (1, 99)"]
        )
    assert info.value.pool_id == "lite"
    assert info.value.sqlstate == "23505"
    df = await lite.query("lite", "SELECT id FROM acct ORDER BY id")
    assert df["id"].to_list() == [1, 2]  # row 3 was rolled back


async def test_transaction_context_commits_and_rolls_back(lite):
    await lite.execute("lite", "CREATE TABLE t (x INTEGER)")
    async with lite.transaction("lite") as tx:
        await tx.execute("INSERT INTO t VALUES (?)", [1])
        assert (await tx.query("SELECT count(*) AS n FROM t"))["n"].to_list() == [1]
    with pytest.raises(RuntimeError):
        async with lite.transaction("lite") as tx:
            await tx.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("boom")
    assert (await lite.query("lite", "SELECT x FROM t"))["x"].to_list() == [1]
    status = lite.get_pool_status("lite")
    assert status["in_use"] == 0


async def test_memory_database_is_shared_by_the_pool_connections():
    async with DatabasePool() as pool:
        await pool.create_pool("mem", url="sqlite::memory:", min_connections=2, max_connections=4)
        await pool.execute("mem", "CREATE TABLE m (x INTEGER)")
        await asyncio.gather(*(pool.execute("mem", "INSERT INTO m VALUES (?)", [i]) for i in range(20)))
        df = await pool.query("mem", "SELECT count(*) AS n FROM m")
        assert df["n"].to_list() == [20]


async def test_status_list_and_remove(lite):
    status = lite.get_pool_status("lite")
    assert status["pool_id"] == "lite"
    assert status["db_type"] == "sqlite"
    assert status["max_connections"] == 4
    assert status["size"] == status["idle"] + status["in_use"]
    assert lite.list_pools() == ["lite"]
    await lite.remove_pool("lite")
    assert lite.list_pools() == []
    with pytest.raises(PoolNotFoundError) as info:
        await lite.query("lite", "SELECT 1")
    assert "lite" in str(info.value)


async def test_calls_after_close_raise_pool_closed(tmp_path):
    pool = DatabasePool()
    await pool.create_pool("x", url=f"sqlite:///{tmp_path}/x.db")
    await pool.close()
    with pytest.raises(PoolClosedError):
        await pool.query("x", "SELECT 1")
    with pytest.raises(PoolClosedError):
        await pool.create_pool("y", url="sqlite::memory:")


async def test_query_arrow_for_pyarrow_users(lite):
    pa = pytest.importorskip("pyarrow")
    result = await lite.query_arrow("lite", "SELECT 1 AS a, 'x' AS b")
    table = pa.table(result)
    assert table.num_rows == 1
    assert table.column("a").to_pylist() == [1]
    assert table.column("b").to_pylist() == ["x"]


def test_pool_is_not_tied_to_the_loop_it_was_created_on(tmp_path):
    pool = DatabasePool()
    asyncio.run(pool.create_pool("p", url=f"sqlite:///{tmp_path}/p.db"))
    df = asyncio.run(pool.query("p", "SELECT 42 AS answer"))
    assert df["answer"].to_list() == [42]
    asyncio.run(pool.close())


async def test_completions_arrive_in_batches(lite):
    """Results that finish while the loop is busy are settled by one wake-up, not one each."""
    from db_pool import _bridge

    await lite.query("lite", "SELECT 1")
    bridge = _bridge._bridges[asyncio.get_running_loop()]
    wakeups, completions = bridge.wakeups, bridge.completions
    n = 300

    async def busy_loop() -> None:
        # Runs right after every query was submitted and holds the loop while they finish,
        # as a loop busy with other work would.
        deadline = time.monotonic() + 5
        while bridge.notifier.pending() < n and time.monotonic() < deadline:
            time.sleep(0.01)

    *frames, _ = await asyncio.gather(
        *(lite.query("lite", "SELECT ? AS v", [i]) for i in range(n)), busy_loop()
    )
    assert [f["v"][0] for f in frames] == list(range(n))
    assert bridge.completions - completions == n
    assert bridge.wakeups - wakeups <= 2, f"{bridge.wakeups - wakeups} wake-ups for {n} results"


def test_exceptions_importable():
    for name in [
        "DbPoolError", "ConnectionError", "QueryError", "ConfigError", "DataConversionError",
        "PoolTimeoutError", "PoolClosedError", "PoolNotFoundError",
    ]:
        cls = getattr(db_pool, name)
        assert issubclass(cls, db_pool.DbPoolError)


async def test_execute_batch_with_bound_parameters(lite):
    frames = await lite.execute_batch(
        "lite",
        [
            "CREATE TABLE p (x INTEGER, s TEXT)",
            ("INSERT INTO p VALUES (?, ?)", [1, "a"]),
            ("INSERT INTO p VALUES (:x, :s)", {"x": 2, "s": "b"}),
            "SELECT x, s FROM p ORDER BY x",
        ],
    )
    assert frames[1]["rows_affected"].to_list() == [1]
    assert frames[3].to_dicts() == [{"x": 1, "s": "a"}, {"x": 2, "s": "b"}]
    with pytest.raises(TypeError):
        await lite.execute_batch("lite", "SELECT 1")


async def test_large_read_matches_row_by_row(lite):
    # 300,000 rows cross the reader's switch to two threads and several batches.
    await lite.execute(
        "lite",
        "CREATE TABLE big AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 300000) "
        "SELECT i, i * 0.5 AS half, 'v' || i AS label, CASE WHEN i % 10 = 0 THEN NULL ELSE i % 7 END AS m FROM r",
    )
    df = await lite.query("lite", "SELECT * FROM big ORDER BY i")
    assert df.height == 300000
    assert df["i"].to_list() == list(range(1, 300001))
    assert df["half"].sum() == sum(range(1, 300001)) * 0.5
    assert df["label"].to_list()[::49999] == [f"v{i}" for i in range(1, 300001, 49999)]
    assert df["m"].null_count() == 30000
    assert df["m"].drop_nulls().sum() == sum(i % 7 for i in range(1, 300001) if i % 10)
