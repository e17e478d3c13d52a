"""SQL Server types for the test server: declarations, SQLite storage, and conversion of
stored values to the form wire.encode_value expects (with SQL Server's errors)."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# 38-digit decimals and money need more than the default 28 digits, in every thread.
decimal.DefaultContext.prec = 80
decimal.getcontext().prec = 80

ORD_1900 = dt.date(1900, 1, 1).toordinal()
TICKS_PER_DAY = 86400 * 10**7

INT_RANGES = {"tinyint": (0, 255), "smallint": (-(2**15), 2**15 - 1),
              "int": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}
STRING_TYPES = ("char", "varchar", "nchar", "nvarchar", "text", "ntext")
BINARY_TYPES = ("binary", "varbinary", "image")
TEMPORAL_TYPES = ("date", "time", "datetime", "datetime2", "datetimeoffset", "smalldatetime")
KNOWN = (set(INT_RANGES) | {"bit", "decimal", "numeric", "money", "smallmoney", "float", "real",
                            "uniqueidentifier"} | set(STRING_TYPES) | set(BINARY_TYPES)
         | set(TEMPORAL_TYPES))
ALIASES = {"integer": "int", "dec": "decimal", "double precision": "float",
           "character": "char", "sysname": "nvarchar"}


class SqlError(Exception):
    """An error SQL Server would report: number, severity (class), state, message."""

    def __init__(self, number: int, text: str, klass: int = 16, state: int = 1) -> None:
        super().__init__(text)
        self.number = number
        self.klass = klass
        self.state = state
        self.text = text


@dataclass(frozen=True)
class SqlType:
    name: str
    length: int = 0        # chars (n types) or bytes; -1 = max
    precision: int = 0
    scale: int = 0

    @property
    def is_max(self) -> bool:
        return self.length == -1

    def declaration(self) -> str:
        if self.name in ("decimal", "numeric"):
            return f"{self.name}({self.precision},{self.scale})"
        if self.name in ("char", "varchar", "nchar", "nvarchar", "binary", "varbinary"):
            return f"{self.name}({'max' if self.is_max else self.length})"
        if self.name in ("time", "datetime2", "datetimeoffset"):
            return f"{self.name}({self.scale})"
        return self.name

    def sqlite_affinity(self) -> str:
        """Storage in SQLite: decimals and temporal values as exact text."""
        if self.name in INT_RANGES or self.name == "bit":
            return "INTEGER"
        if self.name in ("float", "real"):
            return "REAL"
        if self.name in BINARY_TYPES:
            return "BLOB"
        return "TEXT"


def parse_type(text: str, cast: bool = False) -> SqlType:
    """'nvarchar(max)', 'decimal(10, 2)', 'datetime2(3)' -> SqlType (error 243 if unknown).
    `cast`: default lengths of CAST/CONVERT (30) instead of declarations (1)."""
    m = re.fullmatch(r"\s*\[?([A-Za-z_][A-Za-z0-9_ ]*?)\]?\s*(?:\(\s*([^)]*)\))?\s*", text)
    if not m:
        raise SqlError(243, f"Type {text.strip()} is not a defined system type.")
    name = ALIASES.get(m.group(1).lower(), m.group(1).lower())
    args = [a.strip().lower() for a in m.group(2).split(",")] if m.group(2) else []
    if name not in KNOWN:
        raise SqlError(243, f"Type {m.group(1)} is not a defined system type.")
    if name == "text":
        return SqlType("varchar", -1)
    if name == "ntext":
        return SqlType("nvarchar", -1)
    if name == "image":
        return SqlType("varbinary", -1)
    if name in ("char", "varchar", "nchar", "nvarchar", "binary", "varbinary"):
        if args and args[0] == "max":
            if name in ("char", "nchar", "binary"):
                raise SqlError(2716, f"Column, parameter, or variable : Cannot specify a column width on data type {name}.")
            return SqlType(name, -1)
        length = int(args[0]) if args else (30 if cast else 1)
        limit = 4000 if name.startswith("n") else 8000
        if not 1 <= length <= limit:
            raise SqlError(131, f"The size ({length}) given to the type '{name}' exceeds the maximum allowed for any data type ({limit}).", 15)
        return SqlType(name, length)
    if name in ("decimal", "numeric"):
        precision = int(args[0]) if args else 18
        scale = int(args[1]) if len(args) > 1 else 0
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise SqlError(2750, f"Column or parameter #1: Specified column precision {precision} is greater than the maximum precision of 38.")
        return SqlType(name, precision=precision, scale=scale)
    if name == "float":
        bits = int(args[0]) if args else 53
        return SqlType("real" if bits <= 24 else "float")
    if name in ("time", "datetime2", "datetimeoffset"):
        scale = int(args[0]) if args else 7
        if not 0 <= scale <= 7:
            raise SqlError(1002, f"Specified scale {scale} is invalid.")
        return SqlType(name, scale=scale)
    return SqlType(name)


# ---------------------------------------------------------------- temporal text

_TEMPORAL = re.compile(
    r"\s*(?:(\d{4})-(\d{1,2})-(\d{1,2}))?[ T]?"
    r"(?:(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7})\d*)?)?)?\s*"
    r"(Z|[+-]\d{1,2}:\d{2})?\s*$")


def parse_temporal(text: str, target: str):
    """'2024-01-02 03:04:05.1234567 +02:00' -> (days since 0001-01-01, 100 ns ticks, offset
    minutes); missing parts are None. Error 241 (date) or 241-like for bad text."""
    m = _TEMPORAL.match(text)
    if not m or not text.strip():
        raise SqlError(241, "Conversion failed when converting date and/or time from character string.")
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    days = ticks = offset = None
    try:
        if y is not None:
            days = dt.date(int(y), int(mo), int(d)).toordinal() - 1
        if hh is not None:
            h, mnt, sec = int(hh), int(mi), int(ss or 0)
            if h > 23 or mnt > 59 or sec > 59:
                raise ValueError
            ticks = ((h * 60 + mnt) * 60 + sec) * 10**7 + int((frac or "0").ljust(7, "0"))
    except ValueError:
        raise SqlError(241, "Conversion failed when converting date and/or time from character string.") from None
    if tz is not None:
        if tz == "Z":
            offset = 0
        else:
            sign = -1 if tz[0] == "-" else 1
            h, mnt = tz[1:].split(":")
            offset = sign * (int(h) * 60 + int(mnt))
    if days is None and ticks is None:
        raise SqlError(241, "Conversion failed when converting date and/or time from character string.")
    return days, ticks, offset


def round_ticks(ticks: int, scale: int) -> int:
    unit = 10 ** (7 - scale)
    return (ticks + unit // 2) // unit * unit


def date_text(days: int) -> str:
    return dt.date.fromordinal(days + 1).isoformat()


def time_text(ticks: int, scale: int = 7) -> str:
    seconds, frac = divmod(ticks, 10**7)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    out = f"{h:02d}:{m:02d}:{s:02d}"
    return out + (f".{frac:07d}"[: scale + 1] if scale > 0 else "")


def datetime2_text(days: int, ticks: int, scale: int = 7) -> str:
    return f"{date_text(days)} {time_text(ticks, scale)}"


def datetimeoffset_text(days_utc: int, ticks_utc: int, offset: int, scale: int = 7) -> str:
    total = days_utc * TICKS_PER_DAY + ticks_utc + offset * 60 * 10**7
    days, ticks = divmod(total, TICKS_PER_DAY)
    sign = "-" if offset < 0 else "+"
    return f"{datetime2_text(days, ticks, scale)} {sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


def legacy_datetime_text(days_1900: int, ticks_300: int) -> str:
    ticks = ((ticks_300 * 100000 + 1) // 3 + 5000) // 10000 * 10000  # 1/300 s -> ms
    return datetime2_text(days_1900 + ORD_1900 - 1, ticks, 3)


def guid_text(raw: bytes) -> str:
    return str(uuid.UUID(bytes_le=bytes(raw))).upper()


# ---------------------------------------------------------------- stored value -> wire form

def _conversion_error(value, t: SqlType):
    kind = "nvarchar" if isinstance(value, str) else type(value).__name__
    return SqlError(245 if t.name in INT_RANGES or t.name == "bit" else 8114,
                    f"Conversion failed when converting the {kind} value '{value}' to data type {t.name}.")


def _overflow(t: SqlType) -> SqlError:
    return SqlError(8115, f"Arithmetic overflow error converting expression to data type {t.name}.")


def _decimal(value, t: SqlType) -> Decimal:
    try:
        if isinstance(value, float):
            d = Decimal(repr(value))
        elif isinstance(value, bytes):
            raise InvalidOperation
        else:
            d = Decimal(str(value).strip())
    except InvalidOperation:
        raise _conversion_error(value, t) from None
    if not d.is_finite():
        raise _conversion_error(value, t)
    return d


def to_wire(t: SqlType, value):
    """A value as SQLite stored it (int, float, str, bytes, None) -> wire form for `t`."""
    if value is None:
        return None
    n = t.name
    if n in INT_RANGES:
        if isinstance(value, bytes):
            raise _conversion_error(value, t)
        if isinstance(value, str):
            try:
                value = int(Decimal(value.strip())) if value.strip() else 0
            except InvalidOperation:
                raise _conversion_error(value, t) from None
        v = int(value)
        lo, hi = INT_RANGES[n]
        if not lo <= v <= hi:
            raise _overflow(t)
        return v
    if n == "bit":
        if isinstance(value, str):
            low = value.strip().lower()
            if low in ("true", "false"):
                return low == "true"
            value = _decimal(value, t)
        return value != 0
    if n in ("decimal", "numeric", "money", "smallmoney"):
        scale = 4 if "money" in n else t.scale
        d = _decimal(value, t).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
        if n in ("decimal", "numeric"):
            if len(d.as_tuple().digits) > t.precision and d != 0:
                raise _overflow(t)
        else:
            bits = 63 if n == "money" else 31
            if not -(2**bits) <= int(d.scaleb(4)) < 2**bits:
                raise _overflow(t)
        return d
    if n in ("float", "real"):
        if isinstance(value, bytes):
            raise _conversion_error(value, t)
        try:
            return float(value)
        except ValueError:
            raise _conversion_error(value, t) from None
    if n in ("char", "varchar", "nchar", "nvarchar"):
        if isinstance(value, bytes):
            text = value.decode("utf-8", errors="replace")
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = str(value)
        if not t.is_max:
            text = text[: t.length]
            if n in ("char", "nchar"):
                text = text.ljust(t.length)
        return text
    if n in ("binary", "varbinary"):
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        if not t.is_max:
            data = data[: t.length]
            if n == "binary":
                data = data.ljust(t.length, b"\0")
        return data
    if n == "uniqueidentifier":
        if isinstance(value, bytes) and len(value) == 16:
            return value
        try:
            return uuid.UUID(str(value).strip().strip("{}")).bytes_le
        except ValueError:
            raise SqlError(8169, "Conversion failed when converting from a character string to uniqueidentifier.") from None
    if n in TEMPORAL_TYPES:
        if not isinstance(value, str):
            raise SqlError(206, f"Operand type clash: {type(value).__name__} is incompatible with {n}")
        days, ticks, offset = parse_temporal(value, n)
        if n == "date":
            if days is None:
                raise SqlError(241, "Conversion failed when converting date and/or time from character string.")
            return days
        if n == "time":
            return min(round_ticks(ticks or 0, t.scale), TICKS_PER_DAY - 10 ** (7 - t.scale))
        days = 0 if days is None else days
        ticks = 0 if ticks is None else ticks
        if n == "datetime2":
            return _carry(days, round_ticks(ticks, t.scale))
        if n == "datetimeoffset":
            offset = offset or 0
            total = days * TICKS_PER_DAY + round_ticks(ticks, t.scale) - offset * 60 * 10**7
            days_utc, ticks_utc = divmod(total, TICKS_PER_DAY)
            return days_utc, ticks_utc, offset
        if n == "datetime":
            days_1900 = days - (ORD_1900 - 1)
            if days_1900 < -53690:  # before 1753-01-01
                raise SqlError(242, "The conversion of a varchar data type to a datetime data type resulted in an out-of-range value.")
            ticks_300 = (ticks * 3 + 50000) // 100000  # 1/300 s, rounded
            if ticks_300 >= 300 * 86400:
                days_1900, ticks_300 = days_1900 + 1, 0
            return days_1900, ticks_300
        if n == "smalldatetime":
            days_1900 = days - (ORD_1900 - 1)
            minutes = (ticks + 30 * 10**7) // (60 * 10**7)
            if minutes >= 1440:
                days_1900, minutes = days_1900 + 1, 0
            if not 0 <= days_1900 <= 65535:
                raise SqlError(242, "The conversion of a varchar data type to a smalldatetime data type resulted in an out-of-range value.")
            return days_1900, minutes
    raise SqlError(8114, f"Error converting data type to {n}.")


def _carry(days: int, ticks: int):
    if ticks >= TICKS_PER_DAY:
        return days + 1, ticks - TICKS_PER_DAY
    return days, ticks


def to_storage(t: SqlType, value):
    """A parameter or CAST value -> what SQLite stores for a column of type `t`."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


def literal_type(value) -> SqlType:
    """The type SQL Server gives a value that arrives without declared type."""
    if isinstance(value, bool):
        return SqlType("bit")
    if isinstance(value, int):
        return SqlType("int") if -(2**31) <= value < 2**31 else SqlType("bigint")
    if isinstance(value, float):
        return SqlType("float")
    if isinstance(value, Decimal):
        digits = max(len(value.as_tuple().digits), 1)
        scale = max(-value.as_tuple().exponent, 0)
        return SqlType("numeric", precision=min(max(digits, scale, 1), 38), scale=min(scale, 38))
    if isinstance(value, (bytes, bytearray)):
        return SqlType("varbinary", -1 if len(value) > 8000 else max(len(value), 1))
    text = str(value)
    return SqlType("nvarchar", -1 if len(text) > 4000 else max(len(text), 1))
