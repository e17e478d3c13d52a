# Small-query QPS and p50/p99 latency for db-pool, asyncpg and psycopg_pool with 1/16/64 asyncio tasks, plus pgbench -S as the server limit.
from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

from common import BENCH, OUT_DIR, bench_pg_url, log

QUERIES = {
    # name -> (SQL with $n, number of params)
    "SELECT $1::int": "SELECT $1::int",
    "10-row PK lookup": "SELECT id, name, qty, price, created FROM bench_small WHERE id >= $1 AND id < $2",
}
LIBS = ["db-pool", "asyncpg", "psycopg_pool"]
POOL_MAX = 16


def params_for(query: str, rnd: random.Random) -> list[int]:
    k = rnd.randint(1, 9990)
    return [k] if query == "SELECT $1::int" else [k, k + 10]


async def make_client(lib: str, url: str, size: int, sql: str) -> tuple[Any, Any, Any]:
    """(run(params) coroutine function, close(), the SQL in the library's placeholder style)."""
    if lib == "db-pool":
        from db_pool import DatabasePool

        dp = DatabasePool()
        await dp.create_pool("b", url=url, min_connections=size, max_connections=size)

        async def run(p: list[int]) -> Any:
            return await dp.query("b", sql, p)

        return run, dp.close
    if lib == "asyncpg":
        import asyncpg

        pool = await asyncpg.create_pool(url, min_size=size, max_size=size)

        async def run(p: list[int]) -> Any:
            return await pool.fetch(sql, *p)

        return run, pool.close
    if lib == "psycopg_pool":
        from psycopg_pool import AsyncConnectionPool

        psql = re.sub(r"\$\d+", "%s", sql)
        pool = AsyncConnectionPool(url, min_size=size, max_size=size, open=False)
        await pool.open(wait=True)

        async def run(p: list[int]) -> Any:
            async with pool.connection() as conn:
                cur = await conn.execute(psql, p)
                return await cur.fetchall()

        return run, pool.close
    raise ValueError(lib)


async def bench(
    lib: str, query: str, tasks: int, duration: float, warmup: float, rate: float
) -> dict[str, Any]:
    """Closed loop: `tasks` tasks each send the next query when the last returns. Open loop
    (rate > 0): request k is due at k / rate and runs as its own task (a pool of POOL_MAX
    connections); its latency counts from the due time, so a client that falls behind shows it."""
    url = bench_pg_url()
    size = POOL_MAX if rate else min(tasks, POOL_MAX)
    run, close = await make_client(lib, url, size, QUERIES[query])
    lat: list[float] = []
    state = {"measure": False, "stop": False, "errors": 0}

    async def one(p: list[int], t0: float) -> None:
        try:
            await run(p)
        except Exception:
            state["errors"] += 1
            return
        if state["measure"]:
            lat.append(time.perf_counter() - t0)

    async def worker(i: int) -> None:
        rnd = random.Random(i)
        while not state["stop"]:
            await one(params_for(query, rnd), time.perf_counter())

    async def dispatcher() -> None:
        rnd, pending = random.Random(0), set()
        t_start, k = time.perf_counter(), 0
        while not state["stop"]:
            now = time.perf_counter()
            while t_start + k / rate <= now:  # launch every request that is due
                t = asyncio.create_task(one(params_for(query, rnd), t_start + k / rate))
                pending.add(t)
                t.add_done_callback(pending.discard)
                k += 1
            await asyncio.sleep(max(0.0, t_start + k / rate - time.perf_counter()))
        await asyncio.gather(*pending)

    workers = (
        [asyncio.create_task(dispatcher())]
        if rate
        else [asyncio.create_task(worker(i)) for i in range(tasks)]
    )
    await asyncio.sleep(warmup)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    m0 = time.perf_counter()
    state["measure"] = True
    await asyncio.sleep(duration)
    state["measure"] = False
    elapsed = time.perf_counter() - m0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    state["stop"] = True
    await asyncio.gather(*workers)
    await close()
    lat.sort()
    n = len(lat)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "qps": n / elapsed,
        "n": n,
        "errors": state["errors"],
        "cpu_cores": cpu / elapsed,
        "p50_ms": lat[n // 2] * 1e3 if n else None,
        "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1e3 if n else None,
        "pool_size": size,
        "rate": rate or None,
    }


