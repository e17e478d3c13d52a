"""The bounded result cache of GracefulDegradation(cache_fallback=True): the last
successful DataFrame of each (SQL, parameters), least recently used dropped first.

It lives in Python because results reach Python zero-copy and are consumed once, while a
Polars DataFrame is immutable and can be handed out again without copying."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import polars as pl

from .errors import CircuitOpenError, ConnectionError, PoolTimeoutError, QueryTimeoutError

# Errors meaning "no member could answer" (not a wrong query): the cache may answer instead.
UNAVAILABLE = (ConnectionError, PoolTimeoutError, CircuitOpenError, QueryTimeoutError)


class ResultCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self._entries: OrderedDict[tuple[str, str], pl.DataFrame] = OrderedDict()

    @staticmethod
    def key(sql: str, params: Any) -> tuple[str, str]:
        return sql, repr(params)  # params are normalised (plain values), so repr is stable

    def put(self, key: tuple[str, str], frame: pl.DataFrame) -> None:
        self._entries[key] = frame
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get(self, key: tuple[str, str]) -> pl.DataFrame | None:
        frame = self._entries.get(key)
        if frame is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        return frame

    def status(self) -> dict[str, int]:
        return {"entries": len(self._entries), "max_entries": self.max_entries, "hits": self.hits}
