"""Issue 4 fault test 12: PgBouncer 1.18 in transaction mode with 2 server connections and
50 interleaved tasks (parameterized queries, transactions, batches): zero errors with
statement_cache_size=0, and auto-detection (switch to unnamed statements) without it."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from db_pool import DatabasePool, DbPoolError

pytestmark = pytest.mark.faults

TASKS = 50
ROUNDS = 4


async def _workload(dbp: DatabasePool, pool_id: str, table: str, task: int, rounds: range,
                    pids: set[int], errors: list[BaseException]) -> None:
    """Each round: a parameterized SELECT, a parameterless one, an INSERT, a transaction and
    a pipelined batch, yielding in between so the tasks interleave on the server sessions."""
    for r in rounds:
        steps = [  # coroutines, awaited one after the other
            dbp.query(pool_id, "SELECT $1::int AS n, pg_backend_pid() AS pid", [task]),
            dbp.query(pool_id, f"SELECT pg_backend_pid() AS pid, count(*) AS c FROM {table}"),
            dbp.execute(pool_id, f"INSERT INTO {table} (task, seq) VALUES ($1, $2)", [task, r]),
            _transaction(dbp, pool_id, table, task, 1000 + r),
            dbp.execute_batch(pool_id, [
                ("SELECT $1::int AS a, pg_backend_pid() AS pid", [r]),
                (f"INSERT INTO {table} (task, seq) VALUES ($1, $2)", [task, 2000 + r]),
                (f"SELECT count(*) AS c FROM {table} WHERE task = $1", [task]),
            ]),
        ]
        for step in steps:
            try:
                out = await step
            except DbPoolError as e:
                errors.append(e)
                continue
            frames = out if isinstance(out, list) else [out]
            for df in frames:
                if hasattr(df, "columns") and "pid" in df.columns:
                    pids.update(df["pid"].to_list())
            await asyncio.sleep(0)


async def _transaction(dbp: DatabasePool, pool_id: str, table: str, task: int, seq: int) -> None:
    async with dbp.transaction(pool_id) as tx:
        await tx.execute(f"INSERT INTO {table} (task, seq) VALUES ($1, $2)", [task, seq])
        df = await tx.query(f"SELECT count(*) AS c, pg_backend_pid() AS pid FROM {table} "
                            "WHERE task = $1 AND seq = $2", [task, seq])
        assert df["c"][0] == 1  # the transaction sees its own row: one server session


async def _run(dbp, pool_id, table, rounds=range(ROUNDS)):
    pids: set[int] = set()
    errors: list[BaseException] = []
    await asyncio.gather(*[_workload(dbp, pool_id, table, t, rounds, pids, errors)
                           for t in range(TASKS)])
    return pids, errors


@pytest.fixture
async def bouncer_table(pgbouncer_pool2_url):
    table = "pgb_" + uuid.uuid4().hex[:8]
    async with DatabasePool() as p:
        await p.create_pool("setup", url=pgbouncer_pool2_url, statement_cache_size=0)
        await p.execute("setup", f"CREATE TABLE {table} (task int, seq int, PRIMARY KEY (task, seq))")
        yield table
        await p.execute("setup", f"DROP TABLE {table}")


async def test_pgbouncer_transaction_mode_50_tasks_zero_errors(dbp, pgbouncer_pool2_url, bouncer_table,
                                                               db_pool_log):
    await dbp.create_pool("bouncer", url=pgbouncer_pool2_url, min_connections=2, max_connections=10,
                          statement_cache_size=0)
    started = (await dbp.query("bouncer", "SELECT now()::text AS t"))["t"][0]
    pids, errors = await _run(dbp, "bouncer", bouncer_table)
    assert errors == []
    count = (await dbp.query("bouncer", f"SELECT count(*) AS c FROM {bouncer_table}"))["c"][0]
    assert count == TASKS * ROUNDS * 3
    # 10 client connections were multiplexed onto PgBouncer's 2 server sessions.
    assert len(pids) == 2, pids
    # Unnamed statements only: nothing was prepared by name on the server sessions (other
    # tests' named statements may live there: only this run's are counted).
    leftovers = await asyncio.gather(*[
        dbp.query("bouncer", "SELECT count(*) AS c FROM pg_prepared_statements "
                  "WHERE name LIKE 'dbpool%' AND prepare_time >= $1::timestamptz", [started])
        for _ in range(6)])
    assert [df["c"][0] for df in leftovers] == [0] * 6
    assert not [r for r in db_pool_log.records if "vanished" in r.getMessage()]


async def test_pgbouncer_without_the_setting_is_detected_and_switches_to_unnamed(
        dbp, pgbouncer_pool2_url, bouncer_table, db_pool_log):
    # Default statement cache: named statements prepared on one server session are looked
    # for on another. The pool notices (26000 for a statement of its own), warns once and
    # runs unnamed statements from then on; calls outside a transaction are re-run
    # unnamed (they never ran), so only calls inside a transaction or a batch can fail.
    await dbp.create_pool("auto", url=pgbouncer_pool2_url, min_connections=2, max_connections=10)
    pids, errors = await _run(dbp, "auto", bouncer_table)
    warnings = [r.getMessage() for r in db_pool_log.records if "vanished" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "pool 'auto'" in warnings[0] and "statement_cache_size=0" in warnings[0]
    for e in errors:
        assert e.sqlstate == "26000", e
        assert "statement_cache_size=0" in str(e)
    print(f"errors before the switch: {len(errors)}")
    assert len(errors) <= 20, errors  # a few calls in flight when it was detected
    # From then on: no errors at all.
    pids, errors = await _run(dbp, "auto", bouncer_table, rounds=range(ROUNDS, ROUNDS + 2))
    assert errors == []
    assert 1 <= len(pids) <= 2, pids
