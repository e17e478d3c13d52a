"""1,000 tasks on a pool of 10 (issue 4 test 13): no deadlock, waiters served in FIFO
order; the soak variant (DB_POOL_SOAK_SECONDS, e.g. 30) checks RSS stays flat."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

pytestmark = pytest.mark.faults


async def test_thousand_tasks_on_ten_connections_fifo_and_no_deadlock(dbp, pg_up):
    await dbp.create_pool("load", url=pg_up.url, min_connections=10, max_connections=10,
                          acquire_timeout=60)
    holders = []
    release = asyncio.Event()

    async def hold() -> None:
        async with dbp.transaction("load") as tx:
            await tx.query("SELECT 1")
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(10)]
    while dbp.get_pool_status("load")["in_use"] < 10:
        await asyncio.sleep(0.01)
    order: list[int] = []

    async def task(i: int) -> None:
        df = await dbp.query("load", "SELECT $1::int AS i, clock_timestamp() AS t", [i])
        order.append((df["t"][0], i))

    tasks = []
    for i in range(1000):
        tasks.append(asyncio.create_task(task(i)))
        # Queue them in this order: the next starts once this one waits in the pool.
        while dbp.get_pool_status("load")["waiting"] < i + 1:
            await asyncio.sleep(0)
    start = time.monotonic()
    release.set()
    await asyncio.wait_for(asyncio.gather(*holders, *tasks), 60)
    elapsed = time.monotonic() - start
    assert len(order) == 1000
    served = [i for _, i in sorted(order)]
    shifts = sorted(abs(rank - i) for rank, i in enumerate(served))
    displacement = shifts[-1]
    # Hand-over is FIFO; the server-side start times also carry thread scheduling noise of
    # the 10 parallel connections (2 cores shared with the rest of the suite), so the
    # figures are the median and 95th percentile; strict order is checked on one
    # connection below.
    assert shifts[499] <= 10 and shifts[949] <= 50, (shifts[499], shifts[949])
    status = dbp.get_pool_status("load")
    assert status["waiting"] == 0 and status["in_use"] == 0 and status["size"] == 10
    print(f"1000 queued tasks served in {elapsed:.2f} s, p95 displacement {shifts[949]}, max {displacement}")


async def test_waiters_on_one_connection_are_served_in_exact_fifo_order(dbp, pg_up):
    await dbp.create_pool("fifo1", url=pg_up.url, min_connections=1, max_connections=1,
                          acquire_timeout=60)
    await dbp.execute("fifo1", "DROP SEQUENCE IF EXISTS fifo_seq")
    await dbp.execute("fifo1", "CREATE SEQUENCE fifo_seq")
    async with dbp.transaction("fifo1"):
        tasks = []
        for i in range(200):
            tasks.append(asyncio.create_task(
                dbp.query("fifo1", "SELECT $1::int AS i, nextval('fifo_seq') AS n", [i])))
            while dbp.get_pool_status("fifo1")["waiting"] < i + 1:
                await asyncio.sleep(0)
    frames = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    # The server's sequence numbers give the order the statements really ran in.
    ran = [int(df["i"][0]) for df in sorted(frames, key=lambda df: df["n"][0])]
    assert ran == list(range(200))


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.skipif(not os.environ.get("DB_POOL_SOAK_SECONDS"), reason="soak: set DB_POOL_SOAK_SECONDS=30")
async def test_soak_rss_stays_flat(dbp, pg_up):
    seconds = float(os.environ["DB_POOL_SOAK_SECONDS"])
    await dbp.create_pool("soak", url=pg_up.url, min_connections=10, max_connections=10)
    count = 0
    stop = time.monotonic() + seconds
    warm = time.monotonic() + min(5.0, seconds / 5)
    baseline = None

    async def worker() -> None:
        nonlocal count
        while time.monotonic() < stop:
            await dbp.query("soak", "SELECT 1 AS one")
            count += 1

    async def sampler() -> None:
        nonlocal baseline
        while time.monotonic() < stop:
            if baseline is None and time.monotonic() >= warm:
                baseline = _rss_kib()
            await asyncio.sleep(0.5)

    await asyncio.gather(sampler(), *[worker() for _ in range(1000)])
    growth = (_rss_kib() - baseline) / baseline
    print(f"soak: {count} queries in {seconds} s, RSS growth after warm-up {growth:.1%}")
    assert growth < 0.05
