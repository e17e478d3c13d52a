# Bulk reads (PostgreSQL/SQLite/MySQL lineitem -> Polars) by db-pool and its peers, each load in a fresh child process measuring wall, CPU, peak RSS.
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from common import BENCH, OUT_DIR, bench_pg_url, label, log, sqlite_path, table_for

SINK = BENCH / ".build" / "pg_copy_sink"
# Numerics cast to REAL: ConnectorX's SQLite reader types a DECIMAL column by its first value
# and rejects the mixed INTEGER/REAL storage SQLite gives DECIMAL(15,2).
SQLITE_CAST_SQL = (
    "SELECT l_orderkey, l_partkey, l_suppkey, l_linenumber, CAST(l_quantity AS REAL) AS l_quantity, "
    "CAST(l_extendedprice AS REAL) AS l_extendedprice, CAST(l_discount AS REAL) AS l_discount, "
    "CAST(l_tax AS REAL) AS l_tax, l_returnflag, l_linestatus, l_shipdate, l_commitdate, "
    "l_receiptdate, l_shipinstruct, l_shipmode, l_comment FROM lineitem"
)
ROW_BASED = {"psycopg", "asyncpg", "pandas"}


# ------------------------------------------------------------------ loaders (run in the child)
# Each setup(url_or_path, sql) imports what it needs (not timed) and returns the timed load().
def dbpool(
    partitions: int = 1, param: bool = False, options: dict[str, str] | None = None
) -> Callable[[str, str], Callable[[], Any]]:
    def setup(url: str, sql: str) -> Callable[[], Any]:
        import asyncio

        from db_pool import DatabasePool

        async def go() -> Any:
            async with DatabasePool() as pool:
                await pool.create_pool(
                    "b", url=url, max_connections=max(partitions, 1), **(options or {})
                )
                if partitions > 1:
                    return await pool.query(
                        "b", sql, partition_on="l_orderkey", partitions=partitions
                    )
                if param:  # same rows, but a bound parameter (the parameterized read path)
                    return await pool.query("b", sql + " WHERE l_orderkey >= $1", [0])
                return await pool.query("b", sql)

        return lambda: asyncio.run(go())

    return setup


def connectorx(return_type: str, partitions: int = 1) -> Callable[[str, str], Callable[[], Any]]:
    def setup(url: str, sql: str) -> Callable[[], Any]:
        import connectorx as cx
        import polars as pl
        import pyarrow  # noqa: F401

        kw: dict[str, Any] = {"return_type": return_type}
        if partitions > 1:
            kw.update(partition_on="l_orderkey", partition_num=partitions)

        def load() -> Any:
            out = cx.read_sql(url, sql, **kw)
            return pl.from_arrow(out) if return_type == "arrow" else out

        return load

    return setup


def adbc_polars(url: str, sql: str) -> Callable[[], Any]:
    import adbc_driver_postgresql.dbapi  # noqa: F401
    import polars as pl

    return lambda: pl.read_database_uri(sql, url, engine="adbc")


def adbc_pg_cursor(url: str, sql: str) -> Callable[[], Any]:
    import adbc_driver_postgresql.dbapi as dbapi
    import polars as pl

    def load() -> Any:
        with dbapi.connect(url) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return pl.from_arrow(cur.fetch_arrow_table())

    return load


def adbc_sqlite(path: str, sql: str) -> Callable[[], Any]:
    import adbc_driver_sqlite.dbapi as dbapi
    import polars as pl

    def load() -> Any:
        with dbapi.connect(path) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return pl.from_arrow(cur.fetch_arrow_table())

    return load


PHASES: dict[str, float] = {}


def psycopg_rows(url: str, sql: str) -> Callable[[], Any]:
    import polars as pl
    import psycopg

    def load() -> Any:
        t = time.perf_counter()
        with psycopg.connect(url) as conn, conn.cursor(binary=True) as cur:
            cur.execute(sql)
            rows = cur.fetchall()
            cols = [d.name for d in cur.description]
        PHASES["fetch"] = time.perf_counter() - t
        return pl.DataFrame(rows, schema=cols, orient="row")

    return load


def asyncpg_rows(url: str, sql: str) -> Callable[[], Any]:
    import asyncio

    import asyncpg
    import polars as pl

    async def fetch() -> Any:
        conn = await asyncpg.connect(url)
        try:
            stmt = await conn.prepare(sql)
            return [a.name for a in stmt.get_attributes()], await stmt.fetch()
        finally:
            await conn.close()

    def load() -> Any:
        t = time.perf_counter()
        cols, recs = asyncio.run(fetch())
        PHASES["fetch"] = time.perf_counter() - t
        return pl.DataFrame([tuple(r) for r in recs], schema=cols, orient="row")

    return load


