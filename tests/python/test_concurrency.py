"""Many tasks on a small pool: all succeed, FIFO waiting, no deadlock, counts return to idle."""

from __future__ import annotations

import asyncio
import time

import pytest
from db_pool import PoolTimeoutError


async def test_500_tasks_on_a_pool_of_5_postgresql(pool, pg_url):
    await pool.create_pool("pg", url=pg_url, min_connections=1, max_connections=5)

    async def one(i: int) -> int:
        df = await pool.query("pg", "SELECT $1::int AS v, pg_backend_pid() AS pid", [i])
        return int(df["v"][0])

    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(500))), 60)
    assert results == list(range(500))
    status = pool.get_pool_status("pg")
    assert status["in_use"] == 0 and status["waiting"] == 0
    assert 1 <= status["size"] <= 5
    assert status["idle"] == status["size"]
    pids = await pool.query("pg", "SELECT count(*) AS n FROM pg_stat_activity WHERE usename = current_user AND application_name = ''")
    assert pids["n"][0] <= 6


async def test_500_tasks_on_a_pool_of_5_sqlite(pool, tmp_path):
    await pool.create_pool("lite", url=f"sqlite:///{tmp_path}/c.db", max_connections=5)
    await pool.execute("lite", "CREATE TABLE c (i INTEGER)")
    await asyncio.gather(*(pool.execute("lite", "INSERT INTO c VALUES (?)", [i]) for i in range(500)))
    df = await pool.query("lite", "SELECT count(*) AS n, sum(i) AS s FROM c")
    assert df.to_dicts() == [{"n": 500, "s": sum(range(500))}]
    status = pool.get_pool_status("lite")
    assert status["in_use"] == 0 and status["waiting"] == 0


async def test_acquire_timeout_names_pool_and_counts(pool, pg_url):
    await pool.create_pool("tiny", url=pg_url, min_connections=1, max_connections=1, acquire_timeout=0.3)
    blocker = asyncio.create_task(pool.query("tiny", "SELECT pg_sleep(1.5)"))
    await asyncio.sleep(0.2)
    start = time.monotonic()
    with pytest.raises(PoolTimeoutError) as info:
        await pool.query("tiny", "SELECT 1")
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 1.0, elapsed
    text = str(info.value)
    assert "tiny" in text and "size=1" in text and "in_use=1" in text and "max=1" in text
    await blocker
    assert (await pool.query("tiny", "SELECT 2 AS x"))["x"].to_list() == [2]


async def test_waiters_are_served_in_fifo_order(pool, pg_url):
    await pool.create_pool("fifo", url=pg_url, min_connections=1, max_connections=1)
    await pool.execute("fifo", "DROP SEQUENCE IF EXISTS fifo_order")
    await pool.execute("fifo", "CREATE SEQUENCE fifo_order")
    order: list[tuple[int, int]] = []
    holder = asyncio.create_task(pool.query("fifo", "SELECT pg_sleep(0.3)"))
    await asyncio.sleep(0.1)

    async def waiter(i: int) -> None:
        # The server's sequence gives the order the statements ran in; the order in which
        # completions reach Python may differ (two engine threads deliver them).
        df = await pool.query("fifo", "SELECT $1::int AS i, nextval('fifo_order') AS n", [i])
        order.append((df["n"][0], i))

    tasks = []
    for i in range(10):
        tasks.append(asyncio.create_task(waiter(i)))
        await asyncio.sleep(0.01)  # queue them in a known order
    await asyncio.gather(holder, *tasks)
    assert [i for _, i in sorted(order)] == list(range(10))
