"""RetryWithBackoff classification (issue 4 test 11) and the circuit breaker against a real
server behind the proxy (test 10's I/O half; the state machine is tested in C++ on a fake
clock, tests/cpp/core_circuit_breaker_test.cpp)."""

from __future__ import annotations

import asyncio
import time

import pytest
from db_pool import (
    CircuitBreaker,
    CircuitOpenError,
    ConfigError,
    ConnectionError,
    PoolTimeoutError,
    QueryError,
    RetryWithBackoff,
    UnknownOutcomeError,
)

pytestmark = pytest.mark.faults

# Fails with serialization_failure (40001) until the sequence reaches `ok_at`; sequences
# are not transactional, so the count of attempts survives the rollbacks.
CONFLICT = ("DO $$ BEGIN IF nextval('{seq}') < {ok_at} THEN "
            "RAISE EXCEPTION 'simulated conflict' USING ERRCODE = 'serialization_failure'; "
            "END IF; END $$")


async def _fresh(dbp, pool_id: str, *objects: str) -> None:
    for sql in objects:
        await dbp.execute(pool_id, sql)


async def test_serialization_failure_retries_the_whole_transaction(dbp, pg_up):
    await dbp.create_pool("rt", url=pg_up.url, retry=RetryWithBackoff(max_attempts=3, base_delay=0.01))
    await _fresh(dbp, "rt", "DROP TABLE IF EXISTS rt_rows", "CREATE TABLE rt_rows (x int)",
                 "DROP SEQUENCE IF EXISTS rt_tries", "CREATE SEQUENCE rt_tries")
    counts = await dbp.execute_transaction(
        "rt", ["INSERT INTO rt_rows VALUES (1)", CONFLICT.format(seq="rt_tries", ok_at=3)]
    )
    assert counts[0] == 1
    tries = await dbp.query("rt", "SELECT last_value AS n FROM rt_tries")
    rows = await dbp.query("rt", "SELECT count(*) AS n FROM rt_rows")
    assert tries["n"][0] == 3  # three attempts of the whole transaction
    assert rows["n"][0] == 1  # the failed attempts left nothing behind


async def test_retries_stop_at_max_attempts_with_the_last_error(dbp, pg_up):
    await dbp.create_pool("rt2", url=pg_up.url, retry={"max_attempts": 2, "base_delay": 0.01})
    await _fresh(dbp, "rt2", "DROP SEQUENCE IF EXISTS rt2_tries", "CREATE SEQUENCE rt2_tries")
    with pytest.raises(QueryError) as info:
        await dbp.execute_transaction("rt2", [CONFLICT.format(seq="rt2_tries", ok_at=10)])
    assert info.value.sqlstate == "40001"
    assert (await dbp.query("rt2", "SELECT last_value AS n FROM rt2_tries"))["n"][0] == 2


async def test_read_only_query_is_retried_on_serialization_failure(dbp, pg_up):
    await dbp.create_pool("rt3", url=pg_up.url, retry=RetryWithBackoff(max_attempts=4, base_delay=0.01))
    await _fresh(dbp, "rt3", "DROP SEQUENCE IF EXISTS rt3_tries", "CREATE SEQUENCE rt3_tries",
                 "CREATE OR REPLACE FUNCTION rt3_read() RETURNS int LANGUAGE plpgsql AS $$ BEGIN "
                 "IF nextval('rt3_tries') < 3 THEN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; "
                 "END IF; RETURN 7; END $$")
    assert (await dbp.query("rt3", "SELECT rt3_read() AS v"))["v"][0] == 7


async def test_unique_violation_is_never_retried(dbp, pg_up):
    await dbp.create_pool("rt4", url=pg_up.url, retry=RetryWithBackoff(max_attempts=5, base_delay=0.01))
    await _fresh(dbp, "rt4", "DROP TABLE IF EXISTS rt4_u", "CREATE TABLE rt4_u (id int PRIMARY KEY)",
                 "INSERT INTO rt4_u VALUES (1)", "DROP SEQUENCE IF EXISTS rt4_tries",
                 "CREATE SEQUENCE rt4_tries")
    with pytest.raises(QueryError) as info:
        await dbp.execute_transaction("rt4", ["SELECT nextval('rt4_tries')", "INSERT INTO rt4_u VALUES (1)"])
    assert info.value.sqlstate == "23505"
    assert (await dbp.query("rt4", "SELECT last_value AS n FROM rt4_tries"))["n"][0] == 1


def _cut_after_commit(proxy, times: int = 1):
    """Forwards the next `times` COMMITs to the server, then cuts before the reply."""
    left = [times]

    def inspect(data: bytes) -> str | None:
        if left[0] > 0 and data[:1] == b"Q" and b"COMMIT" in data:
            left[0] -= 1
            return "drop_after"
        return None

    proxy.on_client_data = inspect


