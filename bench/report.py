# Turns bench/results/*.json into a markdown report (ratios to db-pool, targets of issue 3) and a PNG plot.
from __future__ import annotations

import argparse
import json
import statistics as st
from pathlib import Path
from typing import Any

from common import OUT_DIR

REF = "db-pool"


def ok_runs(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in entry.get("runs", []) if "error" not in r]


def summary(entry: dict[str, Any]) -> dict[str, Any] | None:
    runs = ok_runs(entry)
    if not runs:
        return None
    walls = [r["wall"] for r in runs]
    return {
        "best": min(walls),
        "median": st.median(walls),
        "cpu": min(r["cpu"] for r in runs),
        "rss": st.median(r["rss_peak_mb"] for r in runs),
        "rss_load": st.median(r["rss_peak_mb"] - r["rss_base_mb"] for r in runs),
        "arrow": runs[0].get("arrow_mb"),
        "buffers": runs[0].get("buffers_mb"),
        "n": len(runs),
        "last": runs[-1],
    }


def expected_sum(rows: int) -> int:
    orders = rows // 4  # 4 line items per order, l_orderkey 1..rows/4
    return 4 * orders * (orders + 1) // 2


def check(wl: dict[str, Any], r: dict[str, Any]) -> str:
    good = r["rows"] == wl["rows"] and r["sum_orderkey"] == expected_sum(wl["rows"])
    good = good and r.get("n_shipmode", 7) in (7, None)
    return (
        "ok"
        if good
        else f"WRONG ({r['rows']} rows, sum {r['sum_orderkey']}, {r.get('n_shipmode')} modes)"
    )


def numeric_type(r: dict[str, Any]) -> str:
    t = r.get("dtypes", {}).get("l_extendedprice", "")
    if "opaque" in t:
        return "String (opaque numeric)"
    return t.replace("precision=", "").replace("scale=", "") or "-"


def fmt(x: float | None, d: int = 2) -> str:
    return "-" if x is None else f"{x:.{d}f}"


