"""The examples run as a newcomer would run them, on SQLite, PostgreSQL, InfluxDB and Redis
(and SQL Server's on the TDS test server)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def _run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_basic_usage_on_embedded_sqlite():
    out = _run("basic_usage.py")
    assert "grace" in out
    assert "transaction rolled back: SQLSTATE 23505" in out
    assert "users after rollback: 3" in out


def test_basic_usage_on_postgresql(pg_url):
    out = _run("basic_usage.py", pg_url)
    assert "users after rollback: 3" in out
    assert "intervals: Duration(time_unit='us') {'months': 14, 'days': 0, 'microseconds': 0}" in out
    assert "dbpool_secret" not in out


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_async_usage(target, request):
    args = [] if target == "sqlite" else [request.getfixturevalue("pg_url")]
    out = _run("async_usage.py", *args)
    assert "200 inserts" in out
    assert "slow query cancelled" in out


def test_influxdb_usage(influx_url):
    base, _, _ = influx_url.rpartition("/")
    out = _run("influxdb_usage.py", base + "/example_py")
    assert "wrote 6 points" in out
    assert "web-2" in out
    assert out.count("batch of") == 2


def test_redis_usage(redis_url):
    out = _run("redis_usage.py", redis_url)
    assert "batch of 100 -> n = 100" in out
    # Shared, not one connection per waiting task (that would open all 4); a health check
    # taking the connection aside for a moment may let a second one open.
    opened = re.search(r"200 tasks, 400 commands, connections opened: (\d+) \(max 4\)", out)
    assert opened and int(opened.group(1)) <= 2, out
    assert "job-1" in out


def test_mssql_bulk_insert_example_on_the_tds_test_server():
    sys.path.insert(0, str(EXAMPLES.parents[1] / "tests" / "tds_server"))
    from launch import TdsServer

    with TdsServer() as server:
        out = _run("mssql_bulk_insert.py", server.url)
    assert "wrote 10000 rows" in out
    assert "bulk_insert: row 1, column 'amount': 123456789.00 is out of range" in out
    assert "dbpool_Secret1" not in out


def test_resilience_example_on_postgresql(pg_url):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "resilience.py"), pg_url], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "time zone from init_sql: UTC" in proc.stdout
    assert "health=healthy breaker=closed leaks_reported=1" in proc.stdout
    assert "possible connection leak" in proc.stderr and "resilience.py:" in proc.stderr
    assert "dbpool_secret" not in proc.stdout + proc.stderr


def test_failover_example_on_postgresql(pg_url):
    out = _run("failover.py", pg_url)
    assert "member r3: state=banned calls=" in out
    assert "member r1: state=up calls=5" in out
    assert "read through the backup: 42" in out
    assert "write refused: ReadOnlyModeError" in out
    assert "group state: degraded" in out
    assert "multi-host pool on a primary: True" in out
    assert "dbpool_secret" not in out


def test_pgbouncer_example(pgbouncer_pool2_url):
    out = _run("pgbouncer_usage.py", pgbouncer_pool2_url)
    assert "50 tasks done, 50 transactions committed" in out
    assert "dbpool_secret" not in out


def test_bulk_reads_example_on_postgresql(pg_url):
    out = _run("bulk_reads.py", pg_url)
    assert "query (COPY): 300000 rows" in out
    assert "same frame: True" in out and "same rows: True" in out
    assert f"sum(id) = {sum(range(101, 300001))}" in out
    assert "6 batches of at most 50000 rows" in out
    assert "dbpool_secret" not in out