def pgbench(duration: float) -> dict[str, Any]:
    exe = os.path.join(
        os.environ.get("DB_POOL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"), "pgbench"
    )
    cmd = [
        exe,
        "-n",
        "-S",
        "-M",
        "prepared",
        "-c",
        "16",
        "-j",
        "2",
        "-T",
        str(int(duration)),
        "-l",
        "--log-prefix=pgb",
        bench_pg_url(),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=True).stdout
        lat = sorted(int(ln.split()[2]) / 1e3 for f in glob.glob(f"{tmp}/pgb*") for ln in open(f))
    tps = float(re.search(r"tps = ([\d.]+) \(without initial", out).group(1))
    n = len(lat)
    return {
        "qps": tps,
        "n": n,
        "p50_ms": lat[n // 2],
        "p99_ms": lat[int(n * 0.99)],
        "command": " ".join(cmd[:-1] + ["URL"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("child")
    for arg in ("lib", "query"):
        c.add_argument(arg)
    c.add_argument("tasks", type=int)
    c.add_argument("duration", type=float)
    c.add_argument("warmup", type=float)
    c.add_argument("--rate", type=float, default=0)
    r = sub.add_parser("run")
    r.add_argument("--duration", type=float, default=5)
    r.add_argument("--warmup", type=float, default=1)
    r.add_argument("--tasks", default="1,16,64")
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--rates", default="5000,10000", help="open-loop rates (p99 target at 10000)")
    r.add_argument("--pgbench-duration", type=float, default=10)
    r.add_argument("--out", default=str(OUT_DIR / "small_queries.json"))
    a = ap.parse_args()
    if a.cmd == "child":
        print(json.dumps(asyncio.run(bench(a.lib, a.query, a.tasks, a.duration, a.warmup, a.rate))))
        return

    cases = [(lib, q, int(t), 0.0) for q in QUERIES for t in a.tasks.split(",") for lib in LIBS]
    for rate in [float(x) for x in a.rates.split(",") if x.strip()]:
        cases += [(lib, "SELECT $1::int", 0, rate) for lib in LIBS]
    results: dict[str, Any] = {
        "duration": a.duration,
        "warmup": a.warmup,
        "pool_max": POOL_MAX,
        "loadavg_start": os.getloadavg(),
        "cases": {},
    }
    for k in range(a.runs):  # interleaved: run k of every case before run k+1
        for lib, q, t, rate in cases:
            key = f"{q} | {t or 'open'} | {lib}" + (f" | {rate:.0f}/s" if rate else "")
            cmd = [
                sys.executable,
                str(BENCH / "small_queries.py"),
                "child",
                lib,
                q,
                str(t),
                str(a.duration),
                str(a.warmup),
                "--rate",
                str(rate),
            ]
            try:
                p = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=120 + a.duration * 4
                )
            except subprocess.TimeoutExpired:
                # An overloaded client (open loop far above what it sustains) is a result
                # too: recorded, and the run goes on.
                res = {"error": f"timed out after {120 + a.duration * 4:.0f} s"}
                log(f"run {k + 1} {key}: {res['error']}")
                results["cases"].setdefault(key, []).append(res)
                continue
            if p.returncode == 0:
                res = json.loads(p.stdout.strip().splitlines()[-1])
                log(
                    f"run {k + 1} {key:45} {res['qps']:8.0f} q/s p50 {res['p50_ms']:.2f} ms "
                    f"p99 {res['p99_ms']:.2f} ms cpu {res['cpu_cores']:.2f}"
                )
            else:
                res = {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:300]}
                log(f"run {k + 1} {key}: {res['error']}")
            results["cases"].setdefault(key, []).append(res)
        if a.pgbench_duration:
            try:
                res = pgbench(a.pgbench_duration)
                log(f"run {k + 1} pgbench -S: {res['qps']:.0f} tps p99 {res['p99_ms']:.2f} ms")
            except Exception as e:  # recorded, not fatal
                res = {"error": str(e)[:300]}
            results.setdefault("pgbench", []).append(res)
        results["loadavg_end"] = os.getloadavg()
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
