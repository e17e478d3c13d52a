"""The TDS test server checked by a client we did not write (FreeTDS's own `tsql`), and its
wire format checked byte by byte with a minimal raw client (PLP chunks, ATTENTION)."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tds_server"))
from launch import DATABASE, PASSWORD, USER, TdsServer  # noqa: E402

TSQL = shutil.which("tsql")
needs_tsql = pytest.mark.skipif(
    TSQL is None and not os.environ.get("DB_POOL_TEST_REQUIRE_SERVICES"),
    reason="tsql not installed (Debian freetds-bin; scripts/setup_dev.sh installs it)",
)


@pytest.fixture(scope="module")
def server():
    with TdsServer() as s:
        yield s


def tsql(server, script: str, password: str = PASSWORD) -> str:
    assert TSQL is not None, "tsql not installed (Debian freetds-bin)"
    done = subprocess.run(
        [TSQL, "-H", "127.0.0.1", "-p", str(server.port), "-U", USER, "-P", password, "-D", DATABASE],
        input=script + "\nquit\n", capture_output=True, text=True, timeout=30,
        env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
    )
    return done.stdout + done.stderr


@needs_tsql
def test_tsql_logs_in_and_runs_a_query(server):
    out = tsql(server, "SELECT 1 AS one, N'héllo ✓' AS greeting\ngo")
    assert "one\tgreeting" in out, out
    assert "1\théllo ✓" in out, out
    assert "(1 row affected)" in out, out


@needs_tsql
def test_tsql_creates_inserts_and_reads_back_typed_columns(server):
    out = tsql(server, "\n".join([
        "DROP TABLE IF EXISTS tsql_items",
        "go",
        "CREATE TABLE tsql_items (id int PRIMARY KEY, name nvarchar(20), price decimal(10,2), "
        "day date, at datetime2(3), flag bit, raw varbinary(8))",
        "go",
        "INSERT INTO tsql_items VALUES (1, N'first', 12.50, '2024-02-29', '2024-01-02 03:04:05.678', 1, 0x0aff), "
        "(2, NULL, NULL, NULL, NULL, NULL, NULL)",
        "go",
        "SELECT id, name, price, day, at, flag, raw FROM tsql_items ORDER BY id",
        "go",
    ]))
    assert "(2 rows affected)" in out, out
    lines = out.splitlines()
    first = next(line for line in lines if line.startswith("1\t"))
    fields = first.split("\t")
    assert fields[:3] == ["1", "first", "12.50"], first
    # tsql prints dates in its own locale format ("Feb 29 2024 12:00AM").
    assert "Feb 29 2024" in fields[3] and "Jan  2 2024 03:04" in fields[4], first
    assert fields[5:] == ["1", "0aff"], first
    second = next(line for line in lines if line.startswith("2\t"))
    assert second.split("\t")[1:] == ["NULL"] * 6, second


@needs_tsql
def test_tsql_sees_server_errors_with_number_severity_and_state(server):
    out = tsql(server, "SELECT * FROM no_such_table\ngo")
    assert "Msg 208 (severity 16, state 1)" in out, out
    assert "Invalid object name 'no_such_table'" in out, out


@needs_tsql
def test_tsql_wrong_password_is_refused(server):
    out = tsql(server, "SELECT 1\ngo", password="wrong")
    assert "Login failed for user 'sa'" in out, out


# ---- the wire itself, with a minimal raw TDS client (PRELOGIN, LOGIN7, SQL batch, ATTENTION)

def _packet(ptype: int, payload: bytes) -> bytes:
    return struct.pack(">BBHHBB", ptype, 0x01, len(payload) + 8, 0, 1, 0) + payload


def _read_message(sock: socket.socket) -> list[bytes]:
    """The packets (header included) of one server message, up to the one with EOM."""
    packets = []
    while True:
        header = _recv_exactly(sock, 8)
        body = _recv_exactly(sock, struct.unpack(">H", header[2:4])[0] - 8)
        packets.append(header + body)
        if header[1] & 0x01:
            return packets


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def _login(port: int, packet_size: int = 4096) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(_packet(0x12, b"\xff"))  # PRELOGIN with no options
    reply = b"".join(p[8:] for p in _read_message(sock))
    assert reply[0] == 0x00  # first option: VERSION
    fields = [("", b""), (USER, b""), (PASSWORD, b""), ("raw", b""), ("", b""), ("", b""), ("", b""), ("", b""),
              (DATABASE, b"")]
    fixed = 94
    data = bytearray()
    offsets = bytearray()
    for i, (text, _) in enumerate(fields):
        raw = text.encode("utf-16-le")
        if i == 2:  # the password is nibble-swapped and XORed with 0xA5 ([MS-TDS] 2.2.6.4)
            raw = bytes((((b << 4) & 0xF0) | (b >> 4)) ^ 0xA5 for b in raw)
        offsets += struct.pack("<HH", fixed + len(data), len(text))
        data += raw
    head = struct.pack("<IIIIII", 0, 0x74000004, packet_size, 7, os.getpid(), 0) + bytes([0xE0, 0x03, 0, 0])
    head += struct.pack("<iI", 0, 0x409) + offsets + b"\x00" * 6 + struct.pack("<HHHHHHI", 0, 0, 0, 0, 0, 0, 0)
    assert len(head) == fixed
    login = bytearray(head + data)
    login[0:4] = struct.pack("<I", len(login))
    sock.sendall(_packet(0x10, bytes(login)))
    reply = b"".join(p[8:] for p in _read_message(sock))
    assert bytes([0xAD]) in reply, "no LOGINACK"
    return sock


def _batch(sql: str) -> bytes:
    headers = struct.pack("<IIHQI", 22, 18, 2, 0, 1)  # ALL_HEADERS: transaction descriptor
    return _packet(0x01, headers + sql.encode("utf-16-le"))


def test_plp_values_are_chunked_across_packets(server):
    text = "✓abc" * 6000  # 24000 characters: 48000 bytes of UTF-16
    sock = _login(server.port)
    try:
        sock.sendall(_batch(f"SELECT CAST(N'{text}' AS nvarchar(max)) AS v"))
        packets = _read_message(sock)
    finally:
        sock.close()
    assert len(packets) >= 10, len(packets)  # 4096-byte packets
    assert all(len(p) == 4096 for p in packets[:-1])  # every packet but the last is full
    stream = b"".join(p[8:] for p in packets)
    value = text.encode("utf-16-le")
    start = stream.index(struct.pack("<Q", len(value)))  # PLP total length, then the chunks
    pos, chunks, got = start + 8, 0, b""
    while True:
        n = struct.unpack("<I", stream[pos:pos + 4])[0]
        pos += 4
        if n == 0:
            break
        got += stream[pos:pos + n]
        pos += n
        chunks += 1
    assert got == value
    assert chunks >= 10, chunks
    # A chunk continues across a packet boundary: packets are cut by size, not by chunk.
    boundaries = {i * 4088 for i in range(1, len(packets))}
    assert any(start < b < pos for b in boundaries)


def test_attention_is_acknowledged_with_done_attn(server):
    sock = _login(server.port)
    try:
        sock.sendall(_batch("WAITFOR DELAY '00:00:05'; SELECT 1 AS x"))
        time.sleep(0.2)
        started = time.monotonic()
        sock.sendall(_packet(0x06, b""))  # ATTENTION
        stream = b"".join(p[8:] for p in _read_message(sock))
        assert time.monotonic() - started < 1.0
        token, status = stream[-13], struct.unpack("<H", stream[-12:-10])[0]
        assert token == 0xFD and status & 0x20, stream[-13:].hex()  # DONE with DONE_ATTN
        # The session goes on.
        sock.sendall(_batch("SELECT 42 AS x"))
        stream = b"".join(p[8:] for p in _read_message(sock))
        assert struct.pack("<BBi", 0xD1, 4, 42) in stream  # ROW: INTN(4) 42
    finally:
        sock.close()
