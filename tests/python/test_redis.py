"""Redis through the public API: command forms, reply shapes, pipelines, typed errors,
auth, server down and back, cancellation, TLS, concurrency (throwaway server: services.sh)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import polars as pl
import pytest
from db_pool import (
    ConfigError,
    ConnectionError,
    DataConversionError,
    PoolTimeoutError,
    QueryError,
)
from faults.proxy import FaultProxy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def key():
    """A key prefix unique to the test (the server is shared)."""
    prefix = f"pytest:{uuid.uuid4().hex[:10]}:"
    return lambda name: prefix + name


@pytest.fixture
async def r(pool, redis_url):
    """A DatabasePool with pool "r" (4 connections) on the throwaway Redis."""
    await pool.create_pool("r", url=redis_url, max_connections=4)
    return pool


async def test_execute_argument_list_and_command_text(r, key):
    k = key("k")
    assert await r.execute("r", ["SET", k, b"\x00bin"]) == 1  # OK -> 1
    assert await r.execute("r", ["STRLEN", k]) == 4
    assert await r.execute("r", f"SET {k} v") == 1
    assert (await r.query("r", f"GET {k}")).to_dicts() == [{"value": "v"}]
    # Text with parameters appended as arguments; quotes and escapes like redis-cli.
    assert await r.execute("r", f"SET {k}", ["two words"]) == 1
    assert (await r.query("r", ["GET", k]))["value"][0] == "two words"
    await r.execute("r", f'SET {k} "a\\tb \\x41"')
    assert (await r.query("r", f"GET {k}"))["value"][0] == "a\tb A"
    # int, float, bool arguments
    await r.execute("r", ["SET", k, 41])
    assert await r.execute("r", ["INCRBY", k, 1]) == 42  # integer reply -> its value
    await r.execute("r", ["SET", k, 2.5])
    assert (await r.query("r", ["GET", k]))["value"][0] == "2.5"
    await r.execute("r", ["SET", k, True])
    assert (await r.query("r", ["GET", k]))["value"][0] == "1"
    assert await r.execute("r", ["DEL", k, key("absent")]) == 1


async def test_query_shapes(r, key):
    lst, h, s, z, n = key("list"), key("hash"), key("set"), key("zset"), key("n")
    await r.execute_batch(
        "r",
        [["RPUSH", lst, "a", "b", "c"], ["HSET", h, "f1", "v1", "f2", "v2"], ["SADD", s, "x", "y"], ["ZADD", z, "1.5", "m"]],
    )
    incr = await r.query("r", ["INCR", n])
    assert incr.schema == {"value": pl.Int64} and incr["value"].to_list() == [1]
    got = await r.query("r", ["GET", n])
    assert got.schema == {"value": pl.String} and got.to_dicts() == [{"value": "1"}]
    nil = await r.query("r", ["GET", key("missing")])
    assert nil.schema == {"value": pl.String} and nil["value"].to_list() == [None]
    lr = await r.query("r", ["LRANGE", lst, 0, -1])
    assert lr.schema == {"value": pl.String} and lr["value"].to_list() == ["a", "b", "c"]
    hg = await r.query("r", ["HGETALL", h])
    assert hg.schema == {"key": pl.String, "value": pl.String}
    assert sorted(hg.rows()) == [("f1", "v1"), ("f2", "v2")]
    sm = await r.query("r", ["SMEMBERS", s])
    assert sorted(sm["value"].to_list()) == ["x", "y"]
    score = await r.query("r", ["ZSCORE", z, "m"])
    assert score.schema == {"value": pl.Float64} and score["value"][0] == 1.5
    empty = await r.query("r", ["LRANGE", key("nolist"), 0, -1])
    assert empty.schema == {"value": pl.String} and empty.height == 0
    mget = await r.query("r", ["MGET", n, key("missing")])
    assert mget["value"].to_list() == ["1", None]
    # Nested replies become list columns (RESP3 ZRANGE ... WITHSCORES: [member, score] pairs).
    pairs = await r.query("r", ["ZRANGE", z, 0, -1, "WITHSCORES"])
    assert pairs.schema == {"value": pl.List(pl.String)}
    assert pairs["value"].to_list() == [["m", "1.5"]]


async def test_resp2_hgetall_is_still_key_value(pool, redis_url, key):
    await pool.create_pool("r2", url=redis_url, protocol="2")
    h = key("hash")
    await pool.execute("r2", ["HSET", h, "f", "v"])
    df = await pool.query("r2", ["HGETALL", h])
    assert df.to_dicts() == [{"key": "f", "value": "v"}]


async def test_binary_values_and_decode_responses(r, pool, redis_url, key):
    k = key("bin")
    await r.execute("r", ["SET", k, b"\xff\x00\xfe"])
    with pytest.raises(DataConversionError, match="GET.*decode_responses=false"):
        await r.query("r", ["GET", k])
    await pool.create_pool("raw", url=redis_url, decode_responses=False)
    df = await pool.query("raw", ["GET", k])
    assert df.schema == {"value": pl.Binary} and df["value"][0] == b"\xff\x00\xfe"
    # The failed conversion left the connection usable.
    assert (await r.query("r", "PING"))["value"][0] == "PONG"


async def test_none_argument_is_an_error_naming_it(r, key):
    with pytest.raises(DataConversionError, match="argument 2"):
        await r.execute("r", ["SET", key("k"), None])


async def test_commands_that_would_break_a_pooled_connection_are_rejected(r):
    for command in ("SELECT 1", "SUBSCRIBE ch", "MONITOR"):
        with pytest.raises(QueryError, match="not supported on pooled connections"):
            await r.execute("r", command)


async def test_wrongtype_is_a_query_error_and_the_connection_stays(pool, redis_url, key):
    await pool.create_pool("one", url=redis_url, min_connections=1, max_connections=1)
    before = (await pool.query("one", "CLIENT ID"))["value"][0]
    lst = key("list")
    await pool.execute("one", ["RPUSH", lst, "a"])
    with pytest.raises(QueryError, match="WRONGTYPE") as info:
        await pool.query("one", ["GET", lst])
    assert info.value.sqlstate in (None, "")
    with pytest.raises(QueryError, match="unknown command"):
        await pool.execute("one", "NOSUCHCOMMAND")
    after = (await pool.query("one", "CLIENT ID"))["value"][0]
    assert after == before  # the same connection, not a replacement


async def test_execute_batch_pipelines_in_one_round_trip(pool, redis_url, key):
    """Behind a link where every reply takes 50 ms, 200 batched commands cost about one
    round trip, 10 single ones at least ten (timing that holds on a loaded machine)."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = await FaultProxy(port).start()
    try:
        await pool.create_pool("slow", url=f"redis://127.0.0.1:{proxy.port}/0", max_connections=1)
        proxy.reply_delay = 0.05
        n = key("n")
        start = time.perf_counter()
        frames = await pool.execute_batch("slow", [["INCR", n] for _ in range(200)])
        batch_time = time.perf_counter() - start
        assert len(frames) == 200
        assert frames[-1]["value"].to_list() == [200]
        start = time.perf_counter()
        for _ in range(10):
            await pool.execute("slow", ["INCR", n])
        single_time = time.perf_counter() - start
        assert (await pool.query("slow", ["GET", n]))["value"][0] == "210"
        assert single_time >= 10 * 0.05
        assert batch_time < 4 * 0.05, (batch_time, single_time)
    finally:
        await pool.remove_pool("slow")
        await proxy.close()


