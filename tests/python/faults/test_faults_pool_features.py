"""Pool lifecycle features against a throwaway PostgreSQL, seen from the server side:
keepalive of idle connections, auto-scaling between min and max, the after_idle threshold
of check-on-borrow, discard on a failed reset, and close(timeout): drain, then terminate."""

from __future__ import annotations

import asyncio
import time

import pytest
from db_pool import ConnectionError, DbPoolError, PoolClosedError

pytestmark = pytest.mark.faults


async def _psql(pg_up, sql: str) -> str:
    return await asyncio.to_thread(pg_up.psql, sql)


async def _backends(pg_up, app: str) -> list[int]:
    out = await _psql(pg_up, f"SELECT pid FROM pg_stat_activity WHERE application_name = '{app}' ORDER BY pid")
    return [int(x) for x in out.split()]


async def _wait_for(predicate, timeout: float = 10.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(step)


async def _at_least(items: list, n: int) -> bool:
    return len(items) >= n


# ------------------------------------------------------------------ keepalive_interval

async def _state_change_epoch(pg_up, app: str) -> float:
    return float(await _psql(pg_up, "SELECT extract(epoch FROM state_change) FROM pg_stat_activity "
                                    f"WHERE application_name = '{app}'"))


async def test_keepalive_pings_idle_connections_and_replaces_a_killed_one_unseen(dbp, pg_up):
    common = dict(url=pg_up.url, min_connections=1, max_connections=1, health_check_interval=0,
                  check_on_borrow="off")
    await dbp.create_pool("ka", keepalive_interval=0.3, application_name="ka", **common)
    await dbp.create_pool("noka", application_name="noka", **common)
    await dbp.query("ka", "SELECT 1")
    await dbp.query("noka", "SELECT 1")
    # Server side: the idle session of "ka" runs a statement every ~0.3 s (its state_change
    # moves on); the one of "noka" is left alone.
    ka_before = await _state_change_epoch(pg_up, "ka")
    noka_before = await _state_change_epoch(pg_up, "noka")
    await asyncio.sleep(1.2)
    assert await _state_change_epoch(pg_up, "ka") > ka_before + 0.5
    assert await _state_change_epoch(pg_up, "noka") == noka_before
    # A killed idle backend is found by the keepalive and replaced before anyone borrows.
    [old] = await _backends(pg_up, "ka")
    await _psql(pg_up, f"SELECT pg_terminate_backend({old})")

    async def replaced():
        pids = await _backends(pg_up, "ka")
        return pids if pids and old not in pids else None

    new = await _wait_for(replaced, timeout=5)
    assert new and old not in new
    status = dbp.get_pool_status("ka")
    assert status["connections_opened"] == 2 and status["connections_closed"] == 1
    df = await dbp.query("ka", "SELECT pg_backend_pid() AS p")  # check_on_borrow is off
    assert df["p"][0] == new[0]


# ------------------------------------------------------------------ auto_scaling

async def _hold(dbp, pool_id: str, n: int, release: asyncio.Event, started: list) -> list[asyncio.Task]:
    async def one():
        async with dbp.transaction(pool_id) as tx:
            await tx.query("SELECT 1")
            started.append(1)
            await release.wait()
    return [asyncio.create_task(one()) for _ in range(n)]


async def test_auto_scaling_grows_under_load_and_shrinks_back_to_min(dbp, pg_up):
    await dbp.create_pool("auto", url=pg_up.url, min_connections=2, max_connections=10,
                          auto_scaling=True, scale_up_threshold=0.5, scale_down_threshold=0.2,
                          health_check_interval=0, application_name="auto")
    await dbp.create_pool("fixed", url=pg_up.url, min_connections=2, max_connections=10,
                          health_check_interval=0, application_name="fixed")
    release = asyncio.Event()
    started: list = []
    tasks = await _hold(dbp, "auto", 2, release, started) + await _hold(dbp, "fixed", 2, release, started)
    await _wait_for(lambda: _at_least(started, 4))
    # 2 of 2 in use (utilisation 1 >= 0.5): one spare per tick until 2/size < 0.5, i.e. 5.
    sizes = []

    async def grown():
        sizes.append(dbp.get_pool_status("auto")["size"])
        return sizes[-1] >= 5

    assert await _wait_for(grown, timeout=10, step=0.1)
    await asyncio.sleep(1.5)  # several more ticks: it stops there (2/5 = 0.4 < 0.5)
    assert dbp.get_pool_status("auto")["size"] == 5
    assert sizes == sorted(sizes)  # grew one at a time, never shrank meanwhile
    assert len(await _backends(pg_up, "auto")) == 5
    assert dbp.get_pool_status("fixed")["size"] == 2  # without auto_scaling: no spares
    release.set()
    await asyncio.gather(*tasks)
    # Idle (utilisation 0 <= 0.2): closed one per tick down to min, not waiting for idle_timeout.

    async def shrunk():
        return dbp.get_pool_status("auto")["size"] == 2

    assert await _wait_for(shrunk, timeout=10, step=0.1)
    await asyncio.sleep(1.0)
    assert dbp.get_pool_status("auto")["size"] == 2
    assert len(await _backends(pg_up, "auto")) == 2


async def test_auto_scaling_never_exceeds_max(dbp, pg_up):
    await dbp.create_pool("cap", url=pg_up.url, min_connections=2, max_connections=3,
                          auto_scaling=True, scale_up_threshold=0.5, health_check_interval=0)
    release = asyncio.Event()
    started: list = []
    tasks = await _hold(dbp, "cap", 2, release, started)
    await _wait_for(lambda: _at_least(started, 2))
    await asyncio.sleep(2.0)
    assert dbp.get_pool_status("cap")["size"] == 3
    release.set()
    await asyncio.gather(*tasks)


# ------------------------------------------------------------------ check_on_borrow after_idle

async def test_after_idle_checks_only_connections_idle_past_the_threshold(dbp, pg_up):
    await dbp.create_pool("ai", url=pg_up.url, min_connections=1, max_connections=1,
                          check_on_borrow="after_idle", check_on_borrow_idle=1.0,
                          health_check_interval=0, application_name="ai")
    # Idle for less than the threshold: handed out unchecked, so the caller meets the dead
    # session (one ConnectionError) ...
    await dbp.query("ai", "SELECT 1")
    [first] = await _backends(pg_up, "ai")
    await _psql(pg_up, f"SELECT pg_terminate_backend({first})")
    with pytest.raises(ConnectionError):
        await dbp.query("ai", "SELECT 1")
    # ... idle for longer: checked, the dead one dropped, the caller gets a fresh one.
    df = await dbp.query("ai", "SELECT pg_backend_pid() AS p")
    second = df["p"][0]
    assert second != first
    await _psql(pg_up, f"SELECT pg_terminate_backend({second})")
    await asyncio.sleep(1.3)
    df = await dbp.query("ai", "SELECT pg_backend_pid() AS p")
    assert df["p"][0] not in (first, second)
    assert dbp.get_pool_status("ai")["connections_opened"] == 3


# ------------------------------------------------------------------ discard on failed reset

async def test_connection_whose_reset_fails_is_discarded_not_handed_out(dbp, pg_up):
    await _psql(pg_up, "DROP TABLE IF EXISTS reset_gate; CREATE TABLE reset_gate (x int); "
                       "INSERT INTO reset_gate VALUES (1)")
    # init_sql runs again after each reset; it fails (division by zero) while the gate is empty.
    await dbp.create_pool("rs", url=pg_up.url, min_connections=1, max_connections=1,
                          reset_session=True, health_check_interval=0, application_name="rs",
                          init_sql=["SELECT 1 / (SELECT count(*)::int FROM reset_gate)"])
    first = (await dbp.query("rs", "SELECT pg_backend_pid() AS p"))["p"][0]
    await _psql(pg_up, "DELETE FROM reset_gate")
    await dbp.execute("rs", "SET search_path = dirty")  # its reset on return fails

    async def gone():
        return first not in await _backends(pg_up, "rs")

    assert await _wait_for(gone, timeout=5)  # closed, not put back
    assert dbp.get_pool_status("rs")["idle"] == 0
    await _psql(pg_up, "INSERT INTO reset_gate VALUES (1)")  # new connections can open again
    df = await dbp.query("rs", "SELECT pg_backend_pid() AS p, current_setting('search_path') AS sp")
    assert df["p"][0] != first
    assert df["sp"][0] == '"$user", public'
    status = dbp.get_pool_status("rs")
    assert status["connections_opened"] == 2 and status["connections_closed"] == 1


# ------------------------------------------------------------------ close(timeout)

async def test_close_drains_then_terminates_within_its_timeout(dbp, pg_up):
    await dbp.create_pool("gc", url=pg_up.url, min_connections=2, max_connections=3,
                          health_check_interval=0, application_name="gc")
    short = asyncio.create_task(dbp.query("gc", "SELECT pg_sleep(0.5)::text AS s"))
    long = asyncio.create_task(dbp.query("gc", "SELECT pg_sleep(60)::text AS s"))

    async def both_running():
        out = await _psql(pg_up, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gc' "
                                 "AND state = 'active'")
        return int(out) == 2

    assert await _wait_for(both_running)
    start = time.monotonic()
    await dbp.remove_pool("gc", timeout=1.5)
    took = time.monotonic() - start
    # Drained: the short query finished normally during the timeout ...
    assert (await short)["s"][0] == ""
    # ... terminated: the long one was cancelled on the server after the timeout; its caller
    # (whose task was not cancelled) hears PoolClosedError, not a CancelledError.
    with pytest.raises(PoolClosedError, match=r"close\(timeout=1.5\) ran out") as info:
        await long
    assert info.value.pool_id == "gc" and info.value.sqlstate == "57014"
    assert 1.4 <= took <= 1.5 + 3.0, took
    assert await _wait_for(lambda: _no_backends(pg_up, "gc"), timeout=5)
    with pytest.raises(DbPoolError):  # the pool is gone
        await dbp.query("gc", "SELECT 1")


async def _no_backends(pg_up, app: str) -> bool:
    return not await _backends(pg_up, app)


async def test_close_terminates_a_statement_running_inside_a_transaction(dbp, pg_up):
    await dbp.create_pool("gctx", url=pg_up.url, min_connections=1, max_connections=1,
                          health_check_interval=0, application_name="gctx")

    async def long_transaction():
        async with dbp.transaction("gctx") as tx:
            await tx.query("SELECT 1")
            await tx.query("SELECT pg_sleep(60)::text AS s")

    task = asyncio.create_task(long_transaction())

    async def running():
        out = await _psql(pg_up, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gctx' "
                                 "AND query LIKE '%pg_sleep(60)%' AND state = 'active'")
        return int(out) == 1

    assert await _wait_for(running)
    start = time.monotonic()
    await dbp.remove_pool("gctx", timeout=0.5)
    took = time.monotonic() - start
    with pytest.raises(PoolClosedError, match=r"close\(timeout=0.5\) ran out"):
        await task
    assert took <= 0.5 + 3.0, took
    # Stopped on the server, not left running behind a closed pool.
    assert await _wait_for(lambda: _no_backends(pg_up, "gctx"), timeout=5)
