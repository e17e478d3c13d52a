"""Bridge between engine completions and asyncio futures, one per running event loop.

The engine pushes finished operations into a Notifier (an eventfd); the loop watches it
with add_reader and settles every finished future in one callback, so many completions
cost one wake-up. The loop is looked up at each call: a DatabasePool is not tied to the
loop it was created on.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
import weakref
from collections.abc import Callable
from typing import Any

from . import _core
from .errors import from_engine

# Engine threads stop before the interpreter tears down: no engine work runs during exit.
atexit.register(_core.shutdown)

# How long a cancelled call waits for the engine to confirm the server-side cancel (the
# connection is back in the pool by then). Past this the caller is released anyway.
_CANCEL_CONFIRM_TIMEOUT = 10.0


# Set by create_pool when a pool has leak_detection_threshold: from then on each call tells
# the engine where it was made, so leak warnings can name the caller's line.
capture_sites = False
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_site() -> str:
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return ""
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


class _LoopBridge:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.notifier = _core.Notifier()
        self.futures: dict[int, asyncio.Future[Any]] = {}
        self.wakeups = 0  # reader callbacks so far (each settles a batch of completions)
        self.completions = 0
        loop.add_reader(self.notifier.fileno(), self._drain)

    def _drain(self) -> None:
        finished = self.notifier.drain()
        self.wakeups += 1
        self.completions += len(finished)
        for op_id, ok, value in finished:
            future = self.futures.pop(op_id, None)
            if future is None or future.done():
                continue
            if ok:
                future.set_result(value)
            elif value[0] == "CancelledError":
                future.cancel(value[5])
            else:
                future.set_exception(from_engine(value))


_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBridge] = (
    weakref.WeakKeyDictionary()
)


def _bridge() -> tuple[asyncio.AbstractEventLoop, _LoopBridge]:
    loop = asyncio.get_running_loop()
    bridge = _bridges.get(loop)
    if bridge is None:
        bridge = _bridges[loop] = _LoopBridge(loop)
    return loop, bridge


def start(call: Callable[..., Any], *args: Any) -> Any:
    """Calls an engine method synchronously, mapping its errors to db_pool exceptions."""
    try:
        return call(*args)
    except _core.EngineError as error:
        raise from_engine(error.args) from None


async def run(call: Callable[..., Any], *args: Any) -> Any:
    """Starts engine operation `call(notifier, *args)` and awaits its completion.

    Cancelling the awaiting task cancels the operation in the engine (the query is
    cancelled on the server) and waits for that to finish before re-raising, so the
    connection is back in its pool when the CancelledError reaches the caller.
    """
    loop, bridge = _bridge()
    if capture_sites:
        _core.set_call_site(_caller_site())
    operation = start(call, bridge.notifier, *args)
    future = loop.create_future()
    bridge.futures[operation.id] = future
    try:
        return await future
    except asyncio.CancelledError:
        if operation.id not in bridge.futures:
            raise  # the engine itself reported the cancellation: nothing left to undo
        operation.cancel()
        confirmed = loop.create_future()
        bridge.futures[operation.id] = confirmed
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), _CANCEL_CONFIRM_TIMEOUT)
        except BaseException:  # noqa: BLE001 - the outcome no longer matters to the caller
            pass
        raise
