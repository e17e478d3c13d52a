# Shared paths, URLs and helpers of the benchmark harness (bench/).
from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
DATA_DIR = BENCH / ".data"
OUT_DIR = BENCH / "results"
PG_DB = "dbpool_bench"
MYSQL_DB = "dbpool_bench"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def bench_pg_url() -> str:
    """DB_POOL_TEST_PG_URL (from .services/env) pointed at the benchmark database."""
    parts = urlsplit(os.environ["DB_POOL_TEST_PG_URL"])
    return urlunsplit(parts._replace(path="/" + PG_DB))


def table_for(rows: int) -> str:
    return f"lineitem_{label(rows).lower()}"


def label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else f"{rows // 1000}K"


def sqlite_path(rows: int) -> Path:
    return DATA_DIR / f"lineitem_{label(rows).lower()}.sqlite"


def bench_mysql_url() -> str:
    """DB_POOL_TEST_MYSQL_URL (from .services/env) pointed at the benchmark database."""
    parts = urlsplit(os.environ["DB_POOL_TEST_MYSQL_URL"])
    return urlunsplit(parts._replace(path="/" + MYSQL_DB))


def mysql_params() -> dict:
    """host/port/user/password of DB_POOL_TEST_MYSQL_URL as PyMySQL's connect() takes them."""
    parts = urlsplit(os.environ["DB_POOL_TEST_MYSQL_URL"])
    return {"host": parts.hostname, "port": parts.port or 3306, "user": parts.username or "root",
            "password": parts.password or ""}
