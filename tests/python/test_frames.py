"""Results become DataFrames through db_pool._frames: its direct Polars path must give the same frames as pl.DataFrame."""

from __future__ import annotations

import polars as pl
import pytest
from db_pool import DatabasePool, _frames
from polars.testing import assert_frame_equal

MIXED = """
SELECT 1::int4 AS i, NULL::int8 AS n, 2.5::float8 AS f, 'héllo'::text AS s,
       repeat('x', 40) AS long_s, DATE '2024-02-29' AS d, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS ts,
       12.34::numeric(10,2) AS dec, true AS b, '\\x00ff'::bytea AS raw, ARRAY[1,2]::int4[] AS arr
FROM generate_series(1, $1::int)
"""


async def test_the_direct_path_is_used_with_the_locked_polars():
    # If a Polars upgrade moves these internals, this fails instead of silently going slow.
    assert _frames._FAST, f"polars {pl.__version__}: direct Arrow stream import not found"


@pytest.mark.parametrize("rows", [0, 1, 3000])
async def test_direct_and_public_constructor_give_the_same_frame(pg_url, monkeypatch, rows):
    async with DatabasePool() as pool:
        await pool.create_pool("f", url=pg_url, max_connections=1)
        direct = await pool.query("f", MIXED, [rows])
        public = pl.DataFrame(await pool.query_arrow("f", MIXED, [rows]))
        monkeypatch.setattr(_frames, "_FAST", False)
        fallback = await pool.query("f", MIXED, [rows])
        streamed = [df async for df in pool.stream("f", MIXED, [rows], batch_rows=1000)]
    assert direct.height == rows
    assert_frame_equal(direct, public)
    assert_frame_equal(direct, fallback)
    assert_frame_equal(pl.concat(streamed), direct)
    assert direct.schema["s"] == pl.String and direct.schema["arr"] == pl.List(pl.Int32)
