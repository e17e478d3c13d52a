"""Exception classes of db-pool, shared by every database; raised by DatabasePool calls."""

from __future__ import annotations

import builtins


class DbPoolError(Exception):
    """Base class. Carries the pool id, the SQLSTATE / vendor code and the database's message."""

    def __init__(
        self,
        message: str,
        *,
        pool_id: str | None = None,
        sqlstate: str | None = None,
        vendor_code: int | None = None,
        db_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.pool_id = pool_id
        self.sqlstate = sqlstate
        self.vendor_code = vendor_code
        self.db_message = db_message if db_message is not None else message


class ConnectionError(DbPoolError, builtins.ConnectionError):  # noqa: A001 - the seed's name
    """Could not connect, or the connection broke while in use."""


class QueryError(DbPoolError):
    """The database rejected the statement (see sqlstate)."""


class ConfigError(DbPoolError, ValueError):
    """Invalid configuration; the message names the field and the reason."""


class DataConversionError(DbPoolError):
    """A value could not be converted to its Arrow column type; the message names the column."""


class PoolTimeoutError(DbPoolError, TimeoutError):
    """No connection became free within acquire_timeout; the message gives the pool's counts."""


class PoolClosedError(DbPoolError):
    """The pool, or the DatabasePool, is closed."""


class UnknownOutcomeError(ConnectionError):
    """A write (or a COMMIT) was sent and then the connection was lost: it may or may not
    have taken effect, so it was not retried. Pass ``idempotent=True`` to allow retries."""


class CircuitOpenError(DbPoolError):
    """The pool's circuit breaker is open: the call failed at once, without touching the
    database; the message says when the next probe is let through."""


class QueryTimeoutError(DbPoolError, TimeoutError):
    """The call did not finish within query_timeout (or a half-open probe's
    probe_timeout); its connection was dropped."""


class ReadOnlyModeError(ConnectionError):
    """A write to a pool group in read-only mode (GracefulDegradation(read_only_mode=True))
    while its primary is down: refused at once, without touching a backup. Names the group
    and the primary."""


class PoolNotFoundError(DbPoolError, KeyError):
    """No pool with that id."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


_BY_KIND: dict[str, type[DbPoolError]] = {
    cls.__name__: cls
    for cls in (
        ConnectionError,
        QueryError,
        ConfigError,
        DataConversionError,
        PoolTimeoutError,
        PoolClosedError,
        PoolNotFoundError,
        UnknownOutcomeError,
        CircuitOpenError,
        QueryTimeoutError,
        ReadOnlyModeError,
    )
}


def from_engine(info: tuple) -> BaseException:
    """Builds the exception for an engine error tuple (kind, message, sqlstate, code, pool, text)."""
    kind, message, sqlstate, vendor_code, pool_id, text = info
    if kind == "CancelledError":
        import asyncio

        return asyncio.CancelledError(text)
    cls = _BY_KIND.get(kind, DbPoolError)
    return cls(
        text,
        pool_id=pool_id or None,
        sqlstate=sqlstate or None,
        vendor_code=vendor_code or None,
        db_message=message,
    )


__all__ = [
    "DbPoolError",
    "ConnectionError",
    "QueryError",
    "ConfigError",
    "DataConversionError",
    "PoolTimeoutError",
    "PoolClosedError",
    "PoolNotFoundError",
    "UnknownOutcomeError",
    "CircuitOpenError",
    "QueryTimeoutError",
    "ReadOnlyModeError",
]