async def test_batch_error_names_the_command_and_keeps_the_connection(r, key):
    lst, n = key("list"), key("n")
    await r.execute("r", ["RPUSH", lst, "a"])
    with pytest.raises(QueryError, match=r"index 1 of 3.*WRONGTYPE"):
        await r.execute_batch("r", [["INCR", n], ["INCR", lst], ["INCR", n]])
    # Every command ran (Redis pipelines are not transactions), and replies stayed in sync.
    assert (await r.query("r", ["GET", n]))["value"][0] == "2"


async def test_transactions_are_multi_exec(r, key):
    k = key("k")
    async with r.transaction("r") as tx:
        assert await tx.execute(f"SET {k} 1") == 0  # QUEUED
        await tx.execute(f"INCR {k}")
    assert (await r.query("r", ["GET", k]))["value"][0] == "2"
    with pytest.raises(RuntimeError):
        async with r.transaction("r") as tx:
            await tx.execute(f"SET {k} 100")
            raise RuntimeError("roll back")
    assert (await r.query("r", ["GET", k]))["value"][0] == "2"  # DISCARDed
    assert await r.execute_transaction("r", [f"INCR {k}", f"INCR {k}"]) == [0, 0]
    assert (await r.query("r", ["GET", k]))["value"][0] == "4"


