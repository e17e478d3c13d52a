"""A loopback TCP proxy for fault injection: passes traffic, blackholes it (accepts and
holds the bytes, forwards nothing: a stalled network) or resets every connection (RST).
`on_client_data` may inspect client->server bytes and return "drop_after" to forward them
and then cut the connection before the server's reply comes back. `reply_delay` holds
each server->client chunk that long (a slow link: every round trip costs at least it)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable


class FaultProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"  # "pass", "blackhole" or "reset"
        self.port = 0
        self.accepted = 0
        self.accept_times: list[float] = []
        self.on_client_data: Callable[[bytes], str | None] | None = None
        self.reply_delay = 0.0
        self._server: asyncio.AbstractServer | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.reset_all()
        if self._server is not None:
            await self._server.wait_closed()

    @staticmethod
    def _rst(writer: asyncio.StreamWriter | None) -> None:
        if writer is None:
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        writer.transport.abort()

    def reset_all(self) -> None:
        """Cuts every open connection with a TCP reset."""
        for client, upstream in list(self._pairs):
            self._rst(client)
            self._rst(upstream)
        self._pairs.clear()

    def set_mode(self, mode: str) -> None:
        assert mode in ("pass", "blackhole", "reset")
        self.mode = mode
        if mode == "reset":
            self.reset_all()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.accept_times.append(asyncio.get_running_loop().time())
        if self.mode == "reset":
            self._rst(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            self._rst(writer)  # the server is down: the client sees a reset
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        cut = asyncio.Event()

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, inspect: bool) -> None:
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    while self.mode == "blackhole":
                        await asyncio.sleep(0.05)  # hold the bytes: nothing moves
                    action = self.on_client_data(data) if inspect and self.on_client_data else None
                    if not inspect and self.reply_delay:
                        await asyncio.sleep(self.reply_delay)
                    if cut.is_set():
                        break
                    dst.write(data)
                    await dst.drain()
                    if action == "drop_after":
                        cut.set()
                        await asyncio.sleep(0.05)  # let the server get it, then cut
                        self._rst(writer)
                        self._rst(up_writer)
                        break
            except (ConnectionError, OSError):
                pass
            finally:
                self._rst(dst)

        try:
            await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))
        finally:
            self._pairs.discard(pair)
