"""db-pool: asynchronous multi-database connection pool; results as Polars DataFrames."""

from .errors import (
    CircuitOpenError,
    ConfigError,
    ConnectionError,
    DataConversionError,
    DbPoolError,
    PoolClosedError,
    PoolNotFoundError,
    PoolTimeoutError,
    QueryError,
    QueryTimeoutError,
    ReadOnlyModeError,
    UnknownOutcomeError,
)
from .pool import DatabasePool, Transaction
from .resilience import (
    ActiveStandby,
    CircuitBreaker,
    Failover,
    GracefulDegradation,
    LoadBalanced,
    RetryWithBackoff,
)

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
    "UnknownOutcomeError",
    "CircuitOpenError",
    "QueryTimeoutError",
    "ReadOnlyModeError",
    "RetryWithBackoff",
    "CircuitBreaker",
    "Failover",
    "ActiveStandby",
    "LoadBalanced",
    "GracefulDegradation",
]
