"""Pool lifecycle against a throwaway PostgreSQL: init hook, dirty returns (issue 4 test 7),
leak detection with the caller's line (test 6), terminated idle backends with and without
check-on-borrow (test 4), max_lifetime rotation (test 5), config errors."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from db_pool import ConfigError, ConnectionError, DbPoolError

pytestmark = pytest.mark.faults


async def test_lifecycle_fields_are_validated_and_named(dbp, pg_up):
    bad = [
        ({"check_on_borrow": "sometimes"}, "check_on_borrow"),
        ({"scale_up_threshold": 0.2, "scale_down_threshold": 0.5}, "scale_down_threshold"),
        ({"health_check_interval": -1}, "health_check_interval"),
        ({"init_sql": ["SET x = 1", 5]}, "init_sql"),
        ({"reset_session": "maybe"}, "reset_session"),
        ({"validation_timeout": 0}, "validation_timeout"),
        ({"reconnect_backoff_base": 2, "reconnect_backoff_max": 1}, "reconnect_backoff_max"),
    ]
    for kwargs, field in bad:
        with pytest.raises(ConfigError, match=field):
            await dbp.create_pool("bad", url=pg_up.url, **kwargs)


async def test_init_sql_runs_on_every_new_connection(dbp, pg_up):
    await dbp.create_pool(
        "init", url=pg_up.url, min_connections=2, max_connections=2,
        init_sql=["SET application_name = 'dbpool-init'", "SET search_path = pg_catalog, public",
                  "SET TIME ZONE 'Asia/Tokyo'"],
    )
    rows = await asyncio.gather(*[
        dbp.query("init", "SELECT current_setting('application_name') AS app, "
                  "current_setting('search_path') AS sp, current_setting('TimeZone') AS tz, "
                  "pg_backend_pid() AS pid, pg_sleep(0.1)::text AS s")
        for _ in range(4)
    ])
    assert {r["pid"][0] for r in rows}.__len__() == 2  # both connections were used
    for r in rows:
        assert (r["app"][0], r["sp"][0], r["tz"][0]) == ("dbpool-init", "pg_catalog, public", "Asia/Tokyo")


async def test_failing_init_sql_is_reported_with_its_sqlstate(dbp, pg_up):
    with pytest.raises(DbPoolError) as info:
        await dbp.create_pool("badinit", url=pg_up.url, init_sql=["SET no_such_setting_xyz = 1"])
    assert info.value.sqlstate == "42704"
    assert info.value.pool_id == "badinit"


async def test_dirty_returns_give_the_next_borrower_a_clean_session(dbp, pg_up):
    await dbp.create_pool(
        "dirty", url=pg_up.url, min_connections=1, max_connections=1, reset_session=True,
        init_sql=["SET application_name = 'dirty-init'"],
    )
    pid = (await dbp.query("dirty", "SELECT pg_backend_pid() AS p"))["p"][0]
    # 1. An open transaction left behind.
    await dbp.execute("dirty", "BEGIN")
    state = await dbp.query("dirty", "SELECT now() = statement_timestamp() AS fresh, "
                            "pg_backend_pid() AS p, txid_current_if_assigned() IS NULL AS none")
    assert state["p"][0] == pid and state["none"][0]
    # 2. A failed transaction left behind.
    with pytest.raises(DbPoolError):
        await dbp.execute_batch("dirty", ["BEGIN", "SELECT 1/0"])
    assert (await dbp.query("dirty", "SELECT 1 AS one"))["one"][0] == 1
    # 3. Session state: SET, a temporary table, a prepared statement.
    await dbp.execute("dirty", "SET search_path = nowhere")
    await dbp.execute("dirty", "CREATE TEMP TABLE leftover (x int)")
    after = await dbp.query(
        "dirty",
        "SELECT current_setting('search_path') AS sp, current_setting('application_name') AS app, "
        "pg_backend_pid() AS p, (SELECT count(*) FROM pg_class WHERE relname = 'leftover') AS tmp",
    )
    assert after["sp"][0] == '"$user", public'
    assert after["app"][0] == "dirty-init"  # init_sql ran again after the reset
    assert after["tmp"][0] == 0
    assert after["p"][0] == pid  # the same connection, cleaned (not replaced)
    await asyncio.sleep(0.1)  # the last return's reset runs after the call returned
    status = dbp.get_pool_status("dirty")
    assert status["connections_opened"] == 1 and status["in_use"] == 0


async def test_without_reset_session_only_transactions_are_rolled_back(dbp, pg_up):
    await dbp.create_pool("keep", url=pg_up.url, min_connections=1, max_connections=1)
    # A SET inside a transaction left open is undone by the rollback on return ...
    await dbp.execute_batch("keep", ["BEGIN", "SET search_path = in_tx"])
    assert (await dbp.query("keep", "SELECT current_setting('search_path') AS sp"))["sp"][0] != "in_tx"
    # ... a SET outside one stays: that is what reset_session is for.
    await dbp.execute("keep", "SET search_path = kept")
    assert (await dbp.query("keep", "SELECT current_setting('search_path') AS sp"))["sp"][0] == "kept"


async def test_leak_warning_names_the_pool_and_the_python_line(dbp, pg_up, db_pool_log):
    await dbp.create_pool("leaky", url=pg_up.url, min_connections=1, max_connections=2,
                          leak_detection_threshold=0.3)
    async with dbp.transaction("leaky") as tx:  # LEAK-SITE
        await tx.query("SELECT 1")
        await asyncio.sleep(0.9)
    await asyncio.sleep(0.1)
    leaks = [r.getMessage() for r in db_pool_log.records
             if r.name == "db_pool" and "possible connection leak" in r.getMessage()]
    assert len(leaks) == 1, db_pool_log.records
    line = next(i for i, text in enumerate(open(__file__).read().splitlines(), 1) if "# LEAK-SITE" in text)
    assert "pool 'leaky'" in leaks[0]
    assert f"{__file__}:{line} in test_leak_warning_names_the_pool_and_the_python_line" in leaks[0]
    assert dbp.get_pool_status("leaky")["leaks_reported"] == 1
    # A short borrow is not reported.
    await dbp.query("leaky", "SELECT 1")
    await asyncio.sleep(0.5)
    assert dbp.get_pool_status("leaky")["leaks_reported"] == 1


async def _terminate(pg_up, app: str) -> int:
    return int(await asyncio.to_thread(
        pg_up.psql,
        f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{app}'",
    ))


async def test_terminated_idle_connections_never_reach_a_caller_with_check_on_borrow(dbp, pg_up):
    await dbp.create_pool("cob", url=pg_up.url, min_connections=3, max_connections=3,
                          check_on_borrow="always", health_check_interval=0,
                          application_name="cob")
    await asyncio.gather(*[dbp.query("cob", "SELECT pg_sleep(0.05)::text") for _ in range(3)])
    assert await _terminate(pg_up, "cob") == 3
    await asyncio.sleep(0.2)
    errors = 0
    for _ in range(10):
        try:
            await dbp.query("cob", "SELECT 1 AS one")
        except DbPoolError:
            errors += 1
    assert errors == 0
    assert dbp.get_pool_status("cob")["connections_opened"] >= 4  # replacements were opened


async def test_terminated_idle_connection_without_check_costs_exactly_one_error(dbp, pg_up):
    await dbp.create_pool("nocheck", url=pg_up.url, min_connections=1, max_connections=1,
                          check_on_borrow="off", health_check_interval=0, application_name="nocheck")
    await dbp.query("nocheck", "SELECT 1")
    assert await _terminate(pg_up, "nocheck") == 1
    await asyncio.sleep(0.2)
    outcomes = []
    for _ in range(5):
        try:
            await dbp.query("nocheck", "SELECT 1 AS one")
            outcomes.append("ok")
        except ConnectionError as e:
            outcomes.append(e.sqlstate or "conn")
    assert outcomes[1:] == ["ok"] * 4
    assert outcomes[0] in ("57P01", "conn"), outcomes


async def test_max_lifetime_rotates_connections_gradually_and_never_in_use(dbp, pg_up):
    await dbp.create_pool("rot", url=pg_up.url, min_connections=3, max_connections=3,
                          max_lifetime=1.5, health_check_interval=0, application_name="rot")
    await dbp.create_pool("mon", url=pg_up.url, min_connections=1, max_connections=1)
    # Hold one connection in a transaction across several lifetimes: it must not be retired.
    samples: list[set[int]] = []
    async with dbp.transaction("rot") as tx:
        held = (await tx.query("SELECT pg_backend_pid() AS p"))["p"][0]
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            df = await dbp.query("mon", "SELECT pid FROM pg_stat_activity WHERE application_name = 'rot'")
            samples.append(set(df["pid"].to_list()))
            assert (await tx.query("SELECT pg_backend_pid() AS p"))["p"][0] == held
            await dbp.query("rot", "SELECT 1")
            await asyncio.sleep(0.05)
    seen = set().union(*samples)
    assert len(seen) >= 5, "connections were not rotated"
    others = [s - {held} for s in samples]  # the connections free to be rotated
    for before, after in itertools.pairwise(others):
        if before and after:
            assert before & after, f"every connection was replaced at once: {before} -> {after}"
    assert all(held in s for s in samples)
    # Returned after its lifetime: retired by the monitor (one per tick), not reused.
    await asyncio.sleep(2.0)
    df = await dbp.query("mon", "SELECT pid FROM pg_stat_activity WHERE application_name = 'rot'")
    assert held not in df["pid"].to_list()
