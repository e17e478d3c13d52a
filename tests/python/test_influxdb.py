"""InfluxDB through the public API: type round trips, GROUP BY into one frame, bound
parameters, chunked streaming, bulk_insert escaping and invalid rows, typed errors (syntax,
unknown database, auth, server down), cancellation, concurrency (throwaway server)."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import socket
import subprocess
import time
import uuid

import polars as pl
import pytest
from db_pool import ConfigError, ConnectionError, DataConversionError, QueryError

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
# InfluxDB's time range: math.MinInt64 + 2 .. math.MaxInt64 - 1 nanoseconds.
TIME_MIN, TIME_MAX = -(2**63) + 2, 2**63 - 2
UTC = pl.Datetime("ns", "UTC")


@pytest.fixture
async def ix(pool, influx_url):
    """A DatabasePool with pool "ix" (4 connections) on a fresh database of the throwaway
    InfluxDB, dropped at the end."""
    base, _, _ = influx_url.rpartition("/")
    db = f"py_{uuid.uuid4().hex[:10]}"
    await pool.create_pool("admin", url=base + "/", max_connections=1)
    assert await pool.execute("admin", f'CREATE DATABASE "{db}"') == 0
    await pool.create_pool("ix", url=f"{base}/{db}", max_connections=4)
    yield pool
    await pool.execute("admin", f'DROP DATABASE "{db}"')


def ns(values: list[int | None]) -> pl.Series:
    return pl.Series("time", values, dtype=pl.Int64).cast(UTC)


async def test_type_round_trips(ix):
    df = pl.DataFrame(
        {
            "time": ns([TIME_MIN, 0, 1_700_000_000_123_456_789, TIME_MAX]),
            "i": pl.Series([None, INT_MIN, INT_MAX, 42], dtype=pl.Int64),
            "f": pl.Series(
                [1.7976931348623157e308, None, -1.7976931348623157e308, 0.1], dtype=pl.Float64
            ),
            "s": pl.Series(["", "ordinary", None, "ünïcødé ✓ " + "x" * 1000], dtype=pl.String),
            "b": pl.Series([True, False, True, None], dtype=pl.Boolean),
        }
    )
    assert await ix.bulk_insert("ix", "types", df) == 4
    out = await ix.query("ix", "SELECT time, i, f, s, b FROM types")
    assert out.schema == {
        "time": UTC,
        "i": pl.Int64,
        "f": pl.Float64,
        "s": pl.String,
        "b": pl.Boolean,
    }
    assert out.to_dicts() == df.to_dicts()
    # A whole-number float stays Float64 (MessagePack keeps the type JSON would lose).
    await ix.bulk_insert("ix", "whole", pl.DataFrame({"time": ns([1]), "v": [3.0]}))
    out = await ix.query("ix", "SELECT v FROM whole")
    assert out.schema["v"] == pl.Float64 and out["v"][0] == 3.0


async def test_time_units_zones_dates_and_small_types(ix):
    df = pl.DataFrame(
        {
            "t": pl.Series([dt.datetime(2024, 1, 2, 3, 4, 5, 6)]).cast(
                pl.Datetime("us", "Europe/Paris")
            ),
            "i8": pl.Series([-5], dtype=pl.Int8),
            "u32": pl.Series([4_000_000_000], dtype=pl.UInt32),
            "f32": pl.Series([0.5], dtype=pl.Float32),
            "d": pl.Series([dt.date(2024, 1, 2)]),
        }
    )
    assert await ix.bulk_insert("ix", "units", df, time_column="t") == 1
    out = await ix.query("ix", "SELECT * FROM units")
    assert out["time"][0] == df["t"][0]  # same instant, read back in UTC
    assert out["i8"][0] == -5 and out["u32"][0] == 4_000_000_000 and out["f32"][0] == 0.5
    assert out["d"][0] == 1704153600 * 10**9  # a Date field is written as integer ns
    # Date as the time column; integer nanoseconds as the time column.
    await ix.bulk_insert(
        "ix", "dates", pl.DataFrame({"day": [dt.date(2020, 5, 17)], "v": [1]}), time_column="day"
    )
    assert (await ix.query("ix", "SELECT v FROM dates"))["time"][0] == dt.datetime(
        2020, 5, 17, tzinfo=dt.timezone.utc
    )
    await ix.bulk_insert("ix", "ints", pl.DataFrame({"time": [123], "v": [1]}))
    assert (await ix.query("ix", "SELECT v FROM ints"))["time"].cast(pl.Int64)[0] == 123


async def test_tags_and_group_by_into_one_frame(ix):
    df = pl.DataFrame(
        {
            "time": ns([1, 2, 3, 4]),
            "host": ["a", "b", "a", None],
            "region": ["eu", "us", None, "eu"],
            "load": [0.5, 1.5, 2.5, 3.5],
        }
    )
    assert await ix.bulk_insert("ix", "cpu", df, tag_columns=["host", "region"]) == 4
    out = await ix.query("ix", "SELECT load FROM cpu GROUP BY host")
    assert out.columns == ["time", "host", "load"]
    assert out.schema["host"] == pl.String
    # Series in tag order; the point without a host tag is the series host="" -> NULL.
    assert out.sort("time").select("host", "load").rows() == [
        ("a", 0.5),
        ("b", 1.5),
        ("a", 2.5),
        (None, 3.5),
    ]
    tags = await ix.query("ix", "SHOW TAG KEYS FROM cpu")
    assert sorted(tags["tagKey"].to_list()) == ["host", "region"]
    # influxd sends each series' tags in Go's random map order; the frame sorts them by
    # name, so the columns are the same however the query spells GROUP BY, every time.
    for group_by in ["host, region", "region, host"] * 4:
        both = await ix.query("ix", f"SELECT sum(load) FROM cpu GROUP BY {group_by}")
        assert both.columns == ["time", "host", "region", "sum"]
        assert both.height == 4


async def test_bound_parameters(ix):
    await ix.bulk_insert(
        "ix",
        "m",
        pl.DataFrame({"time": ns([1, 2, 3]), "host": ["a", "b", "c"], "v": [1, 2, 3]}),
        tag_columns=["host"],
    )
    out = await ix.query(
        "ix", "SELECT v FROM m WHERE host = $h AND v >= $min", {"h": "b", "min": 2}
    )
    assert out["v"].to_list() == [2]
    out = await ix.query("ix", "SELECT v FROM m WHERE v > $1 AND v < $2", [1.5, 3])
    assert out["v"].to_list() == [2]
    # A value that looks like InfluxQL stays a value.
    assert (
        await ix.query("ix", "SELECT v FROM m WHERE host = $h", {"h": "a' OR host = 'b"})
    ).height == 0
    with pytest.raises(DataConversionError, match="NULL"):
        await ix.query("ix", "SELECT v FROM m WHERE host = $h", {"h": None})


async def test_streaming_chunks(ix):
    n = 1000
    await ix.bulk_insert(
        "ix", "s", pl.DataFrame({"time": ns(list(range(n))), "v": list(range(n))}), batch_rows=128
    )
    sizes, values = [], []
    async for part in ix.stream("ix", "SELECT v FROM s", batch_rows=300):
        sizes.append(part.height)
        values.extend(part["v"].to_list())
        assert part.schema == {"time": UTC, "v": pl.Int64}
    assert sizes == [300, 300, 300, 100]
    assert values == list(range(n))
    # Leaving early returns the connection; the pool still answers.
    async for _part in ix.stream("ix", "SELECT v FROM s", batch_rows=10):
        break
    assert (await ix.query("ix", "SELECT count(v) FROM s"))["count"][0] == n


async def test_bulk_insert_escaping_round_trip(ix):
    nasty = ["a b", "c,d", "e=f", 'g"h', "i\\j", 'ü ✓ ,= "', "plain"]
    df = pl.DataFrame(
        {
            "time": ns(list(range(1, len(nasty) + 1))),
            "tag key, =": nasty,
            "field key, =": nasty,
            "n": list(range(len(nasty))),
        }
    )
    measurement = 'm e,a=s "ü"'
    assert await ix.bulk_insert(
        "ix", measurement, df, tag_columns=["tag key, ="], batch_rows=3
    ) == len(nasty)
    shown = await ix.query("ix", "SHOW MEASUREMENTS")
    assert measurement in shown["name"].to_list()
    quoted = '"' + measurement.replace("\\", "\\\\").replace('"', '\\"') + '"'
    out = await ix.query("ix", f"SELECT * FROM {quoted}")
    assert out.sort("n").select("tag key, =", "field key, =").rows() == [(v, v) for v in nasty]
    # Newlines are fine inside string fields.
    await ix.bulk_insert("ix", "nl", pl.DataFrame({"time": ns([1]), "s": ["line1\nline2\r\n"]}))
    assert (await ix.query("ix", "SELECT s FROM nl"))["s"][0] == "line1\nline2\r\n"


async def test_bulk_insert_invalid_rows_are_named(ix):
    nothing = pl.DataFrame({"time": ns([1, 2, 3]), "a": [1, 2, None], "b": ["x", None, None]})
    with pytest.raises(DataConversionError, match="row 2: no non-null field"):
        await ix.bulk_insert("ix", "bad", nothing)
    no_time = pl.DataFrame({"time": ns([1, None]), "a": [1, 2]})
    with pytest.raises(DataConversionError, match="row 1: time 'time' is NULL"):
        await ix.bulk_insert("ix", "bad", no_time)
    with pytest.raises(DataConversionError, match="row 0: field 'f' is NaN"):
        await ix.bulk_insert("ix", "bad", pl.DataFrame({"time": ns([1]), "f": [float("nan")]}))
    with pytest.raises(DataConversionError, match="row 0: tag 't' contains a newline"):
        await ix.bulk_insert(
            "ix", "bad", pl.DataFrame({"time": ns([1]), "t": ["a\nb"], "v": [1]}), tag_columns=["t"]
        )
    with pytest.raises(ConfigError, match="tag column 'nope' is not a column"):
        await ix.bulk_insert(
            "ix", "bad", pl.DataFrame({"time": ns([1]), "v": [1]}), tag_columns=["nope"]
        )
    with pytest.raises(ConfigError, match="time_column 'time' is not a column"):
        await ix.bulk_insert("ix", "bad", pl.DataFrame({"v": [1]}))
    with pytest.raises(DataConversionError, match="column 'l'.*not supported"):
        await ix.bulk_insert("ix", "bad", pl.DataFrame({"time": ns([1]), "l": [[1]]}))
    with pytest.raises(DataConversionError, match="column 'b': Arrow Binary is not supported by InfluxDB"):
        await ix.bulk_insert("ix", "bad", pl.DataFrame({"time": ns([1]), "b": [b"\x00"]}))
    # A type conflict with stored points: the server's error, naming the batch's rows.
    await ix.bulk_insert("ix", "typed", pl.DataFrame({"time": ns([1]), "v": [1]}))
    with pytest.raises(QueryError, match=r"rows 0\.\.1: .*field type conflict"):
        await ix.bulk_insert("ix", "typed", pl.DataFrame({"time": ns([2, 3]), "v": ["a", "b"]}))
    # Nothing was written by the rejected calls above.
    shown = await ix.query("ix", "SHOW MEASUREMENTS")
    assert "bad" not in shown["name"].to_list()
    # Server time when time_column=None.
    assert await ix.bulk_insert("ix", "now", pl.DataFrame({"v": [1]}), time_column=None) == 1


async def test_bulk_insert_not_supported_elsewhere(pool, tmp_path):
    await pool.create_pool("lite", url=f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(ConfigError, match="bulk_insert: not supported by sqlite"):
        await pool.bulk_insert("lite", "t", pl.DataFrame({"time": ns([1]), "v": [1]}))


async def test_errors(ix, influx_url):
    with pytest.raises(QueryError, match="error parsing query") as info:
        await ix.query("ix", "SELEC * FROM m")
    assert info.value.pool_id == "ix"
    base, _, _ = influx_url.rpartition("/")
    await ix.create_pool("nodb", url=base + "/no_such_database_py")
    with pytest.raises(QueryError, match="database not found: no_such_database_py"):
        await ix.query("nodb", "SELECT * FROM m")
    with pytest.raises(QueryError, match="database not found"):
        await ix.bulk_insert("nodb", "m", pl.DataFrame({"time": ns([1]), "v": [1]}))
    assert (await ix.query("ix", "SHOW MEASUREMENTS")).height == 0  # still usable
    # InfluxDB reports no error for an unknown measurement: an empty frame.
    empty = await ix.query("ix", "SELECT * FROM no_such_measurement")
    assert empty.height == 0 and empty.width == 0
    with pytest.raises(ConfigError, match="options.bogus"):
        await ix.create_pool("bad", url=base + "/x?bogus=1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_server_down_is_connection_error(pool):
    port = free_port()
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}") as info:
        await pool.create_pool(
            "down", url=f"influxdb://u:pw-secret@127.0.0.1:{port}/db", connect_timeout=2
        )
    assert "pw-secret" not in str(info.value)


def start_influxd(d, http_extra: str):
    """Starts an influxd of our own on free ports with data under `d`; returns (proc, port)."""
    influxd = shutil.which("influxd")
    if influxd is None:
        pytest.fail("influxd is not installed (scripts/setup_dev.sh installs influxdb)")
    http, rpc = free_port(), free_port()
    d.mkdir()
    (d / "influxdb.conf").write_text(
        f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
{http_extra}
"""
    )
    log = open(d / "influxd.log", "w")
    proc = subprocess.Popen(
        [influxd, "run", "-config", str(d / "influxdb.conf")], stdout=log, stderr=log
    )
    log.close()
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", http), timeout=0.2).close()
            return proc, http
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                stop_influxd(proc)
                pytest.fail("influxd did not start: " + (d / "influxd.log").read_text()[-2000:])
            time.sleep(0.1)


