"""Bad input gives a typed error naming what was wrong, and the pool stays usable."""

from __future__ import annotations

import socket
import time

import pytest
from db_pool import (
    ConfigError,
    ConnectionError,
    DatabasePool,
    PoolClosedError,
    PoolNotFoundError,
    QueryError,
)


@pytest.mark.parametrize(
    "url, field",
    [
        ("not-a-url", "url"),
        ("postgresql://host:notaport/db", "port"),
        ("postgresql://host:70000/db", "port"),
        ("postgresql://h/db?max_connections=many", "max_connections"),
        ("sqlite://", "url"),
    ],
)
async def test_malformed_url_names_the_field(pool, url, field):
    with pytest.raises(ConfigError) as info:
        await pool.create_pool("bad", url=url)
    assert field in str(info.value)
    assert info.value.pool_id == "bad"
    assert pool.list_pools() == []


async def test_invalid_sizes_name_the_field(pool):
    with pytest.raises(ConfigError, match="min_connections"):
        await pool.create_pool("bad", url="sqlite::memory:", min_connections=5, max_connections=2)
    with pytest.raises(ConfigError, match="acquire_timeout"):
        await pool.create_pool("bad", url="sqlite::memory:", acquire_timeout=0)


async def test_unknown_db_type(pool):
    with pytest.raises(ConfigError, match="db_type.*oracle"):
        await pool.create_pool("o", db_type="oracle", host="h", database="d")


async def test_duplicate_pool_id(pool):
    await pool.create_pool("a", url="sqlite::memory:")
    with pytest.raises(ConfigError, match="already exists"):
        await pool.create_pool("a", url="sqlite::memory:")


async def test_unknown_pool_id_lists_known_pools(pool):
    await pool.create_pool("known", url="sqlite::memory:")
    with pytest.raises(PoolNotFoundError) as info:
        await pool.query("nope", "SELECT 1")
    assert "nope" in str(info.value) and "known" in str(info.value)
    with pytest.raises(PoolNotFoundError):
        pool.get_pool_status("nope")


async def test_wrong_password_is_a_connection_error_without_the_password(pool, pg_url):
    bad = pg_url.replace(":dbpool_secret@", ":wrong-hunter2@")
    assert bad != pg_url
    with pytest.raises(ConnectionError) as info:
        await pool.create_pool("pw", url=bad, connect_timeout=5)
    text = str(info.value)
    assert "wrong-hunter2" not in text and "dbpool_secret" not in text
    assert "password" in text.lower() or "authentication" in text.lower()
    assert info.value.pool_id == "pw"


async def test_silent_host_fails_within_connect_timeout(pool):
    # A listener that never accepts: the TCP handshake completes in the kernel, then the
    # server never answers, as with a host behind a firewall that drops packets.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    port = silent.getsockname()[1]
    try:
        start = time.monotonic()
        with pytest.raises(ConnectionError) as info:
            await pool.create_pool(
                "far", url=f"postgresql://u:secret@127.0.0.1:{port}/d", connect_timeout=1
            )
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert 0.9 <= elapsed < 2.5, elapsed
    assert str(port) in str(info.value)
    assert "secret" not in str(info.value)


async def test_refused_port_fails_fast(pool):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=str(port)):
        await pool.create_pool("closed", url=f"postgresql://u@127.0.0.1:{port}/d", connect_timeout=5)
    assert time.monotonic() - start < 2


async def test_syntax_error_has_sqlstate_and_pool_stays_usable(pg):
    with pytest.raises(QueryError) as info:
        await pg.query("pg", "SELEC 1")
    assert info.value.sqlstate == "42601"
    assert info.value.pool_id == "pg"
    assert "syntax" in info.value.db_message
    df = await pg.query("pg", "SELECT 1 AS one")
    assert df["one"].to_list() == [1]
    status = pg.get_pool_status("pg")
    assert status["in_use"] == 0


async def test_unknown_table_and_unique_violation_sqlstates(pg):
    with pytest.raises(QueryError) as info:
        await pg.query("pg", "SELECT * FROM no_such_table_xyz")
    assert info.value.sqlstate == "42P01"
    await pg.execute("pg", "CREATE TEMP TABLE IF NOT EXISTS u (id int PRIMARY KEY)")


async def test_query_after_close(pg_url):
    pool = DatabasePool()
    await pool.create_pool("pg", url=pg_url)
    await pool.close()
    with pytest.raises(PoolClosedError):
        await pool.query("pg", "SELECT 1")


async def test_bad_parameter_type_names_the_parameter(lite):
    with pytest.raises(TypeError, match="parameter 2"):
        await lite.query("lite", "SELECT ?, ?", [1, object()])
    with pytest.raises(ValueError, match="parameter 1"):
        await lite.query("lite", "SELECT ?", [2**70])
    assert (await lite.query("lite", "SELECT 1 AS x"))["x"].to_list() == [1]


async def test_password_never_in_status_or_repr(pool, pg_url):
    await pool.create_pool("pg", url=pg_url)
    status = pool.get_pool_status("pg")
    assert "dbpool_secret" not in repr(status)
    assert "***" in status["url"]
    assert "dbpool_secret" not in repr(pool)
