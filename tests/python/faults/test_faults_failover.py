"""Replicas, failover and degradation (issue 4 tests 8 and 9) against a throwaway primary
with a streaming replica (pg_basebackup), a FaultProxy in front of a replica; the
LoadBalanced algorithms and target_session_attrs against that real primary/standby pair."""

from __future__ import annotations

import asyncio
import time

import pytest
from db_pool import (
    ActiveStandby,
    ConfigError,
    ConnectionError,
    DbPoolError,
    Failover,
    GracefulDegradation,
    LoadBalanced,
    ReadOnlyModeError,
)

from .pg_instance import PgInstance
from .proxy import FaultProxy

pytestmark = pytest.mark.faults

# Small, quickly reconnecting member pools: failures show within a second, not after 30 s.
MEMBER = {
    "min_connections": 1,
    "max_connections": 4,
    "acquire_timeout": 2,
    "connect_timeout": 2,
    "reconnect_backoff_base": 0.05,
    "reconnect_backoff_max": 0.3,
    "health_check_interval": 0.5,
    "fail_fast": False,
}


def _url(*ports: int, **options: str) -> str:
    hosts = ",".join(f"127.0.0.1:{p}" for p in ports)
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"postgresql://postgres:hunter2@{hosts}/postgres" + (f"?{query}" if query else "")


def _start_pair() -> tuple[PgInstance, PgInstance]:
    primary = PgInstance()
    primary.init()
    primary.start()
    replica = primary.make_replica()
    replica.start()
    primary.wait_streaming()
    primary.psql("CREATE TABLE t (id serial PRIMARY KEY, v int)")
    return primary, replica


@pytest.fixture(scope="module")
def pair():
    """A primary and its streaming standby, shared by the tests that leave both up."""
    primary, replica = _start_pair()
    try:
        yield primary, replica
    finally:
        replica.destroy()
        primary.destroy()


@pytest.fixture
def fresh_pair():
    """A pair of its own for a test that stops the primary and promotes the standby."""
    primary, replica = _start_pair()
    try:
        yield primary, replica
    finally:
        replica.destroy()
        primary.destroy()


def _members(status: dict) -> dict[str, dict]:
    return {m["pool_id"]: m for m in status["members"]}


async def _in_recovery_counts(dbp, pool_id: str, n: int) -> dict[bool, int]:
    """Runs n reads through `pool_id`; how many were answered by the standby (True)."""
    counts = {True: 0, False: 0}
    for _ in range(n):
        df = await dbp.query(pool_id, "SELECT pg_is_in_recovery() AS r")
        counts[df["r"][0]] += 1
    return counts


# --- target_session_attrs against the real pair ---------------------------------------

@pytest.mark.parametrize(
    ("order", "attrs", "expect_standby"),
    [
        ("ps", "any", False),
        ("sp", "any", True),
        ("sp", "read-write", False),
        ("sp", "primary", False),
        ("ps", "read-only", True),
        ("ps", "standby", True),
        ("ps", "prefer-standby", True),
        ("sp", "prefer-standby", True),
    ],
)
async def test_target_session_attrs(dbp, pair, order, attrs, expect_standby):
    primary, replica = pair
    ports = [primary.port, replica.port] if order == "ps" else [replica.port, primary.port]
    await dbp.create_pool("tsa", url=_url(*ports, target_session_attrs=attrs), max_connections=2)
    df = await dbp.query("tsa", "SELECT pg_is_in_recovery() AS r, inet_server_port() AS port")
    assert df["r"][0] is expect_standby
    assert df["port"][0] == (replica.port if expect_standby else primary.port)
    url = dbp.get_pool_status("tsa")["url"]
    assert f"127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}" in url
    assert "hunter2" not in url and "***" in url