async def test_cancel_closes_the_blocked_connection(r, key):
    start = time.monotonic()
    with pytest.raises((asyncio.TimeoutError, TimeoutError)):
        await asyncio.wait_for(r.query("r", ["BLPOP", key("never"), 0]), 0.2)
    assert time.monotonic() - start < 2
    status = r.get_pool_status("r")
    assert status["in_use"] == 0
    assert (await r.query("r", "PING"))["value"][0] == "PONG"


async def test_200_concurrent_tasks_on_a_pool_of_4(r, key):
    n = key("n")

    async def one(i: int) -> int:
        return await r.execute("r", ["INCR", n])

    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(200))), 60)
    assert sorted(results) == list(range(1, 201))
    status = r.get_pool_status("r")
    assert status["in_use"] == 0 and status["waiting"] == 0
    assert 1 <= status["size"] <= 4


async def test_database_number_from_the_url(pool, redis_url, key):
    base = redis_url.rsplit("/", 1)[0]
    await pool.create_pool("db3", url=f"{base}/3")
    await pool.create_pool("db4", url=f"{base}/4")
    k = key("k")
    await pool.execute("db3", ["SET", k, "three"])
    assert (await pool.query("db4", ["GET", k]))["value"].to_list() == [None]
    assert (await pool.query("db3", ["GET", k]))["value"].to_list() == ["three"]
    await pool.execute("db3", ["DEL", k])


async def test_bad_options_are_config_errors(pool, redis_url):
    with pytest.raises(ConfigError, match="options.bogus"):
        await pool.create_pool("bad", url=redis_url, bogus="1")
    with pytest.raises(ConfigError, match="database"):
        await pool.create_pool("bad2", url=redis_url.rsplit("/", 1)[0] + "/notanumber")


async def test_auth_failure_is_a_connection_error_without_the_password(r, pool, redis_url):
    user = f"dbpool_py_{uuid.uuid4().hex[:6]}"
    await r.execute("r", ["ACL", "SETUSER", user, "reset", "on", ">right-secret", "~*", "+@all"])
    try:
        host = redis_url.split("://", 1)[1]
        with pytest.raises(ConnectionError, match="authentication failed") as info:
            await pool.create_pool("bad", url=f"redis://{user}:wrong-secret@{host}")
        assert "wrong-secret" not in str(info.value)
        await pool.create_pool("good", url=f"redis://{user}:right-secret@{host}")
        assert (await pool.query("good", "ACL WHOAMI"))["value"][0] == user
        assert "right-secret" not in str(pool.get_pool_status("good"))
    finally:
        await r.execute("r", ["ACL", "DELUSER", user])


def _services(*args: str) -> None:
    subprocess.run(["bash", str(REPO / "scripts" / "services.sh"), *args], check=True, capture_output=True, timeout=120)


