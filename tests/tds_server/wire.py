"""TDS 7.4 wire format for the test server: packets, tokens, TYPE_INFO and values.

Reference: [MS-TDS] (packet header 2.2.3.1, tokens 2.2.7, data types 2.2.5). Values handed
to the encoders are already in the form of their SQL type (see sqltypes.py).
"""

from __future__ import annotations

import struct
from decimal import Decimal

# Packet types (2.2.3.1.1).
PKT_SQL_BATCH = 0x01
PKT_RPC = 0x03
PKT_REPLY = 0x04
PKT_ATTENTION = 0x06
PKT_LOGIN7 = 0x10
PKT_PRELOGIN = 0x12
STATUS_EOM = 0x01

# Tokens (2.2.7).
TOK_COLMETADATA = 0x81
TOK_ERROR = 0xAA
TOK_INFO = 0xAB
TOK_LOGINACK = 0xAD
TOK_FEATUREEXTACK = 0xAE
TOK_ROW = 0xD1
TOK_NBCROW = 0xD2
TOK_ENVCHANGE = 0xE3
TOK_DONE = 0xFD
TOK_DONEPROC = 0xFE
TOK_DONEINPROC = 0xFF
TOK_RETURNSTATUS = 0x79

DONE_FINAL = 0x00
DONE_MORE = 0x01
DONE_ERROR = 0x02
DONE_INXACT = 0x04
DONE_COUNT = 0x10
DONE_ATTN = 0x20

# Data type bytes (2.2.5.4).
NULLTYPE = 0x1F
INT1, BIT, INT2, INT4, INT8 = 0x30, 0x32, 0x34, 0x38, 0x7F
DATETIM4, FLT4, MONEY, DATETIME, FLT8, MONEY4 = 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x7A
GUID, INTN, BITN, DECIMALN, NUMERICN, FLTN, MONEYN, DATETIMN = (
    0x24, 0x26, 0x68, 0x6A, 0x6C, 0x6D, 0x6E, 0x6F)
DATEN, TIMEN, DATETIME2N, DATETIMEOFFSETN = 0x28, 0x29, 0x2A, 0x2B
BIGVARBIN, BIGVARCHR, BIGBINARY, BIGCHAR, NVARCHAR, NCHAR = 0xA5, 0xA7, 0xAD, 0xAF, 0xE7, 0xEF
TEXT, IMAGE, NTEXT = 0x23, 0x22, 0x63
DECIMAL_LEGACY, NUMERIC_LEGACY = 0x37, 0x3F

FIXED_LEN = {NULLTYPE: 0, INT1: 1, BIT: 1, INT2: 2, INT4: 4, DATETIM4: 4, FLT4: 4, MONEY: 8,
             DATETIME: 8, FLT8: 8, MONEY4: 4, INT8: 8}

# SQL_Latin1_General_CP1_CI_AS: LCID 0x0409, CI/AS flags, sort id 52 (code page 1252).
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])
VARCHAR_CODEC = "cp1252"
PLP_NULL = 0xFFFFFFFFFFFFFFFF
PLP_CHUNK = 2000  # small on purpose: long values span several chunks and packets


class ProtocolError(Exception):
    """The client sent something this server cannot parse."""


# ---------------------------------------------------------------- packets

def packet_header(ptype: int, status: int, length: int, spid: int, packet_id: int) -> bytes:
    return struct.pack(">BBHHBB", ptype, status, length, spid, packet_id & 0xFF, 0)


def packetize(payload: bytes, packet_size: int, spid: int, ptype: int = PKT_REPLY,
              last: bool = True) -> list[bytes]:
    """Splits a message into packets of at most packet_size bytes (header included)."""
    body = max(packet_size - 8, 64)
    packets = []
    chunks = [payload[i:i + body] for i in range(0, len(payload), body)] or [b""]
    for n, chunk in enumerate(chunks):
        status = STATUS_EOM if (last and n == len(chunks) - 1) else 0
        packets.append(packet_header(ptype, status, len(chunk) + 8, spid, n + 1) + chunk)
    return packets


