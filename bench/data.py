# Builds the benchmark data: TPC-H lineitem-shaped tables in PostgreSQL (SQL-generated), SQLite and MariaDB, a small lookup table, pgbench tables.
from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from common import DATA_DIR, PG_DB, bench_pg_url, log, sqlite_path, table_for

GEN_VERSION = "4"  # bump when the generator changes: tables are rebuilt
SMALL_ROWS = 10_000
PGBENCH_SCALE = 10

# Deterministic 31-bit pseudo-random value of (i, k): PostgreSQL's built-in 64-bit hash (C speed).
RAND_FN = """
CREATE OR REPLACE FUNCTION bench_rand(i bigint, k int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT hashint8extended(i, k) & 2147483647';
"""

COMMENT_TEXT = (
    "furiously regular deposits sleep carefully ironic packages nag blithely final "
    "accounts above the quickly even requests cajole slyly bold foxes haggle fluffily "
    "pending theodolites wake against the express platelets detect quietly special "
    "instructions boost among the silent pinto beans integrate daringly unusual asymptotes"
)

COLUMNS = """
  l_orderkey bigint NOT NULL, l_partkey int NOT NULL, l_suppkey int NOT NULL,
  l_linenumber int NOT NULL, l_quantity numeric(15,2) NOT NULL,
  l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
  l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
  l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
  l_shipinstruct varchar(25) NOT NULL, l_shipmode varchar(10) NOT NULL,
  l_comment varchar(44) NOT NULL
"""

SELECT_ROWS = f"""
SELECT (i - 1) / 4 + 1, 1 + bench_rand(i, 1) % 200000, 1 + bench_rand(i, 2) % 10000,
  ((i - 1) % 4 + 1)::int, (1 + bench_rand(i, 3) % 50)::numeric(15,2),
  ((90000 + bench_rand(i, 4) % 10400000) / 100.0)::numeric(15,2),
  ((bench_rand(i, 5) % 11) / 100.0)::numeric(15,2), ((bench_rand(i, 6) % 9) / 100.0)::numeric(15,2),
  (ARRAY['R','A','N'])[1 + bench_rand(i, 7) % 3], (ARRAY['O','F'])[1 + bench_rand(i, 8) % 2],
  date '1992-01-02' + (bench_rand(i, 9) % 2526)::int,
  date '1992-01-31' + (bench_rand(i, 10) % 2466)::int,
  date '1992-01-02' + (bench_rand(i, 9) % 2526)::int + 1 + (bench_rand(i, 11) % 30)::int,
  (ARRAY['DELIVER IN PERSON','COLLECT COD','NONE','TAKE BACK RETURN'])[1 + bench_rand(i, 12) % 4],
  (ARRAY['REG AIR','AIR','RAIL','SHIP','TRUCK','MAIL','FOB'])[1 + bench_rand(i, 13) % 7],
  substr('{COMMENT_TEXT}', 1 + (bench_rand(i, 14) % 300)::int, 10 + (bench_rand(i, 15) % 34)::int)
FROM generate_series(1::bigint, {{ROWS}}) AS i
"""


def ensure_database() -> None:
    su = os.environ["DB_POOL_TEST_PG_SUPERUSER_URL"]
    with psycopg.connect(su, autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DB]).fetchone():
            log(f"creating database {PG_DB}")
            c.execute(f"CREATE DATABASE {PG_DB} OWNER dbpool")


def meta(c: psycopg.Connection, name: str) -> str | None:
    c.execute("CREATE TABLE IF NOT EXISTS bench_meta (name text PRIMARY KEY, version text)")
    row = c.execute("SELECT version FROM bench_meta WHERE name = %s", [name]).fetchone()
    return row[0] if row else None


def set_meta(c: psycopg.Connection, name: str) -> None:
    c.execute(
        "INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET version = excluded.version",
        [name, GEN_VERSION],
    )


def build_lineitem(c: psycopg.Connection, rows: int) -> None:
    table = table_for(rows)
    if meta(c, table) == GEN_VERSION:
        log(f"{table}: present")
        return
    t0 = time.perf_counter()
    c.execute(RAND_FN)
    c.execute(f"DROP TABLE IF EXISTS {table}")
    c.execute(f"CREATE TABLE {table} ({COLUMNS})")
    c.execute(f"INSERT INTO {table} " + SELECT_ROWS.replace("{ROWS}", str(rows)))
    c.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (l_orderkey, l_linenumber)")
    c.execute(f"VACUUM (ANALYZE, FREEZE) {table}")
    set_meta(c, table)
    log(f"{table}: {rows} rows built in {time.perf_counter() - t0:.1f} s")


def build_small(c: psycopg.Connection) -> None:
    if meta(c, "bench_small") == GEN_VERSION:
        return
    c.execute("DROP TABLE IF EXISTS bench_small")
    c.execute(
        "CREATE TABLE bench_small (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL, "
        "price numeric(12,2) NOT NULL, created date NOT NULL)"
    )
    c.execute(
        "INSERT INTO bench_small SELECT i, 'item-' || i, i % 97, (i % 1000) / 10.0, "
        f"date '2020-01-01' + i % 1000 FROM generate_series(1, {SMALL_ROWS}) i"
    )
    c.execute("VACUUM ANALYZE bench_small")
    set_meta(c, "bench_small")
    log("bench_small: built")


