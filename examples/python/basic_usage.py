"""db-pool basic usage: create a pool, write rows with bound parameters, read a DataFrame.

Runs on an embedded SQLite database by default; pass any database URL to use another:
    python examples/python/basic_usage.py
    python examples/python/basic_usage.py postgresql://user:pass@127.0.0.1:5432/app
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from db_pool import DatabasePool, QueryError


async def main(url: str) -> None:
    async with DatabasePool() as pool:
        await pool.create_pool("main", url=url, max_connections=4)

        await pool.execute("main", "DROP TABLE IF EXISTS users")
        await pool.execute(
            "main", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)"
        )
        placeholders = "($1, $2, $3)" if url.startswith("postgres") else "(?, ?, ?)"
        for user in [(1, "ada", 9.5), (2, "grace", 8.75), (3, "linus", None)]:
            await pool.execute("main", f"INSERT INTO users VALUES {placeholders}", list(user))

        df = await pool.query("main", "SELECT id, name, score FROM users ORDER BY id")
        print(df)

        # Several statements on one connection; rows or a rows_affected frame for each.
        frames = await pool.execute_batch(
            "main", ["UPDATE users SET score = 10 WHERE id = 3", "SELECT count(*) AS n FROM users"]
        )
        print("updated:", frames[0]["rows_affected"][0], "users:", frames[1]["n"][0])

        # All or nothing: the duplicate id makes the whole transaction roll back.
        try:
            await pool.execute_transaction(
                "main",
                ["INSERT INTO users VALUES (4, 'ken', 7)", "INSERT INTO users VALUES (1, 'dup', 0)"],
            )
        except QueryError as error:
            print(f"transaction rolled back: SQLSTATE {error.sqlstate}")
        remaining = await pool.query("main", "SELECT count(*) AS n FROM users")
        print("users after rollback:", remaining["n"][0])

        if url.startswith("postgres"):
            # interval: a Duration unless a value has months, then {months, days, microseconds}.
            spans = await pool.query("main", "SELECT interval '90 minutes' AS short, interval '1 year 2 mons' AS long")
            print("intervals:", spans.schema["short"], spans["long"][0])
        print("pool status:", pool.get_pool_status("main"))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        target = sys.argv[1]
    else:
        target = f"sqlite://{Path(tempfile.mkdtemp()) / 'example.db'}"  # sqlite:// + /abs/path
    asyncio.run(main(target))
