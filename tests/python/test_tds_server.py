"""The TDS test server checked by a client we did not write: FreeTDS's own `tsql`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tds_server"))
from launch import DATABASE, PASSWORD, USER, TdsServer  # noqa: E402

TSQL = shutil.which("tsql")
pytestmark = pytest.mark.skipif(
    TSQL is None and not os.environ.get("DB_POOL_TEST_REQUIRE_SERVICES"),
    reason="tsql not installed (Debian freetds-bin; scripts/setup_dev.sh installs it)",
)


@pytest.fixture(scope="module")
def server():
    with TdsServer() as s:
        yield s


def tsql(server, script: str, password: str = PASSWORD) -> str:
    assert TSQL is not None, "tsql not installed (Debian freetds-bin)"
    done = subprocess.run(
        [TSQL, "-H", "127.0.0.1", "-p", str(server.port), "-U", USER, "-P", password, "-D", DATABASE],
        input=script + "\nquit\n", capture_output=True, text=True, timeout=30,
        env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
    )
    return done.stdout + done.stderr


def test_tsql_logs_in_and_runs_a_query(server):
    out = tsql(server, "SELECT 1 AS one, N'héllo ✓' AS greeting\ngo")
    assert "one\tgreeting" in out, out
    assert "1\théllo ✓" in out, out
    assert "(1 row affected)" in out, out


def test_tsql_creates_inserts_and_reads_back_typed_columns(server):
    out = tsql(server, "\n".join([
        "DROP TABLE IF EXISTS tsql_items",
        "go",
        "CREATE TABLE tsql_items (id int PRIMARY KEY, name nvarchar(20), price decimal(10,2), "
        "day date, at datetime2(3), flag bit, raw varbinary(8))",
        "go",
        "INSERT INTO tsql_items VALUES (1, N'first', 12.50, '2024-02-29', '2024-01-02 03:04:05.678', 1, 0x0aff), "
        "(2, NULL, NULL, NULL, NULL, NULL, NULL)",
        "go",
        "SELECT id, name, price, day, at, flag, raw FROM tsql_items ORDER BY id",
        "go",
    ]))
    assert "(2 rows affected)" in out, out
    lines = out.splitlines()
    first = next(line for line in lines if line.startswith("1\t"))
    fields = first.split("\t")
    assert fields[:3] == ["1", "first", "12.50"], first
    # tsql prints dates in its own locale format ("Feb 29 2024 12:00AM").
    assert "Feb 29 2024" in fields[3] and "Jan  2 2024 03:04" in fields[4], first
    assert fields[5:] == ["1", "0aff"], first
    second = next(line for line in lines if line.startswith("2\t"))
    assert second.split("\t")[1:] == ["NULL"] * 6, second


def test_tsql_sees_server_errors_with_number_severity_and_state(server):
    out = tsql(server, "SELECT * FROM no_such_table\ngo")
    assert "Msg 208 (severity 16, state 1)" in out, out
    assert "Invalid object name 'no_such_table'" in out, out


def test_tsql_wrong_password_is_refused(server):
    out = tsql(server, "SELECT 1\ngo", password="wrong")
    assert "Login failed for user 'sa'" in out, out
