"""Fallback strategies for create_pool(retry=..., circuit_breaker=...); the engine applies them."""

from __future__ import annotations

from collections.abc import Mapping
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
