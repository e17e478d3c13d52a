"""Streamed results: ``async for df in pool.stream(...)`` yields DataFrames of bounded size."""

from __future__ import annotations

from typing import Any

import polars as pl

from . import _bridge
from ._frames import frame


class ResultStream:
    """Async iterator over the batches of one query, each a ``polars.DataFrame``.

    At most one batch waits in the engine while you work on the current one, so memory
    stays bounded by ``batch_rows``. Leaving early (``break``, an exception, ``aclose()``
    or ``async with`` exit) ends the statement on the server and returns the connection
    clean. A query without rows yields one empty frame carrying the schema.
    """

    def __init__(self, engine: Any, pool_id: str, sql: str, params: Any, batch_rows: int) -> None:
        self._start = (engine.stream, pool_id, sql, params, batch_rows)
        self._core: Any = None
        self._done = False

    def __aiter__(self) -> ResultStream:
        return self

    async def __anext__(self) -> pl.DataFrame:
        if self._done:
            raise StopAsyncIteration
        if self._core is None:
            self._core = await _bridge.run(*self._start)
        try:
            result = await _bridge.run(self._core.next)
        except BaseException:
            await self.aclose()
            raise
        if result is None:
            await self.aclose()
            raise StopAsyncIteration
        return frame(result)

    async def aclose(self) -> None:
        """Stops the stream (idempotent)."""
        self._done = True
        if self._core is not None:
            self._core.close()

    async def __aenter__(self) -> ResultStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # An abandoned `async for` (break) never calls aclose: release the connection here.
        core = getattr(self, "_core", None)
        if core is not None:
            core.close()