def build_pgbench(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        if meta(c, "pgbench") == GEN_VERSION:
            return
    pgbench = Path(os.environ.get("DB_POOL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin")) / "pgbench"
    subprocess.run([str(pgbench), "-i", "-q", "-s", str(PGBENCH_SCALE), url], check=True)
    with psycopg.connect(url, autocommit=True) as c:
        set_meta(c, "pgbench")
    log("pgbench tables: built")


SQLITE_DDL = (
    COLUMNS.replace("bigint", "INTEGER")
    .replace(" int ", " INTEGER ")
    .replace("numeric(15,2)", "DECIMAL(15,2)")
)


def build_sqlite(url: str, rows: int) -> None:
    path = sqlite_path(rows)
    stamp = path.with_suffix(".version")
    if path.exists() and stamp.exists() and stamp.read_text() == GEN_VERSION:
        log(f"{path.name}: present")
        return
    t0 = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    lite = sqlite3.connect(tmp)
    lite.execute(f"CREATE TABLE lineitem ({SQLITE_DDL})")
    ins = f"INSERT INTO lineitem VALUES ({','.join('?' * 16)})"
    with psycopg.connect(url) as c, c.cursor(name="dump") as cur:
        # Decimals travel as their exact text, dates as ISO text (SQLite's usual forms).
        cur.execute(f"SELECT * FROM {table_for(rows)} ORDER BY l_orderkey, l_linenumber")
        while batch := cur.fetchmany(50_000):
            lite.executemany(
                ins,
                [
                    (
                        *r[:4],
                        str(r[4]),
                        str(r[5]),
                        str(r[6]),
                        str(r[7]),
                        r[8],
                        r[9],
                        r[10].isoformat(),
                        r[11].isoformat(),
                        r[12].isoformat(),
                        *r[13:],
                    )
                    for r in batch
                ],
            )
    lite.commit()
    lite.execute("VACUUM")
    lite.close()
    tmp.rename(path)
    stamp.write_text(GEN_VERSION)
    log(f"{path.name}: built in {time.perf_counter() - t0:.1f} s")


# ------------------------------------------------------------------ MySQL / MariaDB
# The same lineitem rows in the throwaway MariaDB (services.sh), copied from PostgreSQL as CSV
# and loaded with LOAD DATA LOCAL INFILE; version kept in the table's comment.


def build_mysql(pg_url: str, rows: int) -> None:
    import pymysql

    from common import MYSQL_DB, mysql_params

    table = table_for(rows)
    params = mysql_params()
    with pymysql.connect(**params, local_infile=True, autocommit=True) as c, c.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {MYSQL_DB} CHARACTER SET utf8mb4")
        cur.execute(f"USE {MYSQL_DB}")
        cur.execute("SELECT table_comment FROM information_schema.tables WHERE table_schema = %s AND "
                    "table_name = %s", [MYSQL_DB, table])
        row = cur.fetchone()
        if row and row[0] == f"gen {GEN_VERSION}":
            log(f"MySQL {table}: present")
            return
        t0 = time.perf_counter()
        csv = DATA_DIR / f"{table}.mysql.csv"
        with psycopg.connect(pg_url) as pg, pg.cursor() as pc, open(csv, "wb") as f:
            with pc.copy(f"COPY (SELECT * FROM {table} ORDER BY l_orderkey, l_linenumber) TO STDOUT "
                         "WITH (FORMAT csv)") as copy:
                for chunk in copy:
                    f.write(chunk)
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} ({COLUMNS}, PRIMARY KEY (l_orderkey, l_linenumber)) "
                    f"ENGINE=InnoDB COMMENT='building'")
        cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} FIELDS TERMINATED BY ',' "
                    "OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\n'", [str(csv)])
        cur.execute(f"ANALYZE TABLE {table}")
        cur.execute(f"ALTER TABLE {table} COMMENT = 'gen {GEN_VERSION}'")
        csv.unlink()
        log(f"MySQL {table}: {rows} rows built in {time.perf_counter() - t0:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000000,5000000")
    ap.add_argument("--sqlite-rows", type=int, default=1_000_000)
    ap.add_argument("--mysql-rows", type=int, default=1_000_000,
                    help="lineitem rows in the throwaway MariaDB (0: none)")
    args = ap.parse_args()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    ensure_database()
    url = bench_pg_url()
    with psycopg.connect(url, autocommit=True) as c:
        sizes = {int(s) for s in args.sizes.split(",") if s} | ({args.sqlite_rows, args.mysql_rows} - {0})
        for n in sorted(sizes):
            build_lineitem(c, n)
        build_small(c)
    build_pgbench(url)
    if args.sqlite_rows:
        build_sqlite(url, args.sqlite_rows)
    if args.mysql_rows:
        build_mysql(url, args.mysql_rows)


if __name__ == "__main__":
    sys.exit(main())
