"""Fallback strategies: create_pool(retry=..., circuit_breaker=..., failover=..., degradation=...)
and the pool groups of create_group; the engine applies them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class RetryWithBackoff:
    """Retries a failed call while that is safe: nothing was sent yet; a query() (assumed
    read-only, autocommit); a whole execute_transaction() on serialization failure or
    deadlock (40001, 40P01) or lost before COMMIT; any call marked ``idempotent=True``.
    A write lost after it was sent raises UnknownOutcomeError instead.

    Waits ``base_delay * 2**(n-1)`` seconds (at most ``max_delay``) before retry n, minus a
    random fraction of up to ``jitter`` of it."""

    max_attempts: int = 3
    base_delay: float = 0.05
    max_delay: float = 2.0
    jitter: float = 0.2


@dataclass(frozen=True)
class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive connection-level failures (lost
    connections, unreachable server, timeouts; not query errors): calls then raise
    CircuitOpenError at once, without touching the database, for ``recovery_timeout``
    seconds. Then ``half_open_probes`` calls are let through, each bounded by
    ``probe_timeout``; when they all succeed the breaker closes, a failed one re-opens it."""

    failure_threshold: int = 5
    recovery_timeout: float = 30.0
    half_open_probes: int = 1
    probe_timeout: float = 5.0


def _fields(value: Any, cls: type, prefix: str, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, cls):
        items = asdict(value)
    elif isinstance(value, Mapping):
        known = set(cls.__dataclass_fields__)
        unknown = sorted(str(k) for k in value if k not in known)
        if unknown:
            raise ConfigError(f"{name}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        items = dict(asdict(cls()), **value)
    else:
        raise ConfigError(f"{name}: expected {cls.__name__}(...) or a dict, not {type(value).__name__}")
    return {prefix + key: item for key, item in items.items()}


def strategy_fields(retry: Any, circuit_breaker: Any) -> dict[str, Any]:
    """The create_pool keys for the given strategies (retry_max_attempts=..., breaker_...)."""
    return {
        **_fields(retry, RetryWithBackoff, "retry_", "retry"),
        **_fields(circuit_breaker, CircuitBreaker, "breaker_", "circuit_breaker"),
    }


# --- pool groups (create_pool(failover=...), create_group) and GracefulDegradation ---

_ALGORITHMS = ("round_robin", "least_connections", "random", "weighted")


@dataclass(frozen=True)
class Failover:
    """Calls go to the pool itself while it is up, else to the first backup that is up
    (``backup_pools``: ids of pools created before). A member that fails
    ``switch_threshold`` calls in a row (lost connection, unreachable, breaker open, a
    read that timed out; not query errors), or whose HealthMonitor cannot connect, is
    banned for ``ban_time`` seconds and then probed in the background until it answers.
    When every member is banned, all are tried in order."""

    backup_pools: Sequence[str] = ()
    switch_threshold: int = 1
    ban_time: float = 5.0


@dataclass(frozen=True)
class ActiveStandby:
    """The ADR's active/standby pair as a pool group (``create_group``): ``primary``
    takes the calls until it fails ``switch_threshold`` calls in a row, then ``backup``
    does until a probe finds the primary up again (banned ``ban_time`` s, then probed)."""

    primary: str
    backup: str
    switch_threshold: int = 1
    ban_time: float = 5.0


@dataclass(frozen=True)
class LoadBalanced:
    """Spreads calls over ``pools`` by ``algorithm``: ``round_robin``, ``least_connections``
    (fewest calls running now), ``random``, or ``weighted`` (``weights``: one whole number
    per pool; weights 3, 1 send exactly 3 of every 4 calls to the first). Banning as in
    Failover; a call whose member is unavailable moves on to the next member."""

    pools: Sequence[str]
    algorithm: str = "round_robin"
    weights: Sequence[int] | None = None
    switch_threshold: int = 1
    ban_time: float = 5.0


@dataclass(frozen=True)
class GracefulDegradation:
    """With the primary down: ``read_only_mode`` lets reads (query, query_arrow, stream) go
    on to the backups while writes (execute*, bulk_insert, transactions) fail at once with
    ReadOnlyModeError; ``cache_fallback`` answers a query() that no member can serve with
    the last successful result of the same SQL and parameters (at most ``cache_size``
    results are kept, least recently used dropped first)."""

    read_only_mode: bool = False
    cache_fallback: bool = False
    cache_size: int = 1000


def _seq(value: Any, field: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"{field}: expected a list of pool ids, not {type(value).__name__}")
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(f"{field}: every pool id must be a str, not {type(item).__name__}")
    return list(value)


def group_fields(strategy: Any, pool_id: str | None, degradation: GracefulDegradation | None) -> dict[str, str]:
    """Engine keys of a pool group: members[N], strategy, algorithm, weights[N], ...
    ``pool_id`` is the pool a Failover is attached to (its first member)."""
    if isinstance(strategy, Failover):
        if pool_id is None:
            raise ConfigError("strategy: Failover belongs on create_pool(failover=...); use ActiveStandby or LoadBalanced here")
        members, kind = [pool_id, *_seq(strategy.backup_pools, "backup_pools")], "failover"
    elif isinstance(strategy, ActiveStandby):
        members, kind = [strategy.primary, strategy.backup], "active_standby"
    elif isinstance(strategy, LoadBalanced):
        members, kind = _seq(strategy.pools, "pools"), "load_balanced"
        if strategy.algorithm not in _ALGORITHMS:
            raise ConfigError(f"algorithm: expected one of {', '.join(_ALGORITHMS)}, got {strategy.algorithm!r}")
    else:
        raise ConfigError(f"strategy: expected Failover, ActiveStandby or LoadBalanced, not {type(strategy).__name__}")
    values = {"strategy": kind, "switch_threshold": str(strategy.switch_threshold), "ban_time": str(strategy.ban_time)}
    values.update({f"members[{i}]": m for i, m in enumerate(members)})
    if isinstance(strategy, LoadBalanced):
        values["algorithm"] = strategy.algorithm
        for i, w in enumerate(strategy.weights or ()):
            if isinstance(w, bool) or not isinstance(w, int):
                raise ConfigError(f"weights[{i}]: expected a whole number >= 1, got {w!r}")
            values[f"weights[{i}]"] = str(w)
        if strategy.algorithm == "weighted" and not strategy.weights:
            raise ConfigError("weights: algorithm='weighted' needs one weight per pool")
    if degradation is not None and degradation.read_only_mode:
        values["read_only_mode"] = "true"
    return values


def check_degradation(value: Any) -> GracefulDegradation | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        try:
            value = GracefulDegradation(**value)
        except TypeError as error:
            raise ConfigError(f"degradation: {error}") from None
    if not isinstance(value, GracefulDegradation):
        raise ConfigError(f"degradation: expected GracefulDegradation(...), not {type(value).__name__}")
    if isinstance(value.cache_size, bool) or not isinstance(value.cache_size, int) or value.cache_size < 1:
        raise ConfigError(f"degradation.cache_size: must be a whole number >= 1, got {value.cache_size!r}")
    return value