def pandas_read_sql(url: str, sql: str) -> Callable[[], Any]:
    import pandas as pd
    import polars as pl
    import pyarrow  # noqa: F401
    import sqlalchemy

    def load() -> Any:
        t = time.perf_counter()
        engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            pdf = pd.read_sql(sql, conn)
        engine.dispose()
        PHASES["fetch"] = time.perf_counter() - t
        return pl.from_pandas(pdf)

    return load


def sqlite3_polars(path: str, sql: str) -> Callable[[], Any]:
    import sqlite3

    import polars as pl

    def load() -> Any:
        conn = sqlite3.connect(path)
        try:
            return pl.read_database(sql, connection=conn)
        finally:
            conn.close()

    return load


# ------------------------------------------------------------------ MySQL / MariaDB loaders
def _mysql_connect_args(url: str) -> dict[str, Any]:
    from urllib.parse import urlsplit

    p = urlsplit(url)
    return {"host": p.hostname, "port": p.port or 3306, "user": p.username or "root",
            "password": p.password or "", "database": p.path.lstrip("/")}


def mysql_read_database(driver: str) -> Callable[[str, str], Callable[[], Any]]:
    """pl.read_database over a DB-API connection of `driver` (mysql.connector)."""

    def setup(url: str, sql: str) -> Callable[[], Any]:
        import importlib

        import polars as pl

        module = importlib.import_module(driver)
        args = _mysql_connect_args(url)

        def load() -> Any:
            conn = module.connect(**args)
            try:
                return pl.read_database(sql, connection=conn)
            finally:
                conn.close()

        return load

    return setup


def mysql_read_database_sqlalchemy(url: str, sql: str) -> Callable[[], Any]:
    # Polars does not take a raw PyMySQL connection; through SQLAlchemy it does.
    import polars as pl
    import sqlalchemy

    def load() -> Any:
        engine = sqlalchemy.create_engine(url.replace("mysql://", "mysql+pymysql://"))
        try:
            with engine.connect() as conn:
                return pl.read_database(sql, connection=conn)
        finally:
            engine.dispose()

    return load


def mysql_pandas(url: str, sql: str) -> Callable[[], Any]:
    import pandas as pd
    import polars as pl
    import pyarrow  # noqa: F401
    import sqlalchemy

    def load() -> Any:
        engine = sqlalchemy.create_engine(url.replace("mysql://", "mysql+pymysql://"))
        with engine.connect() as conn:
            pdf = pd.read_sql(sql, conn)
        engine.dispose()
        return pl.from_pandas(pdf)

    return load


def mysql_url_for_connectorx(url: str) -> str:
    # ConnectorX wants a password field, even an empty one (mysql://root:@host/db).
    from urllib.parse import urlsplit, urlunsplit

    p = urlsplit(url)
    if p.password is None:
        netloc = f"{p.username or 'root'}:@{p.hostname}:{p.port or 3306}"
        return urlunsplit(p._replace(netloc=netloc))
    return url


MYSQL: dict[str, tuple[Callable, str]] = {
    "db-pool": (dbpool(), "pool.query -> polars (binary protocol)"),
    "db-pool p2": (dbpool(2), "pool.query(partition_on='l_orderkey', partitions=2)"),
    "connectorx arrow": (connectorx("arrow"), "cx.read_sql(mysql://, return_type='arrow') + pl.from_arrow"),
    "connectorx polars": (connectorx("polars"), "cx.read_sql(mysql://, return_type='polars')"),
    "connectorx polars p2": (connectorx("polars", 2), "partition_on='l_orderkey', partition_num=2"),
    "pymysql + polars": (mysql_read_database_sqlalchemy, "pl.read_database(SQLAlchemy + PyMySQL connection)"),
    "mysql-connector + polars": (mysql_read_database("mysql.connector"),
                                 "pl.read_database(mysql-connector-python connection, C extension)"),
    "pandas": (mysql_pandas, "pandas.read_sql (SQLAlchemy + PyMySQL) + pl.from_pandas"),
}
ROW_BASED_MYSQL = {"pymysql + polars", "mysql-connector + polars", "pandas"}