def stop_influxd(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def auth_influx(tmp_path):
    """An influxd of our own with auth-enabled on free ports."""
    proc, port = start_influxd(tmp_path / "influx", "  auth-enabled = true")
    yield port
    stop_influxd(proc)


@pytest.fixture
def tls_influx(tmp_path):
    """An influxd of our own serving HTTPS with a self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    extra = f'  https-enabled = true\n  https-certificate = "{cert}"\n  https-private-key = "{key}"'
    proc, port = start_influxd(tmp_path / "influx", extra)
    yield port, cert
    stop_influxd(proc)


async def test_tls(pool, tls_influx):
    port, cert = tls_influx
    await pool.create_pool("tls", url=f"influxdbs://127.0.0.1:{port}/", ssl_ca_certs=str(cert))
    await pool.execute("tls", "CREATE DATABASE tlsdb")
    await pool.create_pool(
        "tlsdb", url=f"influxdbs://127.0.0.1:{port}/tlsdb", ssl_ca_certs=str(cert)
    )
    assert await pool.bulk_insert("tlsdb", "m", pl.DataFrame({"time": ns([1]), "v": ["x"]})) == 1
    assert (await pool.query("tlsdb", "SELECT v FROM m"))["v"].to_list() == ["x"]
    # The system CAs do not know the self-signed certificate: refused unless told not to check.
    with pytest.raises(ConnectionError, match="certificate"):
        await pool.create_pool("untrusted", url=f"influxdbs://127.0.0.1:{port}/tlsdb")
    await pool.create_pool("unchecked", url=f"influxdbs://127.0.0.1:{port}/tlsdb?ssl_verify=false")
    assert (await pool.query("unchecked", "SELECT v FROM m")).height == 1
    # Plain HTTP against the HTTPS port is a ConnectionError, not a hang.
    with pytest.raises(ConnectionError):
        await pool.create_pool("plain", url=f"influxdb://127.0.0.1:{port}/tlsdb", connect_timeout=3)


async def test_auth(pool, auth_influx):
    port = auth_influx
    # With no user yet, InfluxDB lets the first admin be created without credentials.
    await pool.create_pool("setup", url=f"influxdb://127.0.0.1:{port}/")
    await pool.execute("setup", "CREATE USER admin WITH PASSWORD 's3cret!' WITH ALL PRIVILEGES")
    await pool.create_pool("ok", url=f"influxdb://admin:s3cret%21@127.0.0.1:{port}/authdb")
    await pool.execute("ok", "CREATE DATABASE authdb")
    assert await pool.bulk_insert("ok", "m", pl.DataFrame({"time": ns([1]), "v": [7]})) == 1
    assert (await pool.query("ok", "SELECT v FROM m"))["v"].to_list() == [7]
    assert "s3cret" not in str(pool.get_pool_status("ok"))
    with pytest.raises(ConnectionError, match="HTTP 401") as info:
        await pool.create_pool("bad", url=f"influxdb://admin:wrong-pw@127.0.0.1:{port}/authdb")
    assert "wrong-pw" not in str(info.value)
    with pytest.raises(ConnectionError, match="HTTP 401") as info:
        await pool.create_pool("tok", url=f"influxdb://127.0.0.1:{port}/authdb", token="tok-secret")
    assert "tok-secret" not in str(info.value)
    # No credentials: the query itself is refused.
    with pytest.raises(ConnectionError, match="HTTP 401"):
        await pool.query("setup", "SHOW DATABASES")


async def test_cancel_slow_query(ix):
    await ix.bulk_insert("ix", "slow", pl.DataFrame({"time": ns([0, 10**13]), "v": [1.0, 2.0]}))
    # 10^10 one-microsecond buckets with fill(0): the server works for a very long time.
    sql = "SELECT count(v) FROM slow WHERE time >= 0 AND time <= 10000s GROUP BY time(1u) fill(0)"
    task = asyncio.create_task(ix.query("ix", sql))
    await asyncio.sleep(0.5)
    start = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - start < 1.0
    # The server stopped it (the HTTP connection was closed): it leaves SHOW QUERIES.
    deadline = time.monotonic() + 5
    while True:
        running = await ix.query("ix", "SHOW QUERIES")
        if not any("GROUP BY time(1u)" in q for q in running["query"].to_list()):
            break
        assert time.monotonic() < deadline, running
        await asyncio.sleep(0.1)
    assert (await ix.query("ix", "SELECT count(v) FROM slow"))["count"][0] == 2


async def test_200_concurrent_tasks_on_4_connections(ix):
    await ix.bulk_insert(
        "ix", "c", pl.DataFrame({"time": ns(list(range(200))), "v": list(range(200))})
    )

    async def one(i: int) -> int:
        out = await ix.query("ix", "SELECT v FROM c WHERE v = $v", {"v": i})
        return out["v"][0]

    assert await asyncio.gather(*(one(i) for i in range(200))) == list(range(200))
    status = ix.get_pool_status("ix")
    assert status["size"] <= 4 and status["in_use"] == 0