def loader_tables(data: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    md: list[str] = []
    sums: dict[str, Any] = {}
    for wname, wl in data["workloads"].items():
        rows = {name: summary(e) for name, e in wl["loaders"].items()}
        sums[wname] = rows
        ref = rows.get(REF)
        md += [
            f"### {wname} rows ({wl['rows']:,} rows, best of {data['runs']})",
            "",
            "| loader | wall best s | wall median s | time ratio | CPU s | CPU ratio | peak RSS MB | RSS over start MB | RSS ratio | numeric type | data |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for name, e in wl["loaders"].items():
            s = rows[name]
            if s is None:
                why = e.get("skipped") or next(
                    (r["error"] for r in e.get("runs", []) if "error" in r), "no run"
                )
                md.append(f"| {name} | not run: {why} |||||||||| ")
                continue

            def ratio(
                k: str, s: dict[str, Any] = s, ref: dict[str, Any] | None = ref
            ) -> float | None:
                return s[k] / ref[k] if ref and ref[k] else None

            md.append(
                f"| {'**' + name + '**' if name == REF else name} | {fmt(s['best'])} | {fmt(s['median'])} | "
                f"{fmt(ratio('best'))} | {fmt(s['cpu'])} | {fmt(ratio('cpu'))} | {s['rss']:.0f} | "
                f"{s['rss_load']:.0f} | {fmt(ratio('rss_load'))} | "
                f"{numeric_type(s['last']) if 'dtypes' in s['last'] else '(discarded)'} | {check(wl, s['last'])} |"
            )
        if ref and ref["arrow"]:
            md += [
                "",
                f"db-pool result: Arrow data {ref['arrow']:.0f} MB (DataFrame.estimated_size()); "
                f"peak RSS over the process's start {ref['rss_load']:.0f} MB = "
                f"{ref['rss_load'] / ref['arrow']:.2f}x the Arrow data "
                f"(whole-process peak {ref['rss']:.0f} MB = {ref['rss'] / ref['arrow']:.2f}x).",
            ]
            if ref.get("buffers"):
                md += [
                    "",
                    f"The frame's buffers (each once, `to_arrow().get_total_buffer_size()`: "
                    f"estimated_size() leaves out the 16-byte string views) hold "
                    f"{ref['buffers']:.0f} MB: peak RSS over start = "
                    f"{ref['rss_load'] / ref['buffers']:.2f}x that.",
                ]
        md.append("")
    md += [
        "Ratios are peer / db-pool of the best run (time, CPU) or of the median RSS over the "
        "process's start: above 1 means db-pool is faster or smaller. Wall and CPU cover connect + "
        "query + the Polars DataFrame (imports excluded); RSS is the child process's peak "
        "(ru_maxrss) minus its RSS before connecting.",
        "",
    ]
    return md, sums


def small_tables(data: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    md: list[str] = []
    sums: dict[str, Any] = {}
    for key, runs in data["cases"].items():
        good = [r for r in runs if "error" not in r]
        if good:
            med = sorted(good, key=lambda r: r["qps"])[len(good) // 2]
            sums[key] = med
        else:
            sums[key] = {"error": runs[0]["error"]}
    queries = list(dict.fromkeys(k.split(" | ")[0] for k in sums))
    for q in queries:
        md += [
            f"### `{q}` (closed loop, median of {len(next(iter(data['cases'].values())))} runs "
            f"of {data['duration']:.0f} s, pool size min(tasks, {data['pool_max']}))",
            "",
            "| tasks | library | QPS | db-pool speed-up | p50 ms | p99 ms | client CPU cores |",
            "|---:|---|---:|---:|---:|---:|---:|",
        ]
        for key, r in sums.items():
            parts = key.split(" | ")
            if parts[0] != q or len(parts) > 3:
                continue
            if "error" in r:
                md.append(f"| {parts[1]} | {parts[2]} | failed: {r['error']} |||||")
                continue
            ref = sums.get(f"{q} | {parts[1]} | {REF}", {})
            sp = ref.get("qps", 0) / r["qps"] if ref.get("qps") else None
            md.append(
                f"| {parts[1]} | {'**db-pool**' if parts[2] == REF else parts[2]} | {r['qps']:.0f} | "
                f"{fmt(sp)} | {fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} | {fmt(r['cpu_cores'])} |"
            )
        md.append("")
    rated = {k: v for k, v in sums.items() if len(k.split(" | ")) > 3}
    if rated:
        md += [
            "### Open loop at a fixed offered rate (`SELECT $1::int`, one task per request, pool of "
            f"{data['pool_max']}; latency from the request's due time)",
            "",
            "| library | offered | achieved QPS | p50 ms | p99 ms |",
            "|---|---:|---:|---:|---:|",
        ]
        for key, r in rated.items():
            p = key.split(" | ")
            if "error" in r:
                md.append(f"| {p[2]} | {p[3]} | failed: {r['error']} |||")
            else:
                md.append(
                    f"| {p[2]} | {p[3]} | {r['qps']:.0f} | {fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} |"
                )
        md.append("")
    pg = [r for r in data.get("pgbench", []) if "error" not in r]
    if pg:
        med = sorted(pg, key=lambda r: r["qps"])[len(pg) // 2]
        md += [
            f"Server-bound limit: `{med['command']}`: {med['qps']:.0f} tps, p50 "
            f"{med['p50_ms']:.2f} ms, p99 {med['p99_ms']:.2f} ms (median of {len(pg)} runs).",
            "",
        ]
        sums["pgbench"] = med
    return md, sums


def mysql_targets(ls: dict[str, Any], row: Any, r: Any) -> None:
    """MySQL/MariaDB rows of the targets table: db-pool against ConnectorX's MySQL path
    (issue 5: at least as fast)."""
    for w in [w for w in ls if w.startswith("MySQL")]:
        row(f"{w}: db-pool / connectorx polars (MySQL)", r(w, REF, "connectorx polars"), 1.0)
        row(f"{w}: db-pool p2 / connectorx polars p2 (MySQL)", r(w, "db-pool p2", "connectorx polars p2"), 1.0)
        row(f"{w}: db-pool / PyMySQL + polars", r(w, REF, "pymysql + polars"), 0.5)


def targets(ls: dict[str, Any], ss: dict[str, Any]) -> list[str]:
    out = ["| target | measured | met |", "|---|---|---|"]

    def row(
        name: str, value: float | None, limit: float, below: bool = True, unit: str = "x"
    ) -> None:
        if value is None:
            out.append(f"| {name} | not measured | - |")
            return
        met = value <= limit if below else value >= limit
        out.append(f"| {name} | {value:.2f}{unit} | {'yes' if met else '**no**'} |")

    def r(w: str, a: str, b: str, k: str = "best") -> float | None:
        x, y = ls.get(w, {}).get(a), ls.get(w, {}).get(b)
        return x[k] / y[k] if x and y else None

    for w in [w for w in ls if w.startswith("PostgreSQL")]:
        row(f"{w}: db-pool / connectorx polars, 1 partition", r(w, REF, "connectorx polars"), 0.67)
        row(
            f"{w}: db-pool p2 / connectorx polars p2",
            r(w, "db-pool p2", "connectorx polars p2"),
            0.67,
        )
        row(f"{w}: db-pool / ADBC (polars)", r(w, REF, "adbc polars"), 0.67)
        row(f"{w}: db-pool / libpq COPY receive-only", r(w, REF, "libpq COPY sink"), 1.2)
        d = ls[w].get(REF)
        row(f"{w}: db-pool RSS over start / Arrow size (estimated_size)",
            d and d["rss_load"] / d["arrow"], 1.3)
        row(f"{w}: db-pool RSS over start / frame buffers (with string views)",
            d and d.get("buffers") and d["rss_load"] / d["buffers"], 1.3)
    for w in [w for w in ls if w.startswith("SQLite")]:
        row(f"{w}: db-pool / adbc-driver-sqlite", r(w, REF, "adbc sqlite"), 0.5)
        row(f"{w}: db-pool / sqlite3 + polars", r(w, REF, "sqlite3 + polars"), 0.5)
    mysql_targets(ls, row, r)
    for q in ("SELECT $1::int", "10-row PK lookup"):
        for t in (16, 64):
            a, b = ss.get(f"{q} | {t} | {REF}", {}), ss.get(f"{q} | {t} | asyncpg", {})
            v = a["qps"] / b["qps"] if a.get("qps") and b.get("qps") else None
            row(f"`{q}`, {t} tasks: db-pool QPS / asyncpg QPS", v, 1.5, below=False)
    closed = [
        (k, v)
        for k, v in ss.items()
        if k.startswith("SELECT $1::int |") and k.endswith(f"| {REF}") and v.get("qps", 0) >= 10000
    ]
    if closed:
        k, v = min(closed, key=lambda kv: kv[1]["p99_ms"])
        out.append(
            f"| p99 < 5 ms at 10000 QPS, closed loop | {k.split(' | ')[1]} tasks: {v['qps']:.0f} QPS, "
            f"p99 {v['p99_ms']:.1f} ms | {'yes' if v['p99_ms'] < 5 else '**no**'} |"
        )
    else:
        out.append("| p99 < 5 ms at 10000 QPS, closed loop | 10000 QPS not reached | **no** |")
    rated = ss.get(f"SELECT $1::int | open | {REF} | 10000/s")
    if rated and "qps" in rated:
        sustained = rated["qps"] >= 0.95 * rated["rate"]
        out.append(
            f"| p99 < 5 ms at 10000 QPS, open loop | {rated['qps']:.0f} QPS achieved, p99 "
            f"{rated['p99_ms']:.1f} ms | {'yes' if sustained and rated['p99_ms'] < 5 else '**no**'}"
            f"{'' if sustained else ' (rate not reached)'} |"
        )
    return out


def plot(data: dict[str, Any], ls: dict[str, Any], ss: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wls = list(ls)
    fig, axes = plt.subplots(len(wls) + 1, 2, figsize=(13, 4.2 * (len(wls) + 1)))
    for i, w in enumerate(wls):
        rows = [(n, s) for n, s in ls[w].items() if s]
        names = [n for n, _ in rows][::-1]
        colors = [
            "tab:red" if n.startswith(REF) else ("tab:gray" if "sink" in n else "tab:blue")
            for n in names
        ]
        best = [s["best"] for _, s in rows][::-1]
        med = [s["median"] for _, s in rows][::-1]
        ax = axes[i][0]
        ax.barh(names, best, color=colors)
        ax.plot(med, names, "k|", markersize=12, label="median")
        ax.set_title(f"{w}: wall time (best; | = median)")
        ax.set_xlabel("seconds")
        ax = axes[i][1]
        ax.barh(names, [s["rss_load"] for _, s in rows][::-1], color=colors)
        ref = ls[w].get(REF)
        if ref and ref["arrow"]:
            ax.axvline(ref["arrow"], color="k", ls="--", lw=1, label="Arrow data size")
            ax.legend(loc="lower right")
        ax.set_title(f"{w}: peak RSS over process start")
        ax.set_xlabel("MB")
    for j, q in enumerate(("SELECT $1::int", "10-row PK lookup")):
        ax = axes[-1][j]
        libs = ["db-pool", "asyncpg", "psycopg_pool"]
        tasks = sorted(
            {
                int(k.split(" | ")[1])
                for k in ss
                if k.startswith(q + " |") and k.split(" | ")[1].isdigit()
            }
        )
        width = 0.8 / len(libs)
        for li, lib in enumerate(libs):
            vals = [ss.get(f"{q} | {t} | {lib}", {}).get("qps", 0) for t in tasks]
            ax.bar(
                [x + li * width for x in range(len(tasks))],
                vals,
                width,
                label=lib,
                color=["tab:red", "tab:blue", "tab:green"][li],
            )
        if "pgbench" in ss:
            ax.axhline(
                ss["pgbench"]["qps"], color="k", ls="--", lw=1, label="pgbench -S (16 clients)"
            )
        ax.set_xticks([x + width for x in range(len(tasks))], [f"{t} tasks" for t in tasks])
        ax.set_title(f"small queries: {q} (QPS, median)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


PACKAGES = [
    "db-pool",
    "polars",
    "connectorx",
    "adbc-driver-postgresql",
    "adbc-driver-sqlite",
    "psycopg",
    "psycopg-pool",
    "asyncpg",
    "pandas",
    "sqlalchemy",
    "pyarrow",
    "pymysql",
    "mysql-connector-python",
]


def environment(loaders: dict[str, Any], small: dict[str, Any]) -> list[str]:
    import os
    import platform
    from importlib.metadata import PackageNotFoundError, version

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in open("/proc/cpuinfo")
            if ln.startswith("model name")
        ),
        "?",
    )
    mhz = next(
        (ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("cpu MHz")),
        "?",
    )
    cpu = f"{cpu}, {float(mhz):.0f} MHz" if mhz != "?" else cpu
    mem = next(int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal"))
    try:
        import psycopg

        from common import bench_pg_url

        with psycopg.connect(bench_pg_url()) as c:
            pg = c.execute("SHOW server_version").fetchone()[0]
            sb = c.execute("SHOW shared_buffers").fetchone()[0]
        pg = f"{pg} (shared_buffers {sb}, same machine, loopback TCP)"
    except Exception as e:  # the report still renders from the JSON
        pg = f"unknown ({type(e).__name__})"

    def v(p: str) -> str:
        try:
            return version(p)
        except PackageNotFoundError:
            return "missing"

    loads = [
        f"{x['loadavg_start'][0]:.1f} -> {x['loadavg_end'][0]:.1f}"
        for x in (loaders, small)
        if x.get("loadavg_end")
    ]
    try:
        import subprocess

        git = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except OSError:
        git = "?"
    return [
        f"- db-pool built from the working tree at {git} (bench/run.sh rebuilds it each run)",
        f"- {os.cpu_count()} CPUs ({cpu}), {mem / 2**20:.1f} GiB RAM, {platform.platform()}",
        f"- PostgreSQL {pg}",
        f"- Python {platform.python_version()}; " + ", ".join(f"{p} {v(p)}" for p in PACKAGES),
        f"- 1-min load average during the runs (loaders, small queries): {'; '.join(loads) or '?'}"
        " (shared machine: other jobs were running)",
        "",
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loaders", default=str(OUT_DIR / "loaders.json"))
    ap.add_argument("--small", default=str(OUT_DIR / "small_queries.json"))
    ap.add_argument("--out", default=str(OUT_DIR / "report.md"))
    ap.add_argument("--png", default=str(OUT_DIR / "performance.png"))
    a = ap.parse_args()
    md, ls, ss = [], {}, {}
    ldata = json.loads(Path(a.loaders).read_text()) if Path(a.loaders).exists() else {}
    sdata = json.loads(Path(a.small).read_text()) if Path(a.small).exists() else {}
    md += ["## Machine", ""] + environment(ldata, sdata)
    if ldata:
        part, ls = loader_tables(ldata)
        md += ["## Bulk reads into Polars", ""] + part
    if sdata:
        part, ss = small_tables(sdata)
        md += ["## Small queries", ""] + part
    md += ["## Targets (issue 3)", ""] + targets(ls, ss) + [""]
    Path(a.out).write_text("\n".join(md))
    if ls or ss:
        plot({}, ls, ss, Path(a.png))
    print("\n".join(md))


if __name__ == "__main__":
    main()
