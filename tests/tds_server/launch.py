"""Starts the TDS test server as a subprocess for tests: `with TdsServer() as server:` gives
server.port and server.url; the server also exits when the test process dies (its stdin
closes)."""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
USER = "sa"
PASSWORD = "dbpool_Secret1"
DATABASE = "dbpool"


class TdsServer:
    def __init__(self, *args: str) -> None:
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"mssql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> TdsServer:
        self.proc = subprocess.Popen(
            [sys.executable, HERE, "--port", "0", "--exit-on-eof", *self.args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError(f"the TDS test server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> TdsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
