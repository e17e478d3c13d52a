"""Redis multiplexing: concurrent single commands share a connection (pipelined, replies
matched in order), proved behind a link where every reply takes 100 ms (FaultProxy); error
replies, a cancelled task and a cut connection in the middle of the traffic; blocking
commands and transactions keep a connection of their own (throwaway server: services.sh)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from db_pool import CircuitBreaker, CircuitOpenError, ConnectionError, QueryError, QueryTimeoutError
from faults.proxy import FaultProxy

DELAY = 0.1


@pytest.fixture
def key():
    prefix = f"pytest:mux:{uuid.uuid4().hex[:10]}:"
    return lambda name: prefix + name


@pytest.fixture
async def slow(pool, redis_url):
    """Pool "slow": one connection, through a proxy that holds each reply DELAY seconds."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = await FaultProxy(port).start()
    await pool.create_pool("slow", url=f"redis://127.0.0.1:{proxy.port}/0", min_connections=1,
                           max_connections=1)
    proxy.reply_delay = DELAY
    yield proxy
    await pool.remove_pool("slow")
    await proxy.close()


async def test_50_concurrent_commands_on_one_connection_take_a_few_round_trips(pool, slow, key):
    async def one(i: int) -> str:
        k = key(f"k{i}")
        assert await pool.execute("slow", ["SET", k, f"value-{i}"]) == 1
        return (await pool.query("slow", ["GET", k]))["value"][0]

    start = time.perf_counter()
    tasks = [asyncio.ensure_future(one(i)) for i in range(50)]
    await asyncio.sleep(DELAY / 2)  # every SET is sent, no reply has come yet
    status = pool.get_pool_status("slow")
    results = await asyncio.wait_for(asyncio.gather(*tasks), 30)
    elapsed = time.perf_counter() - start
    # Each task got the value it wrote itself: replies were matched to the right caller.
    assert results == [f"value-{i}" for i in range(50)]
    # 100 commands one after the other would take >= 100 delays; pipelined, the 50 SETs and
    # then the 50 GETs each go out in a few writes.
    assert elapsed < 10 * DELAY, elapsed
    assert slow.accepted == 1  # one connection carried them all
    assert status["size"] == 1 and status["in_use"] == 1 and status["shared"] == 1
    assert status["shared_calls"] > 1
    after = pool.get_pool_status("slow")
    assert (after["in_use"], after["shared"], after["shared_calls"], after["waiting"]) == (0, 0, 0, 0)


async def test_error_replies_fail_only_their_own_commands(pool, slow, key):
    lst = key("list")
    await pool.execute("slow", ["RPUSH", lst, "a"])

    async def one(i: int):
        k = lst if i % 3 == 0 else key(f"n{i}")
        try:
            return await pool.execute("slow", ["INCRBY", k, i])
        except QueryError as e:
            return e

    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(30))), 30)
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert isinstance(result, QueryError) and "WRONGTYPE" in str(result), result
        else:
            assert result == i
    assert slow.accepted == 1  # the connection survived every error reply
    for i in (1, 2, 4):
        assert (await pool.query("slow", ["GET", key(f"n{i}")]))["value"][0] == str(i)


async def test_cancelling_one_task_drops_its_reply_and_the_others_stay_matched(pool, slow, key):
    for i in range(20):
        await pool.execute("slow", ["SET", key(f"k{i}"), f"v{i}"])
    tasks = [asyncio.ensure_future(pool.query("slow", ["GET", key(f"k{i}")])) for i in range(20)]
    await asyncio.sleep(DELAY / 2)
    tasks[7].cancel()
    tasks[13].cancel()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    for i, result in enumerate(results):
        if i in (7, 13):
            assert isinstance(result, asyncio.CancelledError), result
        else:
            assert result["value"][0] == f"v{i}", (i, result)
    # The cancelled GETs' replies were read and dropped: the connection is still in sync.
    assert (await pool.query("slow", ["ECHO", "in sync"]))["value"][0] == "in sync"
    assert slow.accepted == 1
    assert pool.get_pool_status("slow")["in_use"] == 0


async def test_a_cut_connection_fails_every_pending_command_and_is_replaced(pool, slow, key):
    tasks = [asyncio.ensure_future(pool.query("slow", ["GET", key(f"k{i}")])) for i in range(20)]
    await asyncio.sleep(DELAY / 2)
    slow.reset_all()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    assert all(isinstance(r, ConnectionError) for r in results), results
    slow.reply_delay = 0
    assert (await pool.query("slow", "PING"))["value"][0] == "PONG"
    assert slow.accepted == 2  # the broken connection was replaced
    status = pool.get_pool_status("slow")
    assert status["in_use"] == 0 and status["size"] == 1


