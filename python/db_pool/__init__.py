"""db-pool: asynchronous multi-database connection pool; results as Polars DataFrames."""

from .errors import (
    ConfigError,
    ConnectionError,
    DataConversionError,
    DbPoolError,
    PoolClosedError,
    PoolNotFoundError,
    PoolTimeoutError,
    QueryError,
)
from .pool import DatabasePool, Transaction

__version__ = "0.1.0"

__all__ = [
    "DatabasePool",
    "Transaction",
    "DbPoolError",
    "ConnectionError",
    "QueryError",
    "ConfigError",
    "DataConversionError",
    "PoolTimeoutError",
    "PoolClosedError",
    "PoolNotFoundError",
]
