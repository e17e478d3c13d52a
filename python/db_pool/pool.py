"""DatabasePool: the asyncio face of the engine. Queries return Polars DataFrames."""

from __future__ import annotations

import datetime as _dt
import decimal
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from . import _bridge, _core
from ._cache import UNAVAILABLE, ResultCache
from ._frames import frame
from ._partition import partitioned_query
from ._stream import ResultStream
from .errors import ConfigError, PoolClosedError
from .resilience import check_degradation, group_fields, strategy_fields

Params = Sequence[Any] | Mapping[str, Any] | None

# Keyword arguments of create_pool that are pool/connection fields (everything else given
# as a keyword becomes a driver option, e.g. sslmode=..., busy_timeout=...).
_FIELDS = (
    "db_type",
    "host",
    "port",
    "database",
    "username",
    "password",
    "min_connections",
    "max_connections",
    "acquire_timeout",
    "connect_timeout",
    "idle_timeout",
    "max_lifetime",
    # lifecycle, health and fallback fields (docs/configuration.md)
    "health_check_interval",
    "keepalive_interval",
    "check_on_borrow",
    "check_on_borrow_idle",
    "validation_timeout",
    "leak_detection_threshold",
    "init_sql",
    "reset_session",
    "fail_fast",
    "reconnect_backoff_base",
    "reconnect_backoff_max",
    "auto_scaling",
    "scale_up_threshold",
    "scale_down_threshold",
    "query_timeout",
)


def _config_items(key: str, value: Any) -> list[tuple[str, str]]:
    """Engine key/value pairs for one option: init_sql lists become init_sql[N] keys."""
    if key == "init_sql" and isinstance(value, (list, tuple)):
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(f"init_sql: every statement must be a str, not {type(item).__name__}")
        return [(f"init_sql[{i}]", item) for i, item in enumerate(value)]
    if key in ("host", "port") and isinstance(value, (list, tuple)):
        return [(key, ",".join(str(item) for item in value))]  # PostgreSQL multi-host
    return [(key, _text(value))]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _normalise(value: Any) -> Any:
    """Turns values the engine has no binary form for into their exact text form."""
    if value is None or isinstance(value, (bool, int, float, str, bytes, bytearray, memoryview)):
        return value
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, _dt.timedelta):
        return f"{value.total_seconds()} seconds"
    return value  # the engine raises a TypeError naming the parameter


def _params(params: Params) -> Any:
    if params is None:
        return None
    if isinstance(params, Mapping):
        return {str(k): _normalise(v) for k, v in params.items()}
    if isinstance(params, (str, bytes)):
        raise TypeError("params must be a list, a tuple or a dict, not a single str/bytes")
    return [_normalise(v) for v in params]


def _statement(sql: Any, params: Params = None) -> tuple[str, Any]:
    """(sql, params) for the engine. A list or tuple of arguments instead of SQL text is a
    command for command databases (Redis: ["SET", "k", b"v"]): sent as its arguments."""
    if isinstance(sql, str):
        return sql, _params(params)
    if isinstance(sql, (list, tuple)):
        if params is not None:
            raise TypeError("a command given as a list of arguments takes no separate params")
        return "", _params(list(sql))
    raise TypeError(f"sql must be a str (or a list of command arguments), not {type(sql).__name__}")


def _batch_item(item: Any) -> tuple[str, Any]:
    """str -> SQL; list -> command arguments; (sql, params) -> SQL with bound params."""
    if (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and (item[1] is None or isinstance(item[1], (list, tuple, Mapping)))
    ):
        return _statement(item[0], item[1])
    return _statement(item)


class Transaction:
    """An open transaction on one borrowed connection (see DatabasePool.transaction)."""

    def __init__(self, core: Any) -> None:
        self._core = core

    async def query(self, sql: str, params: Params = None) -> pl.DataFrame:
        return frame(await _bridge.run(self._core.query, *_statement(sql, params)))

    async def execute(self, sql: str, params: Params = None) -> int:
        return await _bridge.run(self._core.execute, *_statement(sql, params))

    async def commit(self) -> None:
        await _bridge.run(self._core.commit)

    async def rollback(self) -> None:
        await _bridge.run(self._core.rollback)