async def test_target_session_attrs_keyword_hosts_and_no_match(dbp, pair):
    primary, replica = pair
    await dbp.create_pool("kw", db_type="postgresql", host=["127.0.0.1", "127.0.0.1"],
                          port=[primary.port, replica.port], username="postgres",
                          database="postgres", target_session_attrs="standby")
    df = await dbp.query("kw", "SELECT inet_server_port() AS port")
    assert df["port"][0] == replica.port
    # prefer-standby falls back to the primary when no standby is listed; standby does not.
    await dbp.create_pool("prefer", url=_url(primary.port, target_session_attrs="prefer-standby"))
    assert (await dbp.query("prefer", "SELECT inet_server_port() AS p"))["p"][0] == primary.port
    with pytest.raises(ConnectionError) as info:
        await dbp.create_pool("none", url=_url(primary.port, target_session_attrs="standby"))
    assert "none" in str(info.value) and "hunter2" not in str(info.value)


async def test_bad_config_errors_name_the_field(dbp, pair):
    primary, replica = pair
    cases = [
        ({"url": _url(primary.port, target_session_attrs="writable")}, "target_session_attrs"),
        ({"url": _url(primary.port, replica.port), "port": "1,2,3"}, "port: 3 ports for 2 hosts"),
        ({"url": "postgresql://u@a,,b/d"}, "host: entry 2 of the host list is empty"),
        ({"url": "mysql://u@a,b/d"}, "host: a list of 2 hosts is supported by PostgreSQL only"),
        ({"url": _url(primary.port), "failover": Failover(backup_pools=["missing"])},
         "members[1]: no pool 'missing'"),
        ({"url": _url(primary.port), "degradation": GracefulDegradation(read_only_mode=True)},
         "read_only_mode: needs backups"),
    ]
    for fields, text in cases:
        with pytest.raises(ConfigError) as info:
            await dbp.create_pool("bad", **fields)
        assert text in str(info.value), (fields, str(info.value))
        assert "hunter2" not in str(info.value)
    assert "bad" not in dbp.list_pools()  # a failed failover leaves no pool behind
    await dbp.create_pool("p", url=_url(primary.port))
    group_cases = [
        (LoadBalanced(pools=["p", "nope"]), "members[1]: no pool 'nope'"),
        (LoadBalanced(pools=["p"], algorithm="fastest"), "algorithm: expected one of"),
        (LoadBalanced(pools=["p"], algorithm="weighted"), "weights: algorithm='weighted' needs"),
        (LoadBalanced(pools=["p"], algorithm="weighted", weights=[0]), "weights[0]"),
        (LoadBalanced(pools="p"), "pools: expected a list"),
        (ActiveStandby(primary="p", backup="p"), "members[1]: pool 'p' is listed twice"),
        (Failover(backup_pools=["p"]), "Failover belongs on create_pool"),
    ]
    for strategy, text in group_cases:
        with pytest.raises(ConfigError) as info:
            await dbp.create_group("g", strategy)
        assert text in str(info.value), (strategy, str(info.value))
    with pytest.raises(ConfigError, match="read_only_mode: needs a primary"):
        await dbp.create_group("g", LoadBalanced(pools=["p"]),
                               degradation=GracefulDegradation(read_only_mode=True))
    with pytest.raises(ConfigError, match="cache_size"):
        await dbp.create_group("g", LoadBalanced(pools=["p"]),
                               degradation=GracefulDegradation(cache_fallback=True, cache_size=0))


# --- LoadBalanced algorithms: the share of each member ---------------------------------

async def _pair_pools(dbp, pair) -> None:
    primary, replica = pair
    await dbp.create_pool("p", url=_url(primary.port), **MEMBER)
    await dbp.create_pool("s", url=_url(replica.port), **MEMBER)


async def test_round_robin_and_weighted_shares(dbp, pair):
    await _pair_pools(dbp, pair)
    await dbp.create_group("rr", LoadBalanced(pools=["p", "s"]))
    assert await _in_recovery_counts(dbp, "rr", 20) == {True: 10, False: 10}
    await dbp.create_group("w", LoadBalanced(pools=["p", "s"], algorithm="weighted", weights=[3, 1]))
    assert await _in_recovery_counts(dbp, "w", 40) == {True: 10, False: 30}
    members = _members(dbp.get_pool_status("w"))
    assert (members["p"]["calls"], members["s"]["calls"]) == (30, 10)
    assert members["p"]["weight"] == 3


