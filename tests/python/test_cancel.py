"""Cancelling the awaiting task cancels the query on the server; the connection comes back."""

from __future__ import annotations

import asyncio
import time

import pytest


async def test_wait_for_timeout_cancels_pg_sleep_on_the_server(pg):
    pid_df = await pg.query("pg", "SELECT 1")
    start = time.monotonic()
    with pytest.raises((asyncio.TimeoutError, TimeoutError)):
        await asyncio.wait_for(pg.query("pg", "SELECT pg_sleep(10), 'cancel-me' AS tag"), 0.2)
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, elapsed
    active = await pg.query(
        "pg",
        "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%cancel-me%' AND pid <> pg_backend_pid()",
    )
    assert active["n"][0] == 0
    status = pg.get_pool_status("pg")
    assert status["in_use"] == 0
    # The connection that ran the cancelled query is clean and reusable.
    df = await pg.query("pg", "SELECT 7 AS x")
    assert df["x"].to_list() == [7]
    assert pid_df.height == 1


async def test_cancel_while_waiting_for_a_connection(pool, pg_url):
    await pool.create_pool("one", url=pg_url, max_connections=1)
    holder = asyncio.create_task(pool.query("one", "SELECT pg_sleep(0.5)"))
    await asyncio.sleep(0.1)
    waiter = asyncio.create_task(pool.query("one", "SELECT 1"))
    await asyncio.sleep(0.1)
    assert pool.get_pool_status("one")["waiting"] == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert pool.get_pool_status("one")["waiting"] == 0
    await holder
    assert (await pool.query("one", "SELECT 3 AS x"))["x"].to_list() == [3]


_SQLITE_SERIES = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 1000000000) "


@pytest.mark.parametrize(
    ("select", "wait", "limit"),
    [
        ("SELECT count(*) FROM r", 0.2, 1.0),
        # Rows, not one aggregate: past its first 4,096 rows the read runs on two threads,
        # and the cancel must reach the stepping one.
        ("SELECT i, 'row ' || i AS s FROM r", 0.3, 1.5),
    ],
)
async def test_cancel_sqlite_long_query(lite, select, wait, limit):
    start = time.monotonic()
    with pytest.raises((asyncio.TimeoutError, TimeoutError)):
        await asyncio.wait_for(lite.query("lite", _SQLITE_SERIES + select), wait)
    assert time.monotonic() - start < limit
    assert (await lite.query("lite", "SELECT 5 AS x"))["x"].to_list() == [5]
