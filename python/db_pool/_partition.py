"""Partitioned reads: split a query on a column's range and read the parts concurrently."""

from __future__ import annotations

import asyncio
import datetime as _dt
import decimal
from typing import Any

import polars as pl

from .errors import ConfigError

# Placeholder style per database: how the n-th (1-based) bound parameter is written.
_PLACEHOLDER = {"postgresql": lambda n: f"${n}", "sqlite": lambda n: "?", "mysql": lambda n: "?"}
_QUOTE = {"postgresql": '"', "sqlite": '"', "mysql": "`"}


def _quote(name: str, quote: str) -> str:
    return quote + name.replace(quote, quote * 2) + quote


def _parse_text_bound(text: str) -> Any:
    try:
        return decimal.Decimal(text)
    except decimal.InvalidOperation:
        pass
    try:
        if len(text) == 10:
            return _dt.date.fromisoformat(text)
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"partition_on: column must be numeric, date or timestamp, got text {text[:40]!r}"
        ) from None


def _split(lo: Any, hi: Any, parts: int) -> list[Any]:
    """parts+1 ascending boundaries from lo to hi (fewer when the range is too small)."""
    if isinstance(lo, str):
        # min()/max() can lose the column's declared type: PostgreSQL's unconstrained numeric
        # comes back as exact text, SQLite's DATE/TIMESTAMP as the ISO text it stores.
        lo, hi = _parse_text_bound(lo), _parse_text_bound(hi)
    if isinstance(lo, bool) or not isinstance(
        lo, (int, float, decimal.Decimal, _dt.date, _dt.datetime)
    ):
        raise ConfigError(
            f"partition_on: column must be numeric, date or timestamp, got {type(lo).__name__}"
        )
    if isinstance(lo, _dt.datetime):
        step = (hi - lo) / parts
        bounds = [lo + step * i for i in range(parts)] + [hi]
    elif isinstance(lo, _dt.date):
        days = (hi - lo).days
        bounds = [lo + _dt.timedelta(days=days * i // parts) for i in range(parts)] + [hi]
    elif isinstance(lo, int):
        bounds = [lo + (hi - lo) * i // parts for i in range(parts)] + [hi]
    else:
        bounds = [lo + (hi - lo) * i / parts for i in range(parts)] + [hi]
    unique: list[Any] = []
    for b in bounds:
        if not unique or b > unique[-1]:
            unique.append(b)
    return unique if len(unique) > 1 else [lo, hi]


# PostgreSQL interval columns are Duration(us) unless a value has months, then this struct
# (docs/types.md); partitions read apart may disagree, and one with months decides.
_INTERVAL_FIELDS = ["months", "days", "microseconds"]
_DAY_US = 86_400_000_000


def _is_interval(dtype: Any) -> bool:
    if isinstance(dtype, pl.List):
        dtype = dtype.inner
    return isinstance(dtype, pl.Struct) and [f.name for f in dtype.fields] == _INTERVAL_FIELDS


def _duration_as_interval(expr: pl.Expr) -> pl.Expr:
    """A Duration(us) as {months: 0, days, microseconds}: whole 24-hour days and the rest,
    both with the value's sign (PostgreSQL's justify_hours split; the partition that read
    the value no longer knows how the server split it)."""
    us = expr.dt.total_microseconds()
    days = pl.when(us < 0).then(-((-us) // _DAY_US)).otherwise(us // _DAY_US)
    parts = pl.struct(
        months=pl.lit(0, pl.Int32),
        days=days.cast(pl.Int32),
        microseconds=(us - days * _DAY_US).cast(pl.Int64),
    )
    return pl.when(expr.is_null()).then(None).otherwise(parts)


def _unify_intervals(frames: list[pl.DataFrame]) -> list[pl.DataFrame]:
    structs = {name for f in frames for name, dtype in f.schema.items() if _is_interval(dtype)}
    if not structs:
        return frames
    out = []
    for f in frames:
        fix = []
        for name in structs:
            dtype = f.schema[name]
            if dtype == pl.Duration("us"):
                fix.append(_duration_as_interval(pl.col(name)).alias(name))
            elif isinstance(dtype, pl.List) and dtype.inner == pl.Duration("us"):
                fix.append(pl.col(name).list.eval(_duration_as_interval(pl.element())).alias(name))
        out.append(f.with_columns(fix) if fix else f)
    return out


def _bind(value: Any, sep: str = " ") -> Any:
    if isinstance(value, _dt.datetime):
        # 'YYYY-MM-DD HH:MM:SS[.ffffff][+00:00]'; text-stored timestamps (SQLite) compare as
        # text, so the separator is the one the stored values use.
        return value.isoformat(sep)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


async def partitioned_query(
    pool: Any, pool_id: str, sql: str, params: Any, column: str, partitions: int
) -> pl.DataFrame:
    db_type = pool.get_pool_status(pool_id)["db_type"]
    if db_type not in _PLACEHOLDER:
        raise ConfigError(f"partition_on: not supported for {db_type} yet")
    if params is not None and not isinstance(params, (list, tuple)):
        raise ConfigError("partition_on: needs positional params (a list), not named ones")
    base = list(params or [])
    col = _quote(column, _QUOTE[db_type])
    src = f"({sql}) AS _dbpool_src"
    bounds = await pool.query(pool_id, f"SELECT min({col}) AS lo, max({col}) AS hi FROM {src}", base or None)
    lo, hi = bounds["lo"][0], bounds["hi"][0]
    if lo is None:  # no rows, or only NULLs: one plain read keeps the exact schema
        return await pool.query(pool_id, sql, params)
    sep = "T" if isinstance(lo, str) and lo[10:11] == "T" else " "
    edges = _split(lo, hi, partitions)
    ph = _PLACEHOLDER[db_type]
    first, second = ph(len(base) + 1), ph(len(base) + 2)
    queries = []
    for i in range(len(edges) - 1):
        upper = "<=" if i == len(edges) - 2 else "<"
        where = f"{col} >= {first} AND {col} {upper} {second}"
        if i == 0:
            where = f"({where}) OR {col} IS NULL"
        queries.append(
            pool.query(
                pool_id,
                f"SELECT * FROM {src} WHERE {where}",
                base + [_bind(edges[i], sep), _bind(edges[i + 1], sep)],
            )
        )
    frames = await asyncio.gather(*queries)
    return pl.concat(_unify_intervals(list(frames)), how="vertical", rechunk=False)