async def test_random_reaches_both(dbp, pair):
    await _pair_pools(dbp, pair)
    await dbp.create_group("rnd", LoadBalanced(pools=["p", "s"], algorithm="random"))
    counts = await _in_recovery_counts(dbp, "rnd", 200)
    # 100 expected each; 50 is 7 standard deviations away.
    assert counts[True] > 50 and counts[False] > 50, counts


async def test_least_connections_avoids_the_busy_member(dbp, pair):
    await _pair_pools(dbp, pair)
    await dbp.create_group("lc", LoadBalanced(pools=["p", "s"], algorithm="least_connections"))
    # Nothing in flight: the first member takes the call; while it runs, calls go to "s".
    slow = asyncio.create_task(dbp.query("lc", "SELECT pg_is_in_recovery() AS r, pg_sleep(1.5)"))
    deadline = time.monotonic() + 5
    while _members(dbp.get_pool_status("lc"))["p"]["in_flight"] != 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert await _in_recovery_counts(dbp, "lc", 10) == {True: 10, False: 0}
    assert (await slow)["r"][0] is False
    assert _members(dbp.get_pool_status("lc"))["p"]["in_flight"] == 0


async def test_group_ids_take_streams_and_transactions(dbp, pair):
    await _pair_pools(dbp, pair)
    await dbp.create_group("as", ActiveStandby(primary="p", backup="s"))
    async with dbp.transaction("as") as tx:
        assert await tx.execute("INSERT INTO t (v) VALUES (100)") == 1
    frames = [df async for df in dbp.stream("as", "SELECT v FROM t WHERE v = 100", batch_rows=10)]
    assert sum(df.height for df in frames) == 1
    assert await dbp.execute_transaction("as", ["INSERT INTO t (v) VALUES (101)"]) == [1]
    members = _members(dbp.get_pool_status("as"))
    assert members["p"]["calls"] == 2 and members["s"]["calls"] == 0  # streams are not counted
    assert "as" in dbp.list_pools()
    with pytest.raises(ConfigError, match="member of group 'as'"):
        await dbp.remove_pool("s")
    await dbp.remove_pool("as")
    assert "as" not in dbp.list_pools() and "s" in dbp.list_pools()
    await dbp.remove_pool("s")


# --- test 8: a replica taken down behind the proxy --------------------------------------

async def test_replica_down_behind_proxy_is_banned_then_unbanned(dbp, pair):
    primary, replica = pair
    proxy = await FaultProxy(replica.port).start()
    try:
        await dbp.create_pool("p", url=_url(primary.port), **MEMBER)
        await dbp.create_pool("s1", url=_url(replica.port), **MEMBER)
        await dbp.create_pool("s2", url=_url(proxy.port), **MEMBER)
        await dbp.create_group("reads", LoadBalanced(pools=["p", "s1", "s2"], ban_time=1.0))
        for _ in range(30):
            await dbp.query("reads", "SELECT 1")
        calls = {k: m["calls"] for k, m in _members(dbp.get_pool_status("reads")).items()}
        assert calls == {"p": 10, "s1": 10, "s2": 10}

        proxy.set_mode("reset")  # the replica behind the proxy is gone: cut and refused
        errors = 0
        for _ in range(30):
            try:
                await dbp.query("reads", "SELECT 1")
            except DbPoolError:
                errors += 1
        status = dbp.get_pool_status("reads")
        s2 = _members(status)["s2"]
        assert errors == 0  # the failed reads moved on to another member
        assert s2["state"] == "banned" and status["state"] == "degraded"
        assert s2["failures"] <= 2, s2  # the monitor may ban it before any read fails
        # While banned: no call reaches it, and the load is spread over the rest evenly.
        before = {k: m["calls"] for k, m in _members(status).items()}
        for _ in range(40):
            await dbp.query("reads", "SELECT 1")
        after = {k: m["calls"] for k, m in _members(dbp.get_pool_status("reads")).items()}
        assert after["s2"] == before["s2"]
        assert (after["p"] - before["p"], after["s1"] - before["s1"]) == (20, 20)

        proxy.set_mode("pass")  # it returns: a background probe un-bans it
        deadline = time.monotonic() + 10
        while _members(dbp.get_pool_status("reads"))["s2"]["state"] != "up":
            assert time.monotonic() < deadline, dbp.get_pool_status("reads")
            await asyncio.sleep(0.1)
        before = after
        for _ in range(30):
            await dbp.query("reads", "SELECT 1")
        after = {k: m["calls"] for k, m in _members(dbp.get_pool_status("reads")).items()}
        assert after["s2"] - before["s2"] == 10
    finally:
        await proxy.close()