# ---------------------------------------------------------------- small encoders

def b_varchar(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return bytes([len(data) // 2]) + data


def us_varchar(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return struct.pack("<H", len(data) // 2) + data


def ucs2(data: bytes) -> str:
    return data.decode("utf-16-le", errors="replace")


# ---------------------------------------------------------------- tokens

def done(status: int, rowcount: int = 0, token: int = TOK_DONE, curcmd: int = 0xC1) -> bytes:
    return struct.pack("<BHHQ", token, status, curcmd, rowcount)


def message(token: int, number: int, state: int, klass: int, text: str, server: str,
            proc: str = "", line: int = 1) -> bytes:
    body = (struct.pack("<iBB", number, state, klass) + us_varchar(text) + b_varchar(server)
            + b_varchar(proc) + struct.pack("<i", line))
    return struct.pack("<BH", token, len(body)) + body


def envchange(kind: int, new: str | bytes, old: str | bytes = "") -> bytes:
    if isinstance(new, bytes):  # collation: B_VARBYTE values
        body = bytes([kind, len(new)]) + new + bytes([len(old)]) + old  # type: ignore[operator]
    else:
        body = bytes([kind]) + b_varchar(new) + b_varchar(str(old))
    return struct.pack("<BH", TOK_ENVCHANGE, len(body)) + body


def loginack(prog_name: str = "db-pool TDS test server") -> bytes:
    body = (bytes([0x01]) + bytes([0x74, 0x00, 0x00, 0x04]) + b_varchar(prog_name)
            + bytes([16, 0, 0x07, 0xD0]))
    return struct.pack("<BH", TOK_LOGINACK, len(body)) + body


def returnstatus(value: int) -> bytes:
    return struct.pack("<Bi", TOK_RETURNSTATUS, value)


# ---------------------------------------------------------------- type info and values

def decimal_bytes(precision: int) -> int:
    if precision <= 9:
        return 5
    if precision <= 19:
        return 9
    if precision <= 28:
        return 13
    return 17


def time_bytes(scale: int) -> int:
    return 3 if scale <= 2 else (4 if scale <= 4 else 5)


def type_info(t) -> bytes:
    """TYPE_INFO for column metadata of SqlType `t` (sqltypes.SqlType)."""
    n = t.name
    if n in ("tinyint", "smallint", "int", "bigint"):
        return bytes([INTN, {"tinyint": 1, "smallint": 2, "int": 4, "bigint": 8}[n]])
    if n == "bit":
        return bytes([BITN, 1])
    if n in ("decimal", "numeric"):
        kind = DECIMALN if n == "decimal" else NUMERICN
        return bytes([kind, decimal_bytes(t.precision), t.precision, t.scale])
    if n in ("money", "smallmoney"):
        return bytes([MONEYN, 8 if n == "money" else 4])
    if n in ("float", "real"):
        return bytes([FLTN, 8 if n == "float" else 4])
    if n in ("datetime", "smalldatetime"):
        return bytes([DATETIMN, 8 if n == "datetime" else 4])
    if n == "date":
        return bytes([DATEN])
    if n == "time":
        return bytes([TIMEN, t.scale])
    if n == "datetime2":
        return bytes([DATETIME2N, t.scale])
    if n == "datetimeoffset":
        return bytes([DATETIMEOFFSETN, t.scale])
    if n == "uniqueidentifier":
        return bytes([GUID, 16])
    if n in ("char", "varchar"):
        kind = BIGCHAR if n == "char" else BIGVARCHR
        size = 0xFFFF if t.is_max else t.length
        return bytes([kind]) + struct.pack("<H", size) + COLLATION
    if n in ("nchar", "nvarchar"):
        kind = NCHAR if n == "nchar" else NVARCHAR
        size = 0xFFFF if t.is_max else t.length * 2
        return bytes([kind]) + struct.pack("<H", size) + COLLATION
    if n in ("binary", "varbinary"):
        kind = BIGBINARY if n == "binary" else BIGVARBIN
        size = 0xFFFF if t.is_max else t.length
        return bytes([kind]) + struct.pack("<H", size)
    raise ValueError(f"no TDS encoding for type {n}")


def plp(data: bytes | None) -> bytes:
    if data is None:
        return struct.pack("<Q", PLP_NULL)
    out = [struct.pack("<Q", len(data))]
    for i in range(0, len(data), PLP_CHUNK):
        chunk = data[i:i + PLP_CHUNK]
        out.append(struct.pack("<I", len(chunk)) + chunk)
    out.append(struct.pack("<I", 0))
    return b"".join(out)


def _int_le(value: int, size: int, signed: bool = True) -> bytes:
    return value.to_bytes(size, "little", signed=signed)


def encode_value(t, v) -> bytes:
    """The ROW bytes of value `v` (None = NULL) for SqlType `t`.

    Python forms: ints; bool; Decimal; float; str; bytes; temporal values as produced by
    sqltypes (date: days since 0001-01-01; time: 100 ns ticks; datetime2: (days, ticks);
    datetimeoffset: (utc days, utc ticks, offset minutes); datetime: (days since 1900,
    1/300 s ticks)); uniqueidentifier: 16 bytes in wire order.
    """
    n = t.name
    varlen_string = n in ("char", "varchar", "nchar", "nvarchar", "binary", "varbinary")
    if v is None:
        if varlen_string:
            return plp(None) if t.is_max else b"\xff\xff"
        return b"\x00"
    if n in ("tinyint", "smallint", "int", "bigint"):
        size = {"tinyint": 1, "smallint": 2, "int": 4, "bigint": 8}[n]
        return bytes([size]) + _int_le(int(v), size, signed=n != "tinyint")
    if n == "bit":
        return b"\x01" + bytes([1 if v else 0])
    if n in ("decimal", "numeric"):
        size = decimal_bytes(t.precision)
        unscaled = int(Decimal(v).scaleb(t.scale))
        sign = 0 if unscaled < 0 else 1
        return bytes([size, sign]) + _int_le(abs(unscaled), size - 1, signed=False)
    if n == "money":
        units = int(Decimal(v).scaleb(4))
        raw = _int_le(units, 8)
        return b"\x08" + raw[4:8] + raw[0:4]  # high 32 bits first, each little endian
    if n == "smallmoney":
        return b"\x04" + _int_le(int(Decimal(v).scaleb(4)), 4)
    if n == "float":
        return b"\x08" + struct.pack("<d", float(v))
    if n == "real":
        return b"\x04" + struct.pack("<f", float(v))
    if n == "datetime":
        days, ticks = v
        return b"\x08" + struct.pack("<iI", days, ticks)
    if n == "smalldatetime":
        days, minutes = v
        return b"\x04" + struct.pack("<HH", days, minutes)
    if n == "date":
        return b"\x03" + _int_le(v, 3, signed=False)
    if n == "time":
        size = time_bytes(t.scale)
        return bytes([size]) + _int_le(scale_ticks(v, t.scale), size, signed=False)
    if n == "datetime2":
        days, ticks = v
        size = time_bytes(t.scale)
        return (bytes([size + 3]) + _int_le(scale_ticks(ticks, t.scale), size, signed=False)
                + _int_le(days, 3, signed=False))
    if n == "datetimeoffset":
        days, ticks, offset = v
        size = time_bytes(t.scale)
        return (bytes([size + 5]) + _int_le(scale_ticks(ticks, t.scale), size, signed=False)
                + _int_le(days, 3, signed=False) + struct.pack("<h", offset))
    if n == "uniqueidentifier":
        return b"\x10" + v
    if n in ("char", "varchar"):
        data = v.encode(VARCHAR_CODEC, errors="replace")
    elif n in ("nchar", "nvarchar"):
        data = v.encode("utf-16-le")
    elif n in ("binary", "varbinary"):
        data = bytes(v)
    else:
        raise ValueError(f"no TDS encoding for type {n}")
    if t.is_max:
        return plp(data)
    return struct.pack("<H", len(data)) + data


def scale_ticks(ticks_100ns: int, scale: int) -> int:
    """100 ns ticks -> units of 10^-scale s (values are already rounded to the scale)."""
    return ticks_100ns // (10 ** (7 - scale))


def colmetadata(columns) -> bytes:
    """COLMETADATA for [(name, SqlType)]."""
    out = [struct.pack("<BH", TOK_COLMETADATA, len(columns))]
    for name, t in columns:
        flags = 0x0001 | 0x0008  # nullable, updatable unknown
        out.append(struct.pack("<IH", 0, flags) + type_info(t) + b_varchar(name))
    return b"".join(out)


def row(columns, values) -> bytes:
    """ROW, or NBCROW when some value is NULL (as SQL Server does to save space)."""
    if any(v is None for v in values):
        bitmap = bytearray((len(values) + 7) // 8)
        body = []
        for i, ((_, t), v) in enumerate(zip(columns, values, strict=True)):
            if v is None:
                bitmap[i // 8] |= 1 << (i % 8)
            else:
                body.append(encode_value(t, v))
        return bytes([TOK_NBCROW]) + bytes(bitmap) + b"".join(body)
    return bytes([TOK_ROW]) + b"".join(encode_value(t, v) for (_, t), v in zip(columns, values, strict=True))


# ---------------------------------------------------------------- decoding (requests)

class Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError("truncated message")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def at_end(self) -> bool:
        return self.pos >= len(self.data)


def skip_all_headers(r: Reader) -> None:
    total = struct.unpack("<I", r.data[r.pos:r.pos + 4])[0]
    if total < 4 or r.pos + total > len(r.data):
        raise ProtocolError("bad ALL_HEADERS")
    r.pos += total


def read_type_info(r: Reader) -> dict:
    """TYPE_INFO of an RPC parameter -> {"type", "size", "precision", "scale", "plp"}."""
    kind = r.u8()
    info = {"type": kind, "size": 0, "precision": 0, "scale": 0, "plp": False}
    if kind in FIXED_LEN:
        info["size"] = FIXED_LEN[kind]
    elif kind in (GUID, INTN, BITN, FLTN, MONEYN, DATETIMN):
        info["size"] = r.u8()
    elif kind in (DECIMALN, NUMERICN, DECIMAL_LEGACY, NUMERIC_LEGACY):
        info["size"] = r.u8()
        info["precision"] = r.u8()
        info["scale"] = r.u8()
    elif kind == DATEN:
        pass
    elif kind in (TIMEN, DATETIME2N, DATETIMEOFFSETN):
        info["scale"] = r.u8()
    elif kind in (BIGVARBIN, BIGBINARY, BIGVARCHR, BIGCHAR, NVARCHAR, NCHAR):
        info["size"] = r.u16()
        if kind in (BIGVARCHR, BIGCHAR, NVARCHAR, NCHAR):
            r.take(5)  # collation
        info["plp"] = info["size"] == 0xFFFF
    elif kind in (TEXT, NTEXT, IMAGE):
        info["size"] = r.u32()
        if kind in (TEXT, NTEXT):
            r.take(5)
    else:
        raise ProtocolError(f"unsupported parameter type 0x{kind:02X}")
    return info


def _read_plp(r: Reader) -> bytes | None:
    total = r.u64()
    if total == PLP_NULL:
        return None
    parts = []
    while True:
        n = r.u32()
        if n == 0:
            break
        parts.append(r.take(n))
    return b"".join(parts)


def read_value(r: Reader, info: dict):
    """An RPC parameter value as (python value, sql type name); None for NULL."""
    import sqltypes  # local import: sqltypes imports nothing from here at module level

    kind = info["type"]
    if kind == NULLTYPE:
        return None
    if kind in FIXED_LEN:
        raw = r.take(info["size"])
        return decode_fixed(kind, raw)
    if kind in (BIGVARBIN, BIGBINARY, BIGVARCHR, BIGCHAR, NVARCHAR, NCHAR):
        if info["plp"]:
            raw = _read_plp(r)
        else:
            n = r.u16()
            raw = None if n == 0xFFFF else r.take(n)
        if raw is None:
            return None
        if kind in (NVARCHAR, NCHAR):
            return ucs2(raw)
        if kind in (BIGVARCHR, BIGCHAR):
            return raw.decode(VARCHAR_CODEC, errors="replace")
        return raw
    if kind in (TEXT, NTEXT, IMAGE):
        n = r.u32()
        if n == 0xFFFFFFFF:
            return None
        raw = r.take(n)
        return ucs2(raw) if kind == NTEXT else (raw.decode(VARCHAR_CODEC) if kind == TEXT else raw)
    n = r.u8()
    if n == 0:
        return None
    raw = r.take(n)
    if kind == INTN:
        return int.from_bytes(raw, "little", signed=n != 1)
    if kind == BITN:
        return raw[0] != 0
    if kind == FLTN:
        return struct.unpack("<d" if n == 8 else "<f", raw)[0]
    if kind == MONEYN:
        return decode_fixed(MONEY if n == 8 else MONEY4, raw)
    if kind == DATETIMN:
        return decode_fixed(DATETIME if n == 8 else DATETIM4, raw)
    if kind in (DECIMALN, NUMERICN, DECIMAL_LEGACY, NUMERIC_LEGACY):
        magnitude = int.from_bytes(raw[1:], "little")
        value = Decimal(magnitude).scaleb(-info["scale"])
        return value if raw[0] == 1 else -value
    if kind == GUID:
        return sqltypes.guid_text(raw)
    if kind == DATEN:
        return sqltypes.date_text(int.from_bytes(raw, "little"))
    scale = info["scale"]
    tlen = time_bytes(scale)
    ticks = int.from_bytes(raw[:tlen], "little") * 10 ** (7 - scale)
    if kind == TIMEN:
        return sqltypes.time_text(ticks, 7)
    days = int.from_bytes(raw[tlen:tlen + 3], "little")
    if kind == DATETIME2N:
        return sqltypes.datetime2_text(days, ticks, 7)
    offset = struct.unpack("<h", raw[tlen + 3:tlen + 5])[0]
    return sqltypes.datetimeoffset_text(days, ticks, offset, 7)


def decode_fixed(kind: int, raw: bytes):
    import sqltypes

    if kind == INT1:
        return raw[0]
    if kind in (INT2, INT4, INT8):
        return int.from_bytes(raw, "little", signed=True)
    if kind == BIT:
        return raw[0] != 0
    if kind == FLT4:
        return struct.unpack("<f", raw)[0]
    if kind == FLT8:
        return struct.unpack("<d", raw)[0]
    if kind == MONEY:
        high, low = struct.unpack("<iI", raw)
        return Decimal((high << 32) | low).scaleb(-4)
    if kind == MONEY4:
        return Decimal(struct.unpack("<i", raw)[0]).scaleb(-4)
    if kind == DATETIME:
        days, ticks = struct.unpack("<iI", raw)
        return sqltypes.legacy_datetime_text(days, ticks)
    if kind == DATETIM4:
        days, minutes = struct.unpack("<HH", raw)
        return sqltypes.legacy_datetime_text(days, minutes * 60 * 300)
    raise ProtocolError(f"unsupported fixed type 0x{kind:02X}")
