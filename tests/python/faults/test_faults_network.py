"""Unreachable server, blackholed vs reset traffic, and a fast restart with queries and
numbered writes in flight (issue 4 tests 1, 2, 3), through a loopback proxy or against a
throwaway PostgreSQL that the tests restart."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from db_pool import (
    ConnectionError,
    DbPoolError,
    PoolTimeoutError,
    QueryTimeoutError,
)

pytestmark = pytest.mark.faults


def _url(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


async def test_unreachable_pool_is_created_then_fills_with_backoff(dbp, proxy):
    proxy.set_mode("reset")  # every connection attempt is cut: the server is unreachable
    T = 1.0
    await dbp.create_pool("down", url=_url(proxy.port), min_connections=2, max_connections=4,
                          fail_fast=False, acquire_timeout=T, connect_timeout=2,
                          reconnect_backoff_base=0.05, reconnect_backoff_max=0.8,
                          health_check_interval=1)
    status = dbp.get_pool_status("down")
    assert status["size"] == 0 and status["health"] == "unhealthy"
    # acquire fails at acquire_timeout, naming the last connection error.
    start = time.monotonic()
    with pytest.raises(PoolTimeoutError) as info:
        await dbp.query("down", "SELECT 1")
    waited = time.monotonic() - start
    assert T <= waited <= 1.2 * T, waited
    assert "last connection error" in str(info.value)
    await asyncio.sleep(2.5)
    # Reconnect attempts: the gaps grow exponentially (x2, minus up to 20% jitter) up to the cap.
    times = list(proxy.accept_times)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 5, gaps
    for prev, cur in itertools.pairwise(gaps[:5]):
        assert cur >= 1.4 * prev, gaps
    assert max(gaps) <= 0.8 * 1.25, gaps
    # The server comes back: a caller gets a connection within 1 s.
    back = time.monotonic()
    proxy.set_mode("pass")
    while True:
        try:
            await dbp.query("down", "SELECT 1 AS one")
            break
        except PoolTimeoutError:
            assert time.monotonic() - back < 2.5
    assert time.monotonic() - back < 1.0
    await asyncio.sleep(0.3)
    status = dbp.get_pool_status("down")
    assert status["health"] == "healthy" and status["size"] >= 2


async def test_fail_fast_pool_still_reports_an_unreachable_server_at_creation(dbp, proxy):
    proxy.set_mode("reset")
    with pytest.raises(ConnectionError):
        await dbp.create_pool("ff", url=_url(proxy.port), connect_timeout=2)


async def test_bad_credentials_fail_create_pool_even_without_fail_fast(dbp, pg_up):
    with pytest.raises(DbPoolError) as info:
        await dbp.create_pool("nodb", url=_url(pg_up.port).replace("/postgres", "/no_such_db_x"),
                              fail_fast=False)
    # Not retried in the background: a missing database (3D000) or a rejected login (28000).
    assert info.value.sqlstate in ("3D000", "28000"), info.value
    assert "no_such_db_x" in str(info.value)


async def test_blackholed_traffic_ends_at_the_timeouts(dbp, proxy):
    await dbp.create_pool("bh", url=_url(proxy.port), min_connections=1, max_connections=2,
                          query_timeout=1.0, validation_timeout=0.5, connect_timeout=1,
                          acquire_timeout=2, health_check_interval=0, check_on_borrow="off")
    assert (await dbp.query("bh", "SELECT 1 AS one"))["one"][0] == 1
    proxy.set_mode("blackhole")
    start = time.monotonic()
    with pytest.raises(QueryTimeoutError):
        await dbp.query("bh", "SELECT 1")
    assert 1.0 <= time.monotonic() - start < 1.5
    # New connections stall in the handshake: bounded by connect_timeout, then acquire_timeout.
    start = time.monotonic()
    with pytest.raises((PoolTimeoutError, ConnectionError, QueryTimeoutError)):
        await dbp.query("bh", "SELECT 1")
    assert time.monotonic() - start < 2.6
    proxy.set_mode("pass")
    proxy.reset_all()  # stalled handshakes are cut; the pool reconnects
    deadline = time.monotonic() + 5
    while True:
        try:
            assert (await dbp.query("bh", "SELECT 1 AS one"))["one"][0] == 1
            break
        except DbPoolError:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)


async def _until_ok(dbp, pool_id: str, within: float = 5) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await dbp.query(pool_id, "SELECT 1")
            return
        except DbPoolError:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)


async def test_reset_traffic_fails_at_once_with_a_connection_error(dbp, proxy):
    await dbp.create_pool("rst", url=_url(proxy.port), min_connections=1, max_connections=2,
                          query_timeout=2, acquire_timeout=2, check_on_borrow="off",
                          health_check_interval=0)
    assert (await dbp.query("rst", "SELECT 1 AS one"))["one"][0] == 1
    query = asyncio.create_task(dbp.query("rst", "SELECT pg_sleep($1)", [3]))
    await asyncio.sleep(0.3)
    start = time.monotonic()
    assert len(proxy._pairs) >= 1
    proxy.set_mode("reset")
    with pytest.raises(ConnectionError):
        await query
    assert time.monotonic() - start < 0.5  # at once, not at query_timeout
    # An idle connection that was reset fails its next call at once too.
    proxy.set_mode("pass")
    await _until_ok(dbp, "rst")
    proxy.set_mode("reset")
    await asyncio.sleep(0.1)
    start = time.monotonic()
    with pytest.raises(ConnectionError):
        await dbp.query("rst", "SELECT 1")
    assert time.monotonic() - start < 0.5
    proxy.set_mode("pass")
    deadline = time.monotonic() + 5
    while True:
        try:
            assert (await dbp.query("rst", "SELECT 1 AS one"))["one"][0] == 1
            break
        except DbPoolError:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)


async def test_fast_restart_with_queries_and_numbered_writes_in_flight(dbp, pg_up):
    H = 1.0  # health_check_interval
    await dbp.create_pool("rs", url=pg_up.url, min_connections=4, max_connections=24,
                          health_check_interval=H, reconnect_backoff_base=0.05,
                          reconnect_backoff_max=0.3, acquire_timeout=10, check_on_borrow="off")
    await dbp.execute("rs", "DROP TABLE IF EXISTS numbered")
    await dbp.execute("rs", "CREATE TABLE numbered (n int PRIMARY KEY)")
    acknowledged: list[int] = []
    outcomes: dict[str, int] = {}

    def record(kind: str) -> None:
        outcomes[kind] = outcomes.get(kind, 0) + 1

    async def reader(i: int) -> None:
        try:
            await dbp.query("rs", "SELECT pg_sleep(0.4), $1::int AS i", [i])
            record("ok")
        except DbPoolError as e:  # typed: ConnectionError, UnknownOutcomeError, PoolTimeoutError
            record(type(e).__name__)

    stop = asyncio.Event()

    async def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                await dbp.execute("rs", "INSERT INTO numbered VALUES ($1)", [n])
                acknowledged.append(n)
            except DbPoolError as e:
                record("write-" + type(e).__name__)
            await asyncio.sleep(0.005)

    writers = [asyncio.create_task(writer())]
    readers = [asyncio.create_task(reader(i)) for i in range(20)]
    await asyncio.sleep(0.15)
    opened_before = dbp.get_pool_status("rs")["connections_opened"]
    await asyncio.to_thread(pg_up.restart, "fast")
    restarted = time.monotonic()
    results = await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 30)
    assert all(r is None for r in results), results  # every call ended typed or succeeded
    # Back at min within one health interval (plus the backoff cap) of the restart.
    while True:
        s = dbp.get_pool_status("rs")
        if s["size"] >= 4 and s["connections_opened"] - opened_before >= 4 and s["health"] == "healthy":
            break
        assert time.monotonic() - restarted <= H + 0.5, s
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*writers)
    assert sum(outcomes.get(k, 0) for k in ("ok", "ConnectionError", "UnknownOutcomeError", "PoolTimeoutError")) == 20, outcomes
    assert outcomes.get("ConnectionError", 0) >= 1  # the restart did hit the in-flight reads
    present = set((await dbp.query("rs", "SELECT n FROM numbered"))["n"].to_list())
    missing = [n for n in acknowledged if n not in present]
    assert not missing, missing
    assert len(acknowledged) > 10
    # Fresh connections all work.
    await asyncio.gather(*[dbp.query("rs", "SELECT 1") for _ in range(8)])
