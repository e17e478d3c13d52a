"""Failover, load balancing and graceful degradation over PostgreSQL pools, and a multi-host
URL with target_session_attrs. A server that is down is played by a port nobody listens on.
Run: python examples/python/failover.py postgresql://user:pass@host:5432/db"""

from __future__ import annotations

import asyncio
import socket
import sys
from urllib.parse import urlsplit, urlunsplit

from db_pool import DatabasePool, Failover, GracefulDegradation, LoadBalanced, ReadOnlyModeError


def with_hosts(url: str, netloc_hosts: str, query: str = "") -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{netloc_hosts}" if userinfo else netloc_hosts
    return urlunsplit((parts.scheme, netloc, parts.path, query or parts.query, ""))


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main(url: str) -> None:
    parts = urlsplit(url)
    live = f"{parts.hostname}:{parts.port or 5432}"
    dead_url = with_hosts(url, f"127.0.0.1:{unused_port()}")
    down = {"fail_fast": False, "acquire_timeout": 1, "reconnect_backoff_max": 0.5}
    async with DatabasePool() as pool:
        # Three readers, one of them down: reads are spread over the two that answer.
        await pool.create_pool("r1", url=url)
        await pool.create_pool("r2", url=url)
        await pool.create_pool("r3", url=dead_url, **down)
        await pool.create_group("reads", LoadBalanced(pools=["r1", "r2", "r3"], ban_time=2))
        for _ in range(10):
            await pool.query("reads", "SELECT 1")
        for m in pool.get_pool_status("reads")["members"]:
            print(f"member {m['pool_id']}: state={m['state']} calls={m['calls']}")

        # A primary that is down, with a backup and read-only degradation.
        await pool.create_pool(
            "orders", url=dead_url, **down,
            failover=Failover(backup_pools=["r1"], ban_time=2),
            degradation=GracefulDegradation(read_only_mode=True, cache_fallback=True),
        )
        df = await pool.query("orders", "SELECT 42 AS answer")
        print("read through the backup:", df["answer"][0])
        try:
            await pool.execute("orders", "CREATE TEMP TABLE t (x int)")
        except ReadOnlyModeError as error:
            print("write refused:", type(error).__name__)
        print("group state:", pool.get_pool_status("orders")["failover"]["state"])

        # libpq's multi-host form: the first host is down, the second is a read-write server.
        multi = with_hosts(url, f"127.0.0.1:{unused_port()},{live}", "target_session_attrs=read-write")
        await pool.create_pool("multi", url=multi)
        df = await pool.query("multi", "SELECT pg_is_in_recovery() AS standby")
        print("multi-host pool on a primary:", not df["standby"][0])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres"))
