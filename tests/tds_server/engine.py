"""Runs T-SQL statements against SQLite for the test server, keeping each table's declared
SQL Server column types (in the table __dbpool_columns, so they roll back with the data)
so that SELECT returns the right TDS types."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import sqltypes
from sqltypes import SqlError, SqlType, parse_type
from tsql import Tok, matching_paren, read_type, render, rewrite, split_top, string_value, tokenize

COLUMNS_TABLE = "__dbpool_columns"


@dataclass
class Result:
    """What one statement produced, in the order the server sends it."""

    columns: list[tuple[str, SqlType]] | None = None
    rows: list[list] = field(default_factory=list)
    rowcount: int | None = None          # DONE_COUNT value, None = no count
    infos: list[tuple[int, str]] = field(default_factory=list)
    sleep: float = 0.0                   # WAITFOR DELAY
    disconnect: bool = False             # send the first row, then drop the connection
    error_after: int | None = None       # send this many rows, then an ERROR token
    delay_after: tuple[int, float] | None = None  # after this many rows, pause this long
    row_delay: float = 0.0               # send each row on its own, this long after the last
    new_database: str | None = None


def _now(utc: bool = False) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) if utc else dt.datetime.now()


def _register_functions(conn: sqlite3.Connection, session) -> None:
    conn.create_function("getdate", 0, lambda: _now().isoformat(" ", "milliseconds"))
    conn.create_function("sysdatetime", 0, lambda: _now().isoformat(" ", "microseconds"))
    conn.create_function("getutcdate", 0, lambda: _now(True).replace(tzinfo=None).isoformat(" ", "milliseconds"))
    conn.create_function("sysutcdatetime", 0, lambda: _now(True).replace(tzinfo=None).isoformat(" ", "microseconds"))
    conn.create_function("sysdatetimeoffset", 0, lambda: _now().astimezone().isoformat(" ", "microseconds"))
    conn.create_function("newid", 0, lambda: str(uuid.uuid4()).upper())
    conn.create_function("len", 1, lambda v: None if v is None else len(str(v).rstrip(" ")))
    conn.create_function("datalength", 1, lambda v: None if v is None else (
        len(v) if isinstance(v, bytes) else len(str(v).encode("utf-16-le"))))
    conn.create_function("isnull", 2, lambda a, b: b if a is None else a)
    conn.create_function("db_name", 0, lambda: session.database)
    conn.create_function("dbpool_disconnect", 0, lambda: 1)
    # Scripted modes (see _script): the SQL functions only mark the statement.
    conn.create_function("dbpool_error_after", 1, lambda n: 1)
    conn.create_function("dbpool_delay_after", 2, lambda n, seconds: 1)
    conn.create_function("dbpool_row_delay", 1, lambda seconds: 1)


def open_database(path: str, session) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {COLUMNS_TABLE} (tbl TEXT, pos INTEGER, name TEXT, decl TEXT)")
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {COLUMNS_TABLE} (tbl TEXT, pos INTEGER, name TEXT, decl TEXT)")
    _register_functions(conn, session)
    return conn


def table_key(tok_name: str) -> str:
    return tok_name.lower()


def _table_name(tokens: list[Tok], i: int) -> tuple[str, str, int]:
    """(SQLite name, registry key, next index) of a possibly schema-qualified table name."""
    parts = [tokens[i]]
    j = i + 1
    while j + 1 < len(tokens) and tokens[j].is_op(".") and tokens[j + 1].kind in ("ident", "qident", "temp"):
        parts.append(tokens[j + 1])
        j += 2
    last = parts[-1]
    if last.kind == "temp":
        return f'"{last.text}"', last.text.lower(), j
    return '"' + last.name.replace('"', '""') + '"', last.name.lower(), j


class Engine:
    """One session's view of the shared SQLite database."""

    def __init__(self, conn: sqlite3.Connection, session) -> None:
        self.conn = conn
        self.session = session

    # ------------------------------------------------------------ schema registry

    def columns_of(self, key: str) -> list[tuple[str, SqlType]] | None:
        schema = "temp" if key.startswith("#") else "main"
        rows = self.conn.execute(
            f"SELECT name, decl FROM {schema}.{COLUMNS_TABLE} WHERE tbl = ? ORDER BY pos", (key,)).fetchall()
        return [(name, parse_type(decl)) for name, decl in rows] or None

    def _register(self, key: str, columns: list[tuple[str, SqlType]]) -> None:
        schema = "temp" if key.startswith("#") else "main"
        self.conn.execute(f"DELETE FROM {schema}.{COLUMNS_TABLE} WHERE tbl = ?", (key,))
        self.conn.executemany(
            f"INSERT INTO {schema}.{COLUMNS_TABLE} VALUES (?, ?, ?, ?)",
            [(key, i, name, t.declaration()) for i, (name, t) in enumerate(columns)])

    # ------------------------------------------------------------ statements

    def run(self, tokens: list[Tok], params: dict, param_types: dict[str, SqlType]) -> Result:
        first = tokens[0].upper
        second = tokens[1].upper if len(tokens) > 1 else ""
        if first == "SET" and second == "FMTONLY" and len(tokens) > 2:
            return self._fmtonly(tokens, params, param_types)
        if first == "SET":
            if len(tokens) > 3 and tokens[1].kind == "var" and tokens[2].is_op("="):
                name = tokens[1].text[1:].lower()
                if name not in param_types:
                    raise SqlError(137, f'Must declare the scalar variable "{tokens[1].text}".', 15, 2)
                params[name] = self._execute([Tok("ident", "SELECT")] + tokens[3:], params).fetchone()[0]
                return Result()
            if second == "NOCOUNT" and len(tokens) > 2:
                self.session.nocount = tokens[2].upper == "ON"
            return Result()
        if first == "USE":
            name = tokens[1].name
            self.session.check_database(name)
            return Result(infos=[(5701, f"Changed database context to '{name}'.")], new_database=name)
        if first == "WAITFOR":
            return self._waitfor(tokens)
        if first == "PRINT":
            return Result(infos=[(0, string_value(tokens[1]) if tokens[1].kind == "str" else render(tokens[1:]))])
        if first == "RAISERROR":
            return self._raiserror(tokens)
        if first == "THROW":
            args = split_top(tokens[1:])
            if len(args) != 3:
                raise SqlError(102, "Incorrect syntax near 'THROW'.", 15)
            raise SqlError(int(args[0][0].text), string_value(args[1][0]), 16, int(args[2][0].text))
        if first == "BEGIN" and second in ("TRAN", "TRANSACTION", "DISTRIBUTED"):
            self.session.trancount += 1
            if self.session.trancount == 1:
                self.conn.execute("BEGIN")
            return Result()
        if first in ("COMMIT", "ROLLBACK"):
            return self._end_transaction(first)
        if first == "SAVE":
            return Result()
        if first == "CREATE" and second == "TABLE":
            return self._create_table(tokens)
        if first == "DROP" and second == "TABLE":
            return self._drop_table(tokens)
        if first == "TRUNCATE" and second == "TABLE":
            tokens = [Tok("ident", "DELETE"), Tok("ident", "FROM")] + tokens[2:]
            first = "DELETE"
        if first in ("SELECT", "WITH", "VALUES") or (first == "" and tokens[0].is_op("(")):
            return self._select(tokens, params, param_types)
        if first == "INSERT" and second == "BULK" and len(tokens) > 2:
            # The bulk load (packet 0x07) that follows goes into this table (see bulk.py).
            sqlite_name, key, _ = _table_name(tokens, 2)
            if self.columns_of(key) is None:
                raise SqlError(208, f"Invalid object name '{key}'.", 16, 1)
            self.session.bulk_target = (sqlite_name, key)
            return Result()
        if first in ("INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER"):
            cur = self._execute(tokens, params)
            count = cur.rowcount if first in ("INSERT", "UPDATE", "DELETE", "MERGE") else None
            self.session.rowcount = max(count or 0, 0)
            return Result(rowcount=count)
        if first in ("EXEC", "EXECUTE"):
            name = tokens[1].name if len(tokens) > 1 else ""
            raise SqlError(2812, f"Could not find stored procedure '{name}'.", 16, 62)
        near = tokens[0].text
        raise SqlError(102, f"Incorrect syntax near '{near}'.", 15)

    def _execute(self, tokens: list[Tok], params: dict) -> sqlite3.Cursor:
        sql = render(rewrite(tokens, self.session.sysvars()))
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as e:
            raise translate_error(e, sql) from None

    def _fmtonly(self, tokens: list[Tok], params: dict, param_types: dict[str, SqlType]) -> Result:
        """SET FMTONLY ON|OFF: statements describe their result without running. FreeTDS's
        bcp sends 'SET FMTONLY ON select * from t SET FMTONLY OFF' as one statement."""
        on = tokens[2].upper == "ON"
        inner = tokens[3:]
        if len(inner) >= 3 and inner[-3].upper == "SET" and inner[-2].upper == "FMTONLY":
            inner = inner[:-3]
        if not inner:
            self.session.fmtonly = on
            return Result()
        if not on or inner[0].upper != "SELECT":
            raise SqlError(102, f"Incorrect syntax near '{inner[0].text}'.", 15)
        result = self._select(inner, params, param_types)
        result.rows, result.rowcount = [], None
        return result

    def _waitfor(self, tokens: list[Tok]) -> Result:
        if len(tokens) < 3 or tokens[1].upper != "DELAY" or tokens[2].kind != "str":
            raise SqlError(102, "Incorrect syntax near 'WAITFOR'.", 15)
        m = re.fullmatch(r"(\d+):(\d+)(?::(\d+(?:\.\d*)?))?", string_value(tokens[2]).strip())
        if not m:
            raise SqlError(148, "Incorrect time syntax in time string '" + string_value(tokens[2]) + "' used with WAITFOR.", 15)
        seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3) or 0)
        return Result(sleep=seconds)

    def _raiserror(self, tokens: list[Tok]) -> Result:
        if len(tokens) < 3 or not tokens[1].is_op("("):
            raise SqlError(102, "Incorrect syntax near 'RAISERROR'.", 15)
        end = matching_paren(tokens, 1)
        args = split_top(tokens[2:end])
        text = string_value(args[0][0]) if args[0][0].kind == "str" else "error"
        severity = int(args[1][0].text) if len(args) > 1 else 16
        state = int(args[2][0].text) if len(args) > 2 else 1
        if severity <= 10:
            return Result(infos=[(50000, text)])
        raise SqlError(50000, text, severity, state)

    def _end_transaction(self, which: str) -> Result:
        if self.session.trancount == 0:
            word = "COMMIT" if which == "COMMIT" else "ROLLBACK"
            raise SqlError(3902 if which == "COMMIT" else 3903,
                           f"The {word} TRANSACTION request has no corresponding BEGIN TRANSACTION.", 16, 1)
        if which == "COMMIT":
            self.session.trancount -= 1
            if self.session.trancount == 0:
                self.conn.execute("COMMIT")
        else:
            self.session.trancount = 0
            self.conn.execute("ROLLBACK")
        return Result()

    def _create_table(self, tokens: list[Tok]) -> Result:
        sqlite_name, key, i = _table_name(tokens, 2)
        if i >= len(tokens) or not tokens[i].is_op("("):
            raise SqlError(102, "Incorrect syntax near the table name.", 15)
        end = matching_paren(tokens, i)
        columns: list[tuple[str, SqlType]] = []
        defs = []
        for part in split_top(tokens[i + 1:end]):
            if not part:
                continue
            if part[0].upper in ("CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "INDEX"):
                defs.append(render(rewrite(part, {})))
                continue
            name = part[0].name
            t, j = read_type(part, 1)
            rest = part[j:]
            identity = any(x.upper == "IDENTITY" for x in rest)
            kept: list[Tok] = []
            k = 0
            while k < len(rest):
                up = rest[k].upper
                if up == "IDENTITY":
                    k += 1
                    if k < len(rest) and rest[k].is_op("("):
                        k = matching_paren(rest, k) + 1
                    continue
                if up == "COLLATE":
                    k += 2
                    continue
                if identity and up == "PRIMARY":
                    k += 2  # PRIMARY KEY: the identity column is the key
                    continue
                kept.append(rest[k])
                k += 1
            decl = "INTEGER PRIMARY KEY AUTOINCREMENT" if identity else t.sqlite_affinity()
            defs.append(f'"{name}" {decl} ' + render(rewrite(kept, {})))
            columns.append((name, t))
        temp = "TEMP " if key.startswith("#") else ""
        sql = f"CREATE {temp}TABLE {sqlite_name} ({', '.join(defs)})"
        try:
            self.conn.execute(sql)
        except sqlite3.Error as e:
            raise translate_error(e, sql) from None
        self._register(key, columns)
        return Result()

    def _drop_table(self, tokens: list[Tok]) -> Result:
        i = 2
        if_exists = len(tokens) > 3 and tokens[2].upper == "IF" and tokens[3].upper == "EXISTS"
        if if_exists:
            i = 4
        while i < len(tokens):
            sqlite_name, key, i = _table_name(tokens, i)
            schema = "temp." if key.startswith("#") else ""
            sql = f"DROP TABLE {'IF EXISTS ' if if_exists else ''}{schema}{sqlite_name}"
            try:
                self.conn.execute(sql)
            except sqlite3.Error as e:
                if "no such table" in str(e):
                    raise SqlError(3701, f"Cannot drop the table '{key}', because it does not exist or you do not have permission.", 11, 5) from None
                raise translate_error(e, sql) from None
            self.conn.execute(f"DELETE FROM {schema or 'main.'}{COLUMNS_TABLE} WHERE tbl = ?", (key,))
            if i < len(tokens) and tokens[i].is_op(","):
                i += 1
        return Result()

    # ------------------------------------------------------------ SELECT

    def _select(self, tokens: list[Tok], params: dict, param_types: dict[str, SqlType]) -> Result:
        cur = self._execute(tokens, params)
        names = [d[0] for d in cur.description or []]
        rows = cur.fetchall()
        inferred = self._infer(tokens, param_types, len(names))
        columns = []
        for i, name in enumerate(names):
            t, label = inferred[i] if inferred else (None, name)
            if t is None:
                t = _type_from_values([r[i] for r in rows])
            columns.append((label, t))
        if self.session.fmtonly:
            rows = []
        wire_rows = [[sqltypes.to_wire(t, v) for (_, t), v in zip(columns, r, strict=True)] for r in rows]
        self.session.rowcount = len(rows)
        disconnect = any(t.upper == "DBPOOL_DISCONNECT" for t in tokens)
        error_after = _script_args(tokens, "DBPOOL_ERROR_AFTER", 1)
        delay_after = _script_args(tokens, "DBPOOL_DELAY_AFTER", 2)
        row_delay = _script_args(tokens, "DBPOOL_ROW_DELAY", 1)
        return Result(columns=columns, rows=wire_rows, rowcount=len(rows), disconnect=disconnect,
                      error_after=int(error_after[0]) if error_after else None,
                      delay_after=(int(delay_after[0]), float(delay_after[1])) if delay_after else None,
                      row_delay=float(row_delay[0]) if row_delay else 0.0)

    def _infer(self, tokens: list[Tok], param_types: dict[str, SqlType], count: int):
        """[(type or None, column name)] from the select list, or None when unsure."""
        if tokens[0].upper != "SELECT":
            return None
        # The select list ends at the first top-level FROM/INTO/WHERE/... keyword.
        depth, end = 0, len(tokens)
        for k, t in enumerate(tokens):
            if t.is_op("("):
                depth += 1
            elif t.is_op(")"):
                depth -= 1
            elif depth == 0 and t.upper in ("FROM", "WHERE", "GROUP", "ORDER", "UNION", "HAVING",
                                            "EXCEPT", "INTERSECT", "INTO", "OPTION"):
                end = k
                break
        start = 1
        while start < end and tokens[start].upper in ("DISTINCT", "ALL"):
            start += 1
        if start < end and tokens[start].upper == "TOP":
            if tokens[start + 1].is_op("("):
                start = matching_paren(tokens, start + 1) + 1
            else:
                start += 2
        tables = self._from_tables(tokens, end)
        out: list[tuple[SqlType | None, str]] = []
        for item in split_top(tokens[start:end]):
            if not item:
                return None
            if item[-1].is_op("*"):
                qualifier = item[0].name.lower() if len(item) == 3 else None
                for alias, cols in tables:
                    if qualifier is None or qualifier == alias:
                        out.extend((t, n) for n, t in (cols or []))
                continue
            expr, alias = item, None
            if len(item) >= 3 and item[-2].upper == "AS":
                expr, alias = item[:-2], item[-1]
            elif len(item) >= 2 and item[-1].kind in ("ident", "qident", "str") and not (
                    item[-2].kind == "op" and item[-2].text != ")") and item[-2].upper not in ("CASE", "END", "ELSE", "THEN"):
                expr, alias = item[:-1], item[-1]
            t, default_name = self._infer_expr(expr, tables, param_types)
            label = (string_value(alias) if alias.kind == "str" else alias.name) if alias else default_name
            out.append((t, label))
        return out if len(out) == count else None

    def _from_tables(self, tokens: list[Tok], select_end: int):
        """[(alias, columns)] of the tables named after FROM / JOIN in this statement."""
        tables = []
        depth = 0
        k = select_end
        while k < len(tokens):
            t = tokens[k]
            if t.is_op("("):
                depth += 1
            elif t.is_op(")"):
                depth -= 1
            elif depth == 0 and (t.upper in ("FROM", "JOIN") or (t.is_op(",") and tables)) and k + 1 < len(tokens) \
                    and tokens[k + 1].kind in ("ident", "qident", "temp"):
                _, key, j = _table_name(tokens, k + 1)
                alias = key
                if j < len(tokens) and tokens[j].upper == "AS":
                    j += 1
                if j < len(tokens) and tokens[j].kind in ("ident", "qident") and tokens[j].upper not in (
                        "WHERE", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "ON", "GROUP", "ORDER",
                        "UNION", "HAVING", "OUTER", "OPTION", "WITH", "OFFSET"):
                    alias = tokens[j].name.lower()
                tables.append((alias, self.columns_of(key)))
            k += 1
        return tables

    def _infer_expr(self, expr: list[Tok], tables, param_types) -> tuple[SqlType | None, str]:
        if len(expr) == 1:
            t = expr[0]
            if t.kind in ("ident", "qident"):
                if t.upper == "NULL":
                    return SqlType("int"), ""
                return _lookup(tables, None, t.name), t.name
            if t.kind == "var":
                return param_types.get(t.text[1:].lower()), ""
            if t.kind == "num":
                return _number_type(t.text), ""
            if t.kind == "str":
                n = max(len(string_value(t)), 1)
                return (SqlType("nvarchar", n) if t.text[0] in "Nn" else SqlType("varchar", n)), ""
            if t.kind == "hex":
                return SqlType("varbinary", max((len(t.text) - 1) // 2, 1)), ""
            if t.kind == "sysvar":
                return _SYSVAR_TYPES.get(t.text.upper()), ""
            return None, ""
        if len(expr) == 3 and expr[1].is_op(".") and expr[2].kind in ("ident", "qident"):
            return _lookup(tables, expr[0].name.lower(), expr[2].name), expr[2].name
        if len(expr) == 2 and expr[0].is_op("-") and expr[1].kind == "num":
            return _number_type(expr[1].text), ""
        if expr[0].is_op("(") and matching_paren(expr, 0) == len(expr) - 1:
            return self._infer_expr(expr[1:-1], tables, param_types)
        if len(expr) >= 3 and expr[0].kind == "ident" and expr[1].is_op("(") and matching_paren(expr, 1) == len(expr) - 1:
            fn = expr[0].upper
            args = split_top(expr[2:-1])
            if fn in ("CAST", "TRY_CAST"):
                inner = expr[2:-1]
                as_at = max(k for k, x in enumerate(inner) if x.upper == "AS")
                return read_type(inner, as_at + 1, cast=True)[0], ""
            if fn in ("CONVERT", "TRY_CONVERT"):
                return read_type(args[0], 0, cast=True)[0], ""
            if fn == "COUNT":
                return SqlType("int"), ""
            if fn == "COUNT_BIG":
                return SqlType("bigint"), ""
            if fn in ("MIN", "MAX", "ISNULL", "COALESCE", "UPPER", "LOWER", "LTRIM", "RTRIM", "TRIM", "ABS"):
                return self._infer_expr(args[0], tables, param_types)[0], ""
            if fn in ("SUM", "AVG"):
                inner = self._infer_expr(args[0], tables, param_types)[0]
                if inner is None:
                    return None, ""
                if inner.name in ("tinyint", "smallint", "int", "bit"):
                    return SqlType("int"), ""
                if inner.name in ("decimal", "numeric"):
                    return SqlType("decimal", precision=38, scale=inner.scale if fn == "SUM" else max(inner.scale, 6)), ""
                return inner, ""
            if fn in ("LEN", "DATALENGTH"):
                return SqlType("int"), ""
            if fn == "GETDATE" or fn == "GETUTCDATE":
                return SqlType("datetime"), ""
            if fn in ("SYSDATETIME", "SYSUTCDATETIME"):
                return SqlType("datetime2", scale=7), ""
            if fn == "SYSDATETIMEOFFSET":
                return SqlType("datetimeoffset", scale=7), ""
            if fn == "NEWID":
                return SqlType("uniqueidentifier"), ""
            if fn == "SCOPE_IDENTITY":
                return SqlType("numeric", precision=38, scale=0), ""
            if fn == "DB_NAME":
                return SqlType("nvarchar", 128), ""
            if fn in ("DBPOOL_DISCONNECT", "DBPOOL_ERROR_AFTER", "DBPOOL_DELAY_AFTER", "DBPOOL_ROW_DELAY"):
                return SqlType("int"), ""
        return None, ""


_SYSVAR_TYPES = {"@@SPID": SqlType("smallint"), "@@TRANCOUNT": SqlType("int"),
                 "@@ROWCOUNT": SqlType("int"), "@@VERSION": SqlType("nvarchar", 300),
                 "@@SERVERNAME": SqlType("nvarchar", 128), "@@IDENTITY": SqlType("numeric", precision=38)}


def _script_args(tokens: list[Tok], name: str, count: int) -> list[str] | None:
    """The literal arguments of scripted-mode function `name` in the statement, if called:
    `dbpool_error_after(2)` -> ["2"]. Arguments must be number literals."""
    for k, t in enumerate(tokens):
        if t.upper == name and k + 1 < len(tokens) and tokens[k + 1].is_op("("):
            args = split_top(tokens[k + 2:matching_paren(tokens, k + 1)])
            if len(args) != count or any(len(a) != 1 or a[0].kind != "num" for a in args):
                raise SqlError(174, f"The {name.lower()} function requires {count} number literal argument(s).", 15)
            return [a[0].text for a in args]
    return None


def _lookup(tables, alias: str | None, column: str) -> SqlType | None:
    for table_alias, cols in tables:
        if alias is not None and alias != table_alias:
            continue
        for name, t in cols or []:
            if name.lower() == column.lower():
                return t
    return None


def _number_type(text: str) -> SqlType:
    if "e" in text.lower():
        return SqlType("float")
    if "." in text:
        whole, frac = text.split(".")
        digits = len(whole.lstrip("0")) + len(frac)
        return SqlType("numeric", precision=max(min(digits, 38), len(frac), 1), scale=len(frac))
    value = int(text)
    if value < 2**31:
        return SqlType("int")
    return SqlType("numeric", precision=len(text.lstrip("0")) or 1, scale=0)


def _type_from_values(values: list) -> SqlType:
    for v in values:
        if v is None:
            continue
        if isinstance(v, int):
            return SqlType("int") if -(2**31) <= v < 2**31 else SqlType("bigint")
        if isinstance(v, float):
            return SqlType("float")
        if isinstance(v, bytes):
            return SqlType("varbinary", -1)
        return SqlType("nvarchar", -1 if any(isinstance(x, str) and len(x) > 4000 for x in values) else 4000)
    return SqlType("int")


def translate_error(e: sqlite3.Error, sql: str) -> SqlError:
    """SQLite's complaint -> the error SQL Server gives for the same mistake."""
    text = str(e)
    if m := re.search(r"no such table: (?:\w+\.)?(\S+)", text):
        return SqlError(208, f"Invalid object name '{m.group(1)}'.", 16, 1)
    if m := re.search(r"no such column: (\S+)", text):
        return SqlError(207, f"Invalid column name '{m.group(1).split('.')[-1]}'.", 16, 1)
    if m := re.search(r'near "([^"]*)": syntax error', text):
        return SqlError(102, f"Incorrect syntax near '{m.group(1)}'.", 15, 1)
    if "syntax error" in text or "incomplete input" in text:
        return SqlError(102, "Incorrect syntax near the end of the statement.", 15, 1)
    if m := re.search(r"UNIQUE constraint failed: (\w+)\.", text):
        return SqlError(2627, f"Violation of PRIMARY KEY constraint 'PK_{m.group(1)}'. Cannot insert duplicate key in object 'dbo.{m.group(1)}'.", 14, 1)
    if m := re.search(r"NOT NULL constraint failed: (\w+)\.(\w+)", text):
        return SqlError(515, f"Cannot insert the value NULL into column '{m.group(2)}', table 'dbo.{m.group(1)}'; column does not allow nulls. INSERT fails.", 16, 2)
    if m := re.search(r"table (\S+) already exists", text):
        return SqlError(2714, f"There is already an object named '{m.group(1).strip(chr(34))}' in the database.", 16, 6)
    if "FOREIGN KEY constraint failed" in text:
        return SqlError(547, "The INSERT statement conflicted with the FOREIGN KEY constraint.", 16, 0)
    if "CHECK constraint failed" in text:
        return SqlError(547, "The INSERT statement conflicted with the CHECK constraint.", 16, 0)
    if "database is locked" in text:
        return SqlError(1222, "Lock request time out period exceeded.", 16, 45)
    if "wrong number of arguments" in text or "no such function" in text:
        fn = text.split(":")[-1].strip()
        return SqlError(195, f"'{fn}' is not a recognized built-in function name.", 15, 10)
    return SqlError(50000, f"Statement failed: {text}", 16, 1)


def bind_value(value):
    """An RPC parameter value -> what sqlite3 binds."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


def parse_param_declarations(text: str) -> dict[str, SqlType]:
    """'@P1 int, @P2 nvarchar(max) OUTPUT' -> {'p1': int, 'p2': nvarchar(max)}."""
    out: dict[str, SqlType] = {}
    if not text.strip():
        return out
    for part in split_top(tokenize(text)):
        if not part or part[0].kind != "var":
            raise SqlError(102, f"Incorrect syntax near '{part[0].text if part else ','}'.", 15)
        t, _ = read_type(part, 1)
        out[part[0].text[1:].lower()] = t
    return out