def mysql_source(loader: str, rows: int) -> tuple[str, str]:
    from common import bench_mysql_url

    url = bench_mysql_url()
    if loader.startswith("connectorx"):
        url = mysql_url_for_connectorx(url)
    return url, f"SELECT * FROM {table_for(rows)}"


# ------------------------------------------------------------------ registry
# name -> (setup, description)
PG: dict[str, tuple[Callable, str]] = {
    "db-pool": (dbpool(), "pool.query -> polars"),
    "db-pool p2": (dbpool(2), "pool.query(partition_on='l_orderkey', partitions=2)"),
    "db-pool $1 param": (dbpool(param=True), "same rows via WHERE l_orderkey >= $1 (db-pool only)"),
    "db-pool rows": (
        dbpool(options={"bulk_protocol": "rows"}),
        "pool.query with bulk_protocol='rows' (single-row mode instead of COPY)",
    ),
    "connectorx arrow": (connectorx("arrow"), "cx.read_sql(return_type='arrow') + pl.from_arrow"),
    "connectorx polars": (connectorx("polars"), "cx.read_sql(return_type='polars')"),
    "connectorx arrow p2": (connectorx("arrow", 2), "partition_on='l_orderkey', partition_num=2"),
    "connectorx polars p2": (connectorx("polars", 2), "partition_on='l_orderkey', partition_num=2"),
    "adbc polars": (adbc_polars, "pl.read_database_uri(engine='adbc')"),
    "adbc cursor": (
        adbc_pg_cursor,
        "adbc_driver_postgresql cursor.fetch_arrow_table + pl.from_arrow",
    ),
    "psycopg": (psycopg_rows, "psycopg 3 binary cursor fetchall + pl.DataFrame(rows)"),
    "asyncpg": (asyncpg_rows, "asyncpg fetch + pl.DataFrame(rows)"),
    "pandas": (pandas_read_sql, "pandas.read_sql (SQLAlchemy + psycopg) + pl.from_pandas"),
    "libpq COPY sink": (None, "C++ libpq COPY (FORMAT binary) received and discarded: the limit"),
}
SQLITE: dict[str, tuple[Callable, str]] = {
    "db-pool": (dbpool(), "pool.query -> polars"),
    "adbc sqlite": (adbc_sqlite, "adbc_driver_sqlite cursor.fetch_arrow_table + pl.from_arrow"),
    "sqlite3 + polars": (sqlite3_polars, "pl.read_database(sqlite3 connection)"),
    "connectorx": (connectorx("polars"), "cx.read_sql(sqlite://, return_type='polars')"),
    "db-pool (REAL cast)": (dbpool(), "same query as 'connectorx (REAL cast)'"),
    "connectorx (REAL cast)": (connectorx("polars"), "numerics CAST AS REAL in the SQL"),
    "adbc sqlite (REAL cast)": (adbc_sqlite, "same query as 'connectorx (REAL cast)'"),
}


def source(db: str, loader: str, rows: int) -> tuple[str, str]:
    """(url or path as the loader takes it, sql)."""
    if db == "pg":
        return bench_pg_url(), f"SELECT * FROM {table_for(rows)}"
    path = str(sqlite_path(rows))
    sql = SQLITE_CAST_SQL if "REAL cast" in loader else "SELECT * FROM lineitem"
    if loader.startswith("db-pool") or loader.startswith("connectorx"):
        return "sqlite://" + path, sql
    return path, sql


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def loaders_of(db: str) -> dict[str, tuple[Callable, str]]:
    return {"pg": PG, "sqlite": SQLITE, "mysql": MYSQL}[db]


def workload_key(db: str, rows: int) -> str:
    return f"{ {'pg': 'PostgreSQL', 'sqlite': 'SQLite', 'mysql': 'MySQL'}[db]} {label(rows)}"


def buffers_mb(df: Any) -> float | None:
    """Bytes of the buffers the frame holds (each buffer once). estimated_size() counts a
    string column's bytes only, not its 16-byte views (or 8-byte offsets), so it understates
    string-heavy frames; this is what is actually resident. Measured after the peak."""
    try:
        import polars as pl

        table = df.to_arrow(compat_level=pl.CompatLevel.newest())
        return table.get_total_buffer_size() / 2**20
    except Exception:  # noqa: BLE001 - a diagnostic only
        return None