async def test_active_standby_switches_after_switch_threshold_failures_in_a_row(dbp, pair):
    primary, replica = pair
    # Slow on the primary only: each read there hits the primary pool's query_timeout (a
    # failure the HealthMonitor cannot see: the server answers its checks), and is answered
    # by the standby instead.
    slow_on_primary = (
        "SELECT pg_is_in_recovery() AS standby, "
        "CASE WHEN pg_is_in_recovery() THEN 0 ELSE (SELECT 0 FROM pg_sleep(2)) END AS z"
    )
    await dbp.create_pool("a", url=_url(primary.port), **MEMBER, query_timeout=0.3)
    await dbp.create_pool("b", url=_url(replica.port), **MEMBER)
    await dbp.create_group("as", ActiveStandby(primary="a", backup="b", switch_threshold=3, ban_time=60))
    assert (await dbp.query("as", "SELECT pg_is_in_recovery() AS r"))["r"][0] is False
    for n in (1, 2):
        started = time.monotonic()
        df = await dbp.query("as", slow_on_primary)
        assert df["standby"][0] is True  # moved on to the backup after the timeout
        assert time.monotonic() - started >= 0.3
        a = _members(dbp.get_pool_status("as"))["a"]
        assert (a["state"], a["failures"]) == ("up", n), a  # below the threshold: still up
    await dbp.query("as", slow_on_primary)  # the third failure in a row bans the primary
    a = _members(dbp.get_pool_status("as"))["a"]
    assert a["state"] == "banned" and a["bans"] == 1, a
    # Banned: calls go straight to the backup, without waiting for the primary's timeout.
    started = time.monotonic()
    for _ in range(5):
        assert (await dbp.query("as", slow_on_primary))["standby"][0] is True
    assert time.monotonic() - started < 5 * 0.3
    assert _members(dbp.get_pool_status("as"))["a"]["calls"] == 4  # 1 good + 3 timed out


# --- test 9: failover with pg_promote, and read_only_mode -------------------------------

async def test_read_only_mode_reads_never_stop(dbp, fresh_pair):
    primary, replica = fresh_pair
    primary.psql("INSERT INTO t (v) SELECT g FROM generate_series(1, 5) g")
    await dbp.create_pool("p", url=_url(primary.port), **MEMBER)
    await dbp.create_pool("s", url=_url(replica.port), **MEMBER)
    await dbp.create_group("main", ActiveStandby(primary="p", backup="s", ban_time=1.0),
                           degradation=GracefulDegradation(read_only_mode=True))
    assert await dbp.execute("main", "INSERT INTO t (v) VALUES (6)") == 1
    deadline = time.monotonic() + 5
    while int(replica.psql("SELECT count(*) FROM t")) != 6:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)

    reads: list[int] = []
    read_errors: list[BaseException] = []
    stop = asyncio.Event()

    async def reader() -> None:
        while not stop.is_set():
            try:
                df = await dbp.query("main", "SELECT count(*) AS n FROM t")
                reads.append(df["n"][0])
            except DbPoolError as error:
                read_errors.append(error)
            await asyncio.sleep(0.01)

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.3)
    await asyncio.to_thread(primary.stop, "fast")
    stopped_at = len(reads)
    deadline = time.monotonic() + 10
    while _members(dbp.get_pool_status("main"))["p"]["state"] != "banned":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    # Writes fail fast with a typed error naming the group and the primary.
    start = time.monotonic()
    with pytest.raises(ReadOnlyModeError) as info:
        await dbp.execute("main", "INSERT INTO t (v) VALUES (7)")
    assert time.monotonic() - start < 0.5
    assert "'main'" in str(info.value) and "'p'" in str(info.value)
    with pytest.raises(ReadOnlyModeError):
        await dbp.execute_transaction("main", ["INSERT INTO t (v) VALUES (8)"])
    await asyncio.sleep(1.0)
    stop.set()
    await task
    assert read_errors == []
    assert len(reads) - stopped_at >= 10  # reads went on while the primary was down
    assert set(reads) == {6}
    status = dbp.get_pool_status("main")
    assert status["state"] == "degraded" and status["read_only_mode"] is True
    assert _members(status)["s"]["calls"] > 0


