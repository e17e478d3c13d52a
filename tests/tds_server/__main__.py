"""Runs the TDS test server: python3 tests/tds_server [--port 0] [--user U --password P].

Prints "LISTENING <port>" on stdout once it accepts connections. With --exit-on-eof it
stops when its standard input closes (the test that started it is gone).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from server import Server  # noqa: E402


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="sa")
    parser.add_argument("--password", default="dbpool_Secret1")
    parser.add_argument("--database", default="dbpool")
    parser.add_argument("--db-file", help="SQLite file (default: a temporary one)")
    parser.add_argument("--exit-on-eof", action="store_true", help="stop when stdin closes")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dbpool-tds-") as tmp:
        db_path = args.db_file or os.path.join(tmp, "data.db")
        server = Server(args.user, args.password, args.database, db_path, args.verbose)
        listener = await asyncio.start_server(server.handle, args.host, args.port)
        port = listener.sockets[0].getsockname()[1]
        print(f"LISTENING {port}", flush=True)
        stop = asyncio.Event()
        if args.exit_on_eof:
            loop = asyncio.get_running_loop()
            loop.add_reader(sys.stdin.fileno(), lambda: os.read(sys.stdin.fileno(), 4096) or stop.set())
        async with listener:
            await stop.wait()
        server.executor.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