def child(db: str, loader: str, rows: int) -> None:
    setup = loaders_of(db)[loader][0]
    where, sql = mysql_source(loader, rows) if db == "mysql" else source(db, loader, rows)
    load = setup(where, sql)
    base = maxrss_mb()
    c0, t0 = cpu_s(), time.perf_counter()
    df = load()
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    peak = maxrss_mb()
    out = {
        "wall": wall,
        "cpu": cpu,
        "rss_base_mb": base,
        "rss_peak_mb": peak,
        "rows": df.height,
        "sum_orderkey": int(df["l_orderkey"].sum()),
        "n_shipmode": df["l_shipmode"].n_unique(),
        "arrow_mb": df.estimated_size() / 2**20,
        "buffers_mb": buffers_mb(df),
        "dtypes": {c: str(t) for c, t in zip(df.columns, df.dtypes, strict=True)},
        "phases": PHASES,
    }
    print(json.dumps(out))


# ------------------------------------------------------------------ parent
def run_one(db: str, loader: str, rows: int, timeout: float) -> dict[str, Any]:
    if loader == "libpq COPY sink":
        cmd = [str(SINK), bench_pg_url(), f"SELECT * FROM {table_for(rows)}"]
    else:
        cmd = [sys.executable, str(BENCH / "loaders.py"), "child", db, loader, str(rows)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        return {"error": f"exit {proc.returncode}: " + (lines[-1] if lines else "no message")[:300]}
    res = json.loads(out.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("child")
    c.add_argument("db")
    c.add_argument("loader")
    c.add_argument("rows", type=int)
    r = sub.add_parser("run")
    r.add_argument("--sizes", default="1000000,5000000")
    r.add_argument("--sqlite-rows", type=int, default=1_000_000)
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--only", default="", help="comma-separated loader ids (default all)")
    r.add_argument(
        "--row-loaders-max",
        type=int,
        default=1_000_000,
        help="largest PostgreSQL size for the row-at-a-time loaders (psycopg, asyncpg, pandas)",
    )
    r.add_argument("--mysql-rows", type=int, default=1_000_000, help="MariaDB lineitem size (0: none)")
    r.add_argument("--timeout", type=float, default=900)
    r.add_argument("--out", default=str(OUT_DIR / "loaders.json"))
    a = ap.parse_args()
    if a.cmd == "child":
        return child(a.db, a.loader, a.rows)

    only = {s.strip() for s in a.only.split(",") if s.strip()}
    cases: list[tuple[str, int, str]] = []
    for n in [int(s) for s in a.sizes.split(",") if s]:
        cases += [("pg", n, name) for name in PG if not only or name in only]
    if a.sqlite_rows:
        cases += [("sqlite", a.sqlite_rows, name) for name in SQLITE if not only or name in only]
    if a.mysql_rows:
        cases += [("mysql", a.mysql_rows, name) for name in MYSQL if not only or name in only]
    results: dict[str, Any] = {"runs": a.runs, "loadavg_start": os.getloadavg(), "workloads": {}}
    skipped = {}
    for db, n, name in cases:
        key = workload_key(db, n)
        wl = results["workloads"].setdefault(key, {"db": db, "rows": n, "loaders": {}})
        desc = loaders_of(db)[name][1]
        entry = wl["loaders"].setdefault(name, {"description": desc, "runs": []})
        row_based = (db == "pg" and name in ROW_BASED) or (db == "mysql" and name in ROW_BASED_MYSQL)
        if row_based and n > a.row_loaders_max:
            entry["skipped"] = (
                f"row-at-a-time loader not run above {label(a.row_loaders_max)} rows "
                "(--row-loaders-max): minutes per run and GBs of Python objects"
            )
            skipped[(db, n, name)] = True
    # Interleave: run k of every loader before run k+1 of any, so load spikes spread out.
    for k in range(a.runs):
        for db, n, name in cases:
            if (db, n, name) in skipped:
                continue
            key = workload_key(db, n)
            entry = results["workloads"][key]["loaders"][name]
            if k > 0 and entry["runs"] and "error" in entry["runs"][-1]:
                continue  # a loader that failed once is not retried
            res = run_one(db, name, n, a.timeout)
            entry["runs"].append(res)
            msg = res.get("error") or (
                f"wall {res['wall']:.2f} s cpu {res['cpu']:.2f} s "
                f"rss {res['rss_peak_mb']:.0f} MB rows {res['rows']}"
            )
            log(f"run {k + 1}/{a.runs} {key:15} {name:22} {msg}")
            results["loadavg_end"] = os.getloadavg()
            os.makedirs(os.path.dirname(a.out), exist_ok=True)
            with open(a.out, "w") as f:
                json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