async def test_a_blocking_command_keeps_its_connection_to_itself(pool, redis_url, key):
    await pool.create_pool("two", url=redis_url, min_connections=2, max_connections=2)
    lst = key("queue")
    blpop = asyncio.ensure_future(pool.query("two", ["BLPOP", lst, 0]))
    await asyncio.sleep(0.2)
    # The other connection serves every GET (shared) while BLPOP holds its own.
    gets = await asyncio.wait_for(
        asyncio.gather(*(pool.query("two", ["ECHO", f"e{i}"]) for i in range(30))), 10)
    assert [g["value"][0] for g in gets] == [f"e{i}" for i in range(30)]
    assert not blpop.done()
    status = pool.get_pool_status("two")
    assert status["in_use"] == 1 and status["shared"] == 0  # only BLPOP's, exclusive
    await pool.create_pool("push", url=redis_url, max_connections=1)
    await pool.execute("push", ["RPUSH", lst, "item"])
    popped = await asyncio.wait_for(blpop, 10)
    assert popped["value"].to_list() == [lst, "item"]


async def test_commands_never_land_inside_another_callers_transaction(pool, redis_url, key):
    await pool.create_pool("tx", url=redis_url, min_connections=1, max_connections=2)
    k = key("k")
    await pool.execute("tx", ["SET", k, "before"])
    async with pool.transaction("tx") as tx:
        await tx.execute(f"SET {k} inside")  # QUEUED on the transaction's connection
        # Concurrent GETs run on the other connection and see the value before EXEC.
        gets = await asyncio.gather(*(pool.query("tx", ["GET", k]) for _ in range(10)))
        assert [g["value"][0] for g in gets] == ["before"] * 10
    assert (await pool.query("tx", ["GET", k]))["value"][0] == "inside"


async def test_query_timeout_on_shared_calls(pool, redis_url, key):
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = await FaultProxy(port).start()
    try:
        await pool.create_pool("qt", url=f"redis://127.0.0.1:{proxy.port}/0", max_connections=1,
                               query_timeout=0.2)
        proxy.reply_delay = 1.0
        results = await asyncio.wait_for(
            asyncio.gather(*(pool.query("qt", ["GET", key(f"k{i}")]) for i in range(10)),
                           return_exceptions=True), 30)
        assert all(isinstance(r, QueryTimeoutError) for r in results), results
        proxy.reply_delay = 0
        # The timed-out connection was dropped (its replies may still come); a new one serves.
        assert (await pool.query("qt", "PING"))["value"][0] == "PONG"
        assert proxy.accepted == 2
        assert pool.get_pool_status("qt")["in_use"] == 0
    finally:
        await pool.remove_pool("qt")
        await proxy.close()


async def test_leak_detection_reports_a_call_that_holds_its_share_too_long(pool, redis_url,
                                                                           caplog):
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = await FaultProxy(port).start()
    try:
        await pool.create_pool("leaky", url=f"redis://127.0.0.1:{proxy.port}/0",
                               max_connections=1, leak_detection_threshold=0.3)
        proxy.reply_delay = 1.5
        with caplog.at_level("WARNING", logger="db_pool"):
            results = await asyncio.wait_for(
                asyncio.gather(*(pool.query("leaky", ["ECHO", f"x{i}"]) for i in range(3))), 30)
            await asyncio.sleep(0.1)
        assert [r["value"][0] for r in results] == ["x0", "x1", "x2"]
        assert pool.get_pool_status("leaky")["leaks_reported"] >= 1
        assert any("multiplexed connection" in r.getMessage() for r in caplog.records)
    finally:
        await pool.remove_pool("leaky")
        await proxy.close()


async def test_circuit_breaker_counts_each_shared_call_and_opens(pool, redis_url, key):
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = await FaultProxy(port).start()
    try:
        await pool.create_pool(
            "cb", url=f"redis://127.0.0.1:{proxy.port}/0", min_connections=1, max_connections=1,
            acquire_timeout=0.5, connect_timeout=1, health_check_interval=0,
            circuit_breaker=CircuitBreaker(failure_threshold=3, recovery_timeout=1.0))
        proxy.reply_delay = DELAY
        tasks = [asyncio.ensure_future(pool.query("cb", ["GET", key(f"k{i}")])) for i in range(10)]
        await asyncio.sleep(DELAY / 2)
        proxy.set_mode("reset")  # cuts the shared connection and refuses new ones
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        assert all(isinstance(r, ConnectionError) for r in results), results
        # Ten calls failed on the cut connection: the breaker (threshold 3) is open.
        assert pool.get_pool_status("cb")["circuit_breaker"] == "open"
        with pytest.raises(CircuitOpenError):
            await pool.query("cb", ["GET", key("k0")])
        proxy.set_mode("pass")
        proxy.reply_delay = 0
        await asyncio.sleep(1.1)  # recovery_timeout: one probe let through
        assert (await pool.query("cb", "PING"))["value"][0] == "PONG"
        assert pool.get_pool_status("cb")["circuit_breaker"] == "closed"
    finally:
        await pool.remove_pool("cb")
        await proxy.close()
