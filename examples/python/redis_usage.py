"""Redis with db-pool: commands as text or argument lists, replies as DataFrames, an explicit
pipeline (execute_batch), and concurrent commands pipelined automatically on one connection.
Run: python redis_usage.py redis://127.0.0.1:6379/0"""

from __future__ import annotations

import asyncio
import sys
import uuid

from db_pool import DatabasePool


async def main(url: str) -> None:
    prefix = f"example:{uuid.uuid4().hex[:8]}:"
    async with DatabasePool() as pool:
        await pool.create_pool("r", url=url, min_connections=1, max_connections=4)

        await pool.execute("r", ["HSET", prefix + "user", "name", "ada", "lang", "en"])
        print(await pool.query("r", ["HGETALL", prefix + "user"]))  # columns key, value

        # One round trip for many commands: an explicit pipeline.
        frames = await pool.execute_batch("r", [["INCR", prefix + "n"] for _ in range(100)])
        print("batch of", len(frames), "-> n =", frames[-1]["value"][0])

        # 200 concurrent tasks: their commands share the open connection (written back to
        # back, replies matched in order) instead of each waiting for a connection of its
        # own, so they take a few round trips, and the pool opens no further connections.
        async def one(i: int) -> str:
            await pool.execute("r", ["SET", f"{prefix}k{i}", f"v{i}"])
            return (await pool.query("r", ["GET", f"{prefix}k{i}"]))["value"][0]

        values = await asyncio.gather(*(one(i) for i in range(200)))
        assert values == [f"v{i}" for i in range(200)]  # each task got its own reply
        opened = pool.get_pool_status("r")["connections_opened"]
        print(f"200 tasks, 400 commands, connections opened: {opened} (max 4)")

        # Blocking commands keep a connection of their own (never pipelined with others).
        await pool.execute("r", ["RPUSH", prefix + "queue", "job-1"])
        print("popped", (await pool.query("r", ["BLPOP", prefix + "queue", 1]))["value"].to_list())

        keys = [f"{prefix}k{i}" for i in range(200)] + [prefix + s for s in ("user", "n", "queue")]
        await pool.execute("r", ["DEL", *keys])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0"))
