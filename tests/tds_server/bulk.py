"""Bulk load for the test server: `INSERT BULK table (...)` announces it, then the client
sends one BULK LOAD message (packet type 0x07, [MS-TDS] 2.2.6.1) holding COLMETADATA, ROW
tokens and DONE; its rows are inserted into the announced SQLite table."""

from __future__ import annotations

import sqlite3

import sqltypes
import wire
from engine import translate_error
from sqltypes import SqlError

PKT_BULK_LOAD = 0x07
TOK_DONE = 0xFD


def _read_colmetadata(r: wire.Reader) -> list[tuple[str, dict]]:
    """COLMETADATA ([MS-TDS] 2.2.7.4) as a client sends it -> [(column name, type info)]."""
    if r.u8() != wire.TOK_COLMETADATA:
        raise wire.ProtocolError("a bulk load must start with COLMETADATA")
    count = r.u16()
    columns = []
    for _ in range(count if count != 0xFFFF else 0):
        r.u32()  # UserType
        r.u16()  # Flags
        info = wire.read_type_info(r)
        if info["type"] in (wire.TEXT, wire.NTEXT, wire.IMAGE):
            for _ in range(r.u8()):  # TableName: NumParts, then US_VARCHAR parts
                r.take(r.u16() * 2)
        name = wire.ucs2(r.take(r.u8() * 2))
        columns.append((name, info))
    return columns


def _read_row_value(r: wire.Reader, info: dict):
    """One ROW value: as in an RPC parameter, except that text/ntext/image carry a text
    pointer and timestamp first (2.2.7.19)."""
    if info["type"] in (wire.TEXT, wire.NTEXT, wire.IMAGE):
        pointer = r.u8()
        if pointer == 0:
            return None
        r.take(pointer + 8)  # text pointer, timestamp
        raw = r.take(r.u32())
        if info["type"] == wire.NTEXT:
            return wire.ucs2(raw)
        return raw.decode(wire.VARCHAR_CODEC) if info["type"] == wire.TEXT else raw
    return wire.read_value(r, info)


def parse(payload: bytes) -> tuple[list[str], list[list]]:
    """BULK LOAD payload -> (column names, rows of Python values)."""
    r = wire.Reader(payload)
    columns = _read_colmetadata(r)
    rows = []
    while not r.at_end():
        token = r.u8()
        if token == wire.TOK_ROW:
            rows.append([_read_row_value(r, info) for _, info in columns])
        elif token == TOK_DONE:
            r.take(12)  # status, curcmd, rowcount
        else:
            raise wire.ProtocolError(f"unexpected token 0x{token:02X} in a bulk load")
    return [name for name, _ in columns], rows


def insert(engine, announced: tuple[str, str] | None, payload: bytes) -> int:
    """Inserts the rows of one BULK LOAD message into the table INSERT BULK announced;
    returns their count. The batch is one transaction unless one is already open."""
    if announced is None:
        raise SqlError(4804, "While reading current row from host, a premature end-of-message was encountered (no INSERT BULK before the bulk load).", 16, 1)
    sqlite_name, key = announced
    names, rows = parse(payload)
    declared = {name.lower(): t for name, t in engine.columns_of(key) or []}
    for name in names:
        if name.lower() not in declared:
            raise SqlError(4819, f"Cannot bulk load. The bulk data stream was incorrectly specified as sorted or the column '{name}' does not exist.", 16, 1)
    if not rows:
        return 0
    quoted = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
    sql = f"INSERT INTO {sqlite_name} ({quoted}) VALUES ({', '.join('?' * len(names))})"
    stored = [[sqltypes.to_storage(declared[n.lower()], v) for n, v in zip(names, row, strict=True)]
              for row in rows]
    own_transaction = not engine.conn.in_transaction
    if own_transaction:
        engine.conn.execute("BEGIN")
    try:
        engine.conn.executemany(sql, stored)
    except sqlite3.Error as e:
        if own_transaction:
            engine.conn.execute("ROLLBACK")
        raise translate_error(e, sql) from None
    if own_transaction:
        engine.conn.execute("COMMIT")
    return len(rows)