class _TransactionContext:
    def __init__(self, pool: DatabasePool, pool_id: str) -> None:
        self._pool = pool
        self._pool_id = pool_id
        self._tx: Transaction | None = None

    async def __aenter__(self) -> Transaction:
        self._pool._check_open()
        core = await _bridge.run(self._pool._engine.begin, self._pool_id)
        self._tx = Transaction(core)
        return self._tx

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._tx is not None
        if self._tx._core.finished:
            return  # committed or rolled back explicitly inside the block
        if exc_type is None:
            await self._tx.commit()
        else:
            await self._tx.rollback()


class DatabasePool:
    """A set of named connection pools, one per database.

    Use as ``async with DatabasePool() as pool:`` or call ``await pool.close()``.
    """

    def __init__(self) -> None:
        self._engine = _core.Engine()
        self._closed = False
        self._caches: dict[str, ResultCache] = {}  # GracefulDegradation(cache_fallback=True)

    async def __aenter__(self) -> DatabasePool:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise PoolClosedError("this DatabasePool is closed")

    async def create_pool(
        self,
        pool_id: str,
        *,
        url: str | None = None,
        config: Mapping[str, Any] | None = None,
        env_prefix: str | None = None,
        retry: Any = None,
        circuit_breaker: Any = None,
        failover: Any = None,
        degradation: Any = None,
        **kwargs: Any,
    ) -> None:
        """Creates pool ``pool_id`` and opens its ``min_connections``.

        The configuration comes from ``url`` (postgresql://user:pass@host:port/db?opt=...,
        sqlite:///path/to/file.db, sqlite::memory:), a ``config`` dict, the environment
        (``env_prefix``, e.g. "DB_POOL_" reads DB_POOL_URL, DB_POOL_MAX_CONNECTIONS...) and
        keyword arguments (db_type, host, port, database, username, password,
        min_connections, max_connections, acquire_timeout, connect_timeout, idle_timeout,
        max_lifetime; durations in seconds). Later sources override earlier ones; other
        keywords are passed to the driver as options (e.g. sslmode="require").

        Lifecycle and health: health_check_interval, keepalive_interval, check_on_borrow
        ("off", "always", "after_idle") with check_on_borrow_idle, validation_timeout,
        leak_detection_threshold, init_sql (a list of statements run on each new
        connection), reset_session, fail_fast, reconnect_backoff_base/max, auto_scaling
        with scale_up_threshold/scale_down_threshold, query_timeout. Fallback strategies:
        ``retry=RetryWithBackoff(...)`` and ``circuit_breaker=CircuitBreaker(...)`` (or
        dicts of their fields). ``failover=Failover(backup_pools=[...])`` routes calls to
        ``pool_id`` over it and its backups; ``degradation=GracefulDegradation(...)`` keeps
        reads going while it is down. See docs/configuration.md.
        """
        self._check_open()
        if not isinstance(pool_id, str):
            raise ConfigError("pool_id: must be a str")
        degradation = check_degradation(degradation)
        group = None
        if failover is not None:
            group = group_fields(failover, pool_id, degradation)  # bad config: fail before I/O
        elif degradation is not None and degradation.read_only_mode:
            raise ConfigError("degradation.read_only_mode: needs backups (failover=Failover(...))")
        values: dict[str, str] = {}
        if url is not None:
            values["url"] = url
        for source in (config or {}, kwargs, strategy_fields(retry, circuit_breaker)):
            for key, value in source.items():
                if value is not None:
                    if key == "init_sql":
                        values = {k: v for k, v in values.items() if not k.startswith("init_sql")}
                    values.update(_config_items(str(key), value))
        leak = values.get("leak_detection_threshold")
        if leak is not None and leak not in ("0", "0.0"):
            _bridge.capture_sites = True  # leak warnings name the caller's line
        await _bridge.run(self._engine.create_pool, pool_id, values, env_prefix)
        if group is not None:
            try:
                _bridge.start(self._engine.create_group, pool_id, group)
            except BaseException:
                await _bridge.run(self._engine.remove_pool, pool_id, 0.0)
                raise
        self._set_cache(pool_id, degradation)

    async def create_group(self, group_id: str, strategy: Any, *, degradation: Any = None) -> None:
        """Creates pool group ``group_id`` over pools created before: ``ActiveStandby(primary,
        backup, switch_threshold)`` or ``LoadBalanced(pools, algorithm, weights)``.
        ``query``, ``execute``, ``stream``, ``transaction``... accept the group id and route
        each call to a member; ``degradation=GracefulDegradation(...)`` as for create_pool.
        ``remove_pool(group_id)`` removes the group (its pools stay)."""
        self._check_open()
        if not isinstance(group_id, str):
            raise ConfigError("pool_id: must be a str")
        degradation = check_degradation(degradation)
        _bridge.start(self._engine.create_group, group_id, group_fields(strategy, None, degradation))
        self._set_cache(group_id, degradation)

    def _set_cache(self, pool_id: str, degradation: Any) -> None:
        if degradation is not None and degradation.cache_fallback:
            self._caches[pool_id] = ResultCache(degradation.cache_size)

    async def remove_pool(self, pool_id: str, timeout: float = 30.0) -> None:
        """Closes pool ``pool_id`` (waiting up to ``timeout`` s for borrowed connections);
        a group id removes the group."""
        self._check_open()
        await _bridge.run(self._engine.remove_pool, pool_id, float(timeout))
        self._caches.pop(pool_id, None)

    async def close(self, timeout: float = 30.0) -> None:
        """Closes every pool. Later calls raise PoolClosedError."""
        if self._closed:
            return
        self._closed = True
        await _bridge.run(self._engine.close, float(timeout))

    async def query(
        self,
        pool_id: str,
        sql: str,
        params: Params = None,
        *,
        partition_on: str | None = None,
        partitions: int = 1,
    ) -> pl.DataFrame:
        """Runs ``sql`` with bound ``params`` ($1.. for PostgreSQL, ? or :name for SQLite).

        With ``partition_on`` (a numeric, date or timestamp column of the result) and
        ``partitions`` > 1, the range of that column is split into ``partitions`` parts read
        concurrently on as many pooled connections, like ConnectorX; the result has the same
        schema as the unpartitioned query.
        """
        self._check_open()
        if partition_on is not None and partitions > 1:
            return await partitioned_query(self, pool_id, sql, params, partition_on, partitions)
        statement = _statement(sql, params)
        cache = self._caches.get(pool_id)
        if cache is None:
            return frame(await _bridge.run(self._engine.query, pool_id, *statement))
        key = cache.key(*statement)
        try:
            df = frame(await _bridge.run(self._engine.query, pool_id, *statement))
        except UNAVAILABLE:
            cached = cache.get(key)
            if cached is None:
                raise
            return cached
        cache.put(key, df)
        return df

    def stream(
        self, pool_id: str, sql: str, params: Params = None, *, batch_rows: int = 65536
    ) -> ResultStream:
        """``async for df in pool.stream(pool_id, sql)``: the result as DataFrames of about
        ``batch_rows`` rows each, in memory bounded by the batch size."""
        self._check_open()
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        sql_text, bound = _statement(sql, params)
        return ResultStream(self._engine, pool_id, sql_text, bound, int(batch_rows))

    async def query_arrow(self, pool_id: str, sql: str, params: Params = None) -> Any:
        """Like query() but returns the Arrow result itself (``__arrow_c_stream__``) for
        pyarrow (``pa.table(r)``), duckdb or pandas users."""
        self._check_open()
        return await _bridge.run(self._engine.query, pool_id, *_statement(sql, params))

    async def execute(
        self, pool_id: str, sql: str, params: Params = None, *, idempotent: bool = False
    ) -> int:
        """Runs a statement and returns the number of rows it affected. ``idempotent=True``
        lets the pool's retry policy run it again after a lost connection (otherwise that
        raises UnknownOutcomeError)."""
        self._check_open()
        return await _bridge.run(
            self._engine.execute, pool_id, *_statement(sql, params), bool(idempotent)
        )

    async def bulk_insert(
        self,
        pool_id: str,
        target: str,
        df: pl.DataFrame,
        *,
        tag_columns: Sequence[str] = (),
        time_column: str | None = "time",
        batch_rows: int = 5000,
    ) -> int:
        """Writes every row of ``df`` into ``target`` and returns the rows written.

        InfluxDB: ``target`` is the measurement; ``tag_columns`` become tags, ``time_column``
        (Datetime of any unit/zone, Date, or integer nanoseconds; None = server time) the
        point's time, every other column a field. Rows go as line protocol in requests of
        ``batch_rows`` points. A NULL tag or field is left out; a row without any non-NULL
        field, a NULL or out-of-range time, NaN or infinite floats raise DataConversionError
        naming the row. The DataFrame is handed over through the Arrow C stream interface
        (no copy, no pyarrow). Drivers without bulk_insert raise ConfigError.
        """
        self._check_open()
        if isinstance(tag_columns, str):
            raise TypeError("tag_columns must be a list of column names, not a str")
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        if not hasattr(df, "__arrow_c_stream__"):
            raise TypeError(f"df must be a polars DataFrame, not {type(df).__name__}")
        return await _bridge.run(
            self._engine.bulk_insert,
            pool_id,
            target,
            df,
            [str(c) for c in tag_columns],
            "" if time_column is None else str(time_column),
            int(batch_rows),
        )

    async def execute_batch(
        self, pool_id: str, sqls: Iterable[Any], *, idempotent: bool = False
    ) -> list[pl.DataFrame]:
        """Runs the statements in order on one connection (pipelined where the database
        allows); one DataFrame each (a statement without rows gives a one-row frame with
        column ``rows_affected``). Items: SQL text, ``(sql, params)`` pairs, or lists of
        command arguments for command databases."""
        self._check_open()
        if isinstance(sqls, str):
            raise TypeError("sqls must be a list of statements, not a str")
        items = [_batch_item(item) for item in sqls]
        results = await _bridge.run(self._engine.execute_batch, pool_id, items, bool(idempotent))
        return [frame(r) for r in results]

    async def execute_transaction(
        self, pool_id: str, sqls: Iterable[str], *, idempotent: bool = False
    ) -> list[int]:
        """Runs the statements in one transaction (all or nothing); rows affected by each.
        With a retry policy the whole transaction is re-run on 40001/40P01 or when the
        connection is lost before COMMIT; lost after COMMIT was sent it raises
        UnknownOutcomeError unless ``idempotent=True``."""
        self._check_open()
        return await _bridge.run(
            self._engine.execute_transaction, pool_id, list(sqls), bool(idempotent)
        )

    def transaction(self, pool_id: str) -> _TransactionContext:
        """``async with pool.transaction(id) as tx:`` commits on success, rolls back on error."""
        return _TransactionContext(self, pool_id)

    def get_pool_status(self, pool_id: str) -> dict[str, Any]:
        """Counts of pool ``pool_id``: size, idle, in_use, waiting, pending, shared and
        shared_calls (connections multiplexed by several calls at once, and those calls), min/max, its
        URL with the password redacted, and its health: ``health`` ("unknown", "healthy",
        "unhealthy"), ``consecutive_failures``, ``last_error``, ``seconds_since_check``,
        ``connect_attempts``, ``leaks_reported``, ``circuit_breaker`` ("off", "closed",
        "open", "half_open")."""
        self._check_open()
        status = _bridge.start(self._engine.status, pool_id)
        if pool_id in self._caches:
            status["cache_fallback"] = self._caches[pool_id].status()
        return status

    def list_pools(self) -> list[str]:
        return list(self._engine.list_pools())

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"pools={self.list_pools()}"
        return f"<DatabasePool {state}>"
