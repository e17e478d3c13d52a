"""A throwaway PostgreSQL server per test module (initdb/pg_ctl in a temp dir, free port),
so tests can stop, restart and kill it without touching the shared one; and a streaming
replica of one (pg_basebackup), which can be promoted."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


def _pg_bin() -> str:
    if os.environ.get("DB_POOL_PG_BIN"):
        return os.environ["DB_POOL_PG_BIN"]
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    if not dirs:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return dirs[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgInstance:
    """initdb + pg_ctl as the `postgres` OS user when running as root (PostgreSQL refuses
    root), trust authentication on 127.0.0.1, data under a temp dir removed at stop()."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="dbpool-faults-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "postgresql.log")
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            shutil.chown(self.root, user=self.user)

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, cwd="/", capture_output=True, text=True, check=check, timeout=timeout)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run(f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 100\n"
                "fsync = off\nfull_page_writes = off\n"
                # streaming replicas (make_replica): WAL for them, and connections to send it
                "wal_level = replica\nmax_wal_senders = 5\n"
            )

    def make_replica(self) -> PgInstance:
        """A streaming replica of this (running) server: pg_basebackup -R into a new data
        directory with its own port; not started."""
        replica = PgInstance()
        replica._run(f"{self.bin}/pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U",
                     "postgres", "-D", replica.data, "-R", "-X", "stream", "--no-sync", timeout=120)
        with open(os.path.join(replica.data, "postgresql.conf"), "a") as conf:
            # The copied configuration names the primary's port and socket directory: the
            # later lines win.
            conf.write(f"port = {replica.port}\nunix_socket_directories = '{replica.root}'\n"
                       "hot_standby = on\nwal_receiver_status_interval = 1\n")
        return replica

    def wait_streaming(self, replicas: int = 1, timeout: float = 30) -> None:
        """Waits until `replicas` standbys stream from this server."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if int(self.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")) >= replicas:
                return
            time.sleep(0.1)
        raise RuntimeError(f"no streaming replica after {timeout} s")

    def promote(self) -> None:
        """Makes this standby a primary (pg_promote() waits until it is one)."""
        assert self.psql("SELECT pg_promote(wait => true, wait_seconds => 30)") == "t"

    def start(self) -> None:
        self._run(f"{self.bin}/pg_ctl", "start", "-D", self.data, "-l", self.log, "-w", "-t", "30", "-s")

    def stop(self, mode: str = "fast") -> None:
        self._run(f"{self.bin}/pg_ctl", "stop", "-D", self.data, "-m", mode, "-w", "-t", "30", "-s",
                  check=False)

    def restart(self, mode: str = "fast") -> None:
        self._run(f"{self.bin}/pg_ctl", "restart", "-D", self.data, "-m", mode, "-l", self.log,
                  "-w", "-t", "30", "-s")

    def running(self) -> bool:
        return self._run(f"{self.bin}/pg_ctl", "status", "-D", self.data, check=False).returncode == 0

    def psql(self, sql: str) -> str:
        out = self._run(f"{self.bin}/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
                        "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                        "-c", sql)
        return out.stdout.strip()

    def destroy(self) -> None:
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def wait_port_closed(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.05)