async def test_cache_fallback_answers_when_every_member_is_down(dbp, fresh_pair):
    primary, replica = fresh_pair
    await dbp.create_pool("p", url=_url(primary.port), **MEMBER)
    await dbp.create_pool("s", url=_url(replica.port), **MEMBER)
    await dbp.create_group("cached", ActiveStandby(primary="p", backup="s"),
                           degradation=GracefulDegradation(cache_fallback=True, cache_size=2))
    first = await dbp.query("cached", "SELECT $1::int AS x", [1])
    await dbp.query("cached", "SELECT $1::int AS x", [2])
    await asyncio.to_thread(primary.stop, "immediate")
    await asyncio.to_thread(replica.stop, "immediate")
    again = await dbp.query("cached", "SELECT $1::int AS x", [1])
    assert again.equals(first)
    with pytest.raises(DbPoolError):  # never cached: the members' error
        await dbp.query("cached", "SELECT $1::int AS x", [3])
    cache = dbp.get_pool_status("cached")["cache_fallback"]
    assert cache == {"entries": 2, "max_entries": 2, "hits": 1}


async def test_failover_finds_the_promoted_standby(dbp, fresh_pair):
    primary, replica = fresh_pair
    rw = dict(MEMBER, acquire_timeout=1)
    # A multi-host pool that only takes a read-write server ...
    await dbp.create_pool("multi", url=_url(primary.port, replica.port,
                                            target_session_attrs="read-write"), **rw)
    # ... and a Failover pool whose backup accepts only a read-write server too.
    await dbp.create_pool("standby_rw", url=_url(replica.port, target_session_attrs="read-write"), **rw)
    await dbp.create_pool("main", url=_url(primary.port, target_session_attrs="read-write"),
                          failover=Failover(backup_pools=["standby_rw"], ban_time=0.5), **rw)
    assert await dbp.execute("multi", "INSERT INTO t (v) VALUES (1)") == 1
    assert await dbp.execute("main", "INSERT INTO t (v) VALUES (2)") == 1
    assert dbp.get_pool_status("main")["failover"]["members"][0]["role"] == "primary"

    await asyncio.to_thread(primary.stop, "fast")
    await asyncio.to_thread(replica.promote)
    promoted = time.monotonic()
    found: dict[str, float] = {}

    async def writes(pool_id: str) -> None:
        while time.monotonic() - promoted < 10:
            try:
                await dbp.execute(pool_id, "INSERT INTO t (v) VALUES (3)")
                found[pool_id] = time.monotonic() - promoted
                return
            except DbPoolError:
                await asyncio.sleep(0.05)

    await asyncio.gather(writes("multi"), writes("main"))
    assert set(found) == {"multi", "main"}, found
    assert max(found.values()) < 5.0, found
    df = await dbp.query("multi", "SELECT inet_server_port() AS port, pg_is_in_recovery() AS r")
    assert (df["port"][0], df["r"][0]) == (replica.port, False)
    members = _members(dbp.get_pool_status("main")["failover"])
    assert members["main"]["state"] == "banned"
    assert int(replica.psql("SELECT count(*) FROM t WHERE v = 3")) == 2