async def test_connection_cut_after_commit_raises_unknown_outcome(dbp, proxy):
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
    await dbp.create_pool("uo", url=url, retry=RetryWithBackoff(max_attempts=5, base_delay=0.01))
    await _fresh(dbp, "uo", "DROP TABLE IF EXISTS uo_rows", "CREATE TABLE uo_rows (x int)")
    _cut_after_commit(proxy)
    with pytest.raises(UnknownOutcomeError) as info:
        await dbp.execute_transaction("uo", ["INSERT INTO uo_rows VALUES (1)"])
    assert isinstance(info.value, ConnectionError)  # still a connection error for old code
    assert "COMMIT was sent" in str(info.value)
    # It did commit, and it was not retried: one row, not two.
    assert (await dbp.query("uo", "SELECT count(*) AS n FROM uo_rows"))["n"][0] == 1
    # Marked idempotent, the same failure is retried (and here runs twice).
    _cut_after_commit(proxy)
    await dbp.execute_transaction("uo", ["INSERT INTO uo_rows VALUES (2)"], idempotent=True)
    assert (await dbp.query("uo", "SELECT count(*) AS n FROM uo_rows WHERE x = 2"))["n"][0] == 2
    # An explicit transaction's commit() raises it too.
    _cut_after_commit(proxy)
    with pytest.raises(UnknownOutcomeError):
        async with dbp.transaction("uo") as tx:
            await tx.execute("INSERT INTO uo_rows VALUES (3)")
            await tx.commit()


async def test_write_cut_after_it_was_sent_is_unknown_and_a_read_is_retried(dbp, proxy):
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
    await dbp.create_pool("uw", url=url, retry=RetryWithBackoff(max_attempts=3, base_delay=0.01))
    await _fresh(dbp, "uw", "DROP TABLE IF EXISTS uw_rows", "CREATE TABLE uw_rows (x int)")
    cut = {"left": 1}

    def inspect(data: bytes) -> str | None:
        if cut["left"] and b"uw_rows" in data and data[:1] in (b"P", b"Q", b"B"):
            cut["left"] -= 1
            return "drop_after"
        return None

    proxy.on_client_data = inspect
    with pytest.raises(UnknownOutcomeError):
        await dbp.execute("uw", "INSERT INTO uw_rows VALUES (1)")
    cut["left"] = 1
    df = await dbp.query("uw", "SELECT count(*) AS n FROM uw_rows")  # cut once, retried
    assert df["n"][0] == 1


async def test_strategy_arguments_are_checked(dbp, pg_up):
    with pytest.raises(ConfigError, match="retry"):
        await dbp.create_pool("x", url=pg_up.url, retry={"max_tries": 3})
    with pytest.raises(ConfigError, match="circuit_breaker"):
        await dbp.create_pool("x", url=pg_up.url, circuit_breaker=5)
    with pytest.raises(ConfigError, match="retry_max_attempts"):
        await dbp.create_pool("x", url=pg_up.url, retry=RetryWithBackoff(max_attempts=0))


async def test_open_breaker_rejects_at_once_without_touching_the_socket(dbp, proxy):
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
    await dbp.create_pool(
        "cb", url=url, min_connections=1, max_connections=2, check_on_borrow="off",
        health_check_interval=0, acquire_timeout=0.5, connect_timeout=1,
        reconnect_backoff_base=0.05, reconnect_backoff_max=0.2,
        circuit_breaker=CircuitBreaker(failure_threshold=3, recovery_timeout=1.0,
                                       half_open_probes=1, probe_timeout=1.0),
    )
    assert dbp.get_pool_status("cb")["circuit_breaker"] == "closed"
    proxy.set_mode("reset")
    for _ in range(3):
        with pytest.raises((ConnectionError, PoolTimeoutError)) as info:
            await dbp.query("cb", "SELECT 1")
        assert not isinstance(info.value, CircuitOpenError)
    assert dbp.get_pool_status("cb")["circuit_breaker"] == "open"
    accepted = proxy.accepted
    start = time.monotonic()
    for _ in range(50):
        with pytest.raises(CircuitOpenError, match="circuit breaker is open"):
            await dbp.query("cb", "SELECT 1")
    assert time.monotonic() - start < 0.5  # at once, not at a timeout
    # Background reconnect attempts go on (the pool refills to min); the calls themselves
    # opened nothing: no more attempts than the backoff allows in that time.
    assert proxy.accepted - accepted <= 3
    proxy.set_mode("pass")
    await asyncio.sleep(1.1)  # recovery_timeout: half-open, one probe let through
    assert dbp.get_pool_status("cb")["circuit_breaker"] == "half_open"
    assert (await dbp.query("cb", "SELECT 1 AS one"))["one"][0] == 1
    assert dbp.get_pool_status("cb")["circuit_breaker"] == "closed"