async def test_server_down_gives_connection_error_then_recovers(pool, redis_url):
    await pool.create_pool("down", url=redis_url, min_connections=1, max_connections=2, connect_timeout=2,
                           acquire_timeout=2)
    assert (await pool.query("down", "PING"))["value"][0] == "PONG"
    await asyncio.to_thread(_services, "stop", "redis")
    try:
        # The pooled connection fails, or (while the health check is pinging it) the call
        # waits acquire_timeout for a new one, which is refused.
        with pytest.raises((ConnectionError, PoolTimeoutError)):
            await pool.query("down", "PING")
        # A fresh connection is refused too: the call waits acquire_timeout for the server to
        # come back, then names the refused connection.
        with pytest.raises(PoolTimeoutError, match="Connection refused"):
            await pool.query("down", "PING")
    finally:
        await asyncio.to_thread(_services, "start", "redis")
    deadline = time.monotonic() + 15
    while True:
        try:
            assert (await pool.query("down", "PING"))["value"][0] == "PONG"
            break
        except (ConnectionError, PoolTimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    status = pool.get_pool_status("down")
    assert status["in_use"] == 0


# ---- TLS (rediss://): a private TLS-only redis-server with a throwaway certificate ----


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tls_redis(tmp_path):
    redis_server, openssl = shutil.which("redis-server"), shutil.which("openssl")
    if not redis_server or not openssl:
        if os.environ.get("DB_POOL_TEST_REQUIRE_SERVICES") and not redis_server:
            pytest.fail("redis-server is not installed")
        pytest.skip("needs redis-server and openssl")
    cert, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(keyfile), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [redis_server, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", str(cert),
         "--tls-key-file", str(keyfile), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                pytest.skip(f"redis-server has no TLS support here: {err[-300:]}")
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("TLS redis-server did not start")
                time.sleep(0.05)
        yield port, cert
    finally:
        proc.terminate()
        proc.wait(10)


async def test_rediss_tls(pool, tls_redis):
    port, cert = tls_redis
    await pool.create_pool("tls", url=f"rediss://127.0.0.1:{port}/0", ssl_ca_certs=str(cert))
    await pool.execute("tls", ["SET", "k", "over tls"])
    assert (await pool.query("tls", ["GET", "k"]))["value"][0] == "over tls"
    assert pool.get_pool_status("tls")["url"].startswith("rediss://")
    # Concurrent commands multiplexed on one TLS connection (reads and writes interleave on
    # the TLS stream): each caller gets its own value.
    await pool.create_pool("tls1", url=f"rediss://127.0.0.1:{port}/0", ssl_ca_certs=str(cert),
                           max_connections=1)

    async def one(i: int) -> str:
        await pool.execute("tls1", ["SET", f"tls:{i}", "x" * (i * 997) + str(i)])
        return (await pool.query("tls1", ["GET", f"tls:{i}"]))["value"][0]

    values = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(100))), 60)
    assert values == ["x" * (i * 997) + str(i) for i in range(100)]
    assert pool.get_pool_status("tls1")["connections_opened"] == 1
    # Verification against the system store fails: the certificate is self-signed.
    with pytest.raises(ConnectionError, match="TLS handshake failed"):
        await pool.create_pool("untrusted", url=f"rediss://127.0.0.1:{port}/0", connect_timeout=5)
    await pool.create_pool("noverify", url=f"rediss://127.0.0.1:{port}/0", ssl_cert_reqs="none")
    assert (await pool.query("noverify", "PING"))["value"][0] == "PONG"
    # Plain text to a TLS port: the handshake never completes, the deadline ends it.
    with pytest.raises(ConnectionError):
        await pool.create_pool("plain", url=f"redis://127.0.0.1:{port}/0", connect_timeout=0.5)


async def test_connection_cut_mid_pipeline_fails_the_batch_and_is_replaced(pool, redis_url, key):
    await pool.create_pool("one", url=redis_url, min_connections=1, max_connections=1)
    await pool.create_pool("admin", url=redis_url, max_connections=1)
    before = (await pool.query("one", "CLIENT ID"))["value"][0]
    # The pipeline waits on BLPOP; the PINGs behind it are pending when the connection dies.
    batch = asyncio.ensure_future(
        pool.execute_batch("one", [["PING"], ["BLPOP", key("never"), 0]] + [["PING"]] * 20))
    await asyncio.sleep(0.3)
    assert await pool.execute("admin", ["CLIENT", "KILL", "ID", before]) == 1
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(batch, 5)
    assert pool.get_pool_status("one")["in_use"] == 0
    # The broken connection was discarded: a new one (another CLIENT ID) serves the pool.
    after = (await pool.query("one", "CLIENT ID"))["value"][0]
    assert after != before
