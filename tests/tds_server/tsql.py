"""A small T-SQL tokenizer and the rewrites that let SQLite run simple T-SQL statements."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqltypes import SqlError, SqlType, parse_type

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<str>[Nn]?'(?:[^']|'')*')
  | (?P<hex>0[xX][0-9A-Fa-f]*)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<qident>\[(?:[^\]]|\]\])*\]|"(?:[^"]|"")*")
  | (?P<sysvar>@@\w+)
  | (?P<var>@\w+)
  | (?P<temp>\#\#?\w+)
  | (?P<ident>[A-Za-z_][\w$]*)
  | (?P<op><=|>=|<>|!=|\|\||[(),;.+\-*/%=<>&|^~])
""", re.VERBOSE | re.DOTALL)


@dataclass
class Tok:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "ident" else ""

    @property
    def name(self) -> str:
        """Identifier text without brackets or quotes."""
        if self.kind == "qident":
            return self.text[1:-1].replace("]]", "]").replace('""', '"')
        return self.text

    def is_op(self, text: str) -> bool:
        return self.kind == "op" and self.text == text


def tokenize(sql: str) -> list[Tok]:
    tokens, pos = [], 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if not m:
            near = sql[pos:pos + 10]
            raise SqlError(102, f"Incorrect syntax near '{near}'.", 15)
        pos = m.end()
        kind = m.lastgroup
        if kind in ("ws", "comment"):
            continue
        tokens.append(Tok(kind, m.group()))
    return tokens


def split_statements(tokens: list[Tok]) -> list[list[Tok]]:
    out, current, depth = [], [], 0
    for t in tokens:
        if t.is_op("("):
            depth += 1
        elif t.is_op(")"):
            depth -= 1
        if t.is_op(";") and depth == 0:
            if current:
                out.append(current)
            current = []
            continue
        current.append(t)
    if current:
        out.append(current)
    return out


def split_top(tokens: list[Tok], sep: str = ",") -> list[list[Tok]]:
    """Splits at top-level `sep` (outside parentheses)."""
    out, current, depth = [], [], 0
    for t in tokens:
        if t.is_op("("):
            depth += 1
        elif t.is_op(")"):
            depth -= 1
        if depth == 0 and t.is_op(sep):
            out.append(current)
            current = []
            continue
        current.append(t)
    out.append(current)
    return out


def matching_paren(tokens: list[Tok], open_index: int) -> int:
    depth = 0
    for i in range(open_index, len(tokens)):
        if tokens[i].is_op("("):
            depth += 1
        elif tokens[i].is_op(")"):
            depth -= 1
            if depth == 0:
                return i
    raise SqlError(102, "Incorrect syntax near '('.", 15)


def type_text(tokens: list[Tok]) -> str:
    return " ".join(t.text for t in tokens)


def read_type(tokens: list[Tok], i: int, cast: bool = False) -> tuple[SqlType, int]:
    """Parses a type name (with optional (args)) at tokens[i]; returns it and the next index."""
    if i >= len(tokens) or tokens[i].kind not in ("ident", "qident"):
        raise SqlError(102, "Incorrect syntax near the type name.", 15)
    name = tokens[i].name
    j = i + 1
    if name.lower() == "double" and j < len(tokens) and tokens[j].upper == "PRECISION":
        name, j = "double precision", j + 1
    if j < len(tokens) and tokens[j].is_op("("):
        end = matching_paren(tokens, j)
        name += "(" + "".join(t.text for t in tokens[j + 1:end]) + ")"
        j = end + 1
    return parse_type(name, cast=cast), j


def render(tokens: list[Tok]) -> str:
    out = []
    for i, t in enumerate(tokens):
        if t.is_op("-") and i + 1 < len(tokens) and tokens[i + 1].kind == "num" \
                and _needs_exact(tokens[i + 1].text) \
                and (i == 0 or tokens[i - 1].kind == "op" and tokens[i - 1].text != ")"):
            tokens[i + 1] = Tok("num", "-" + tokens[i + 1].text)  # a negative exact literal
            continue
        if t.kind == "str" and t.text[0] in "Nn":
            out.append(t.text[1:])
        elif t.kind == "hex":
            digits = t.text[2:]
            out.append(f"X'{digits if len(digits) % 2 == 0 else '0' + digits}'")
        elif t.kind == "var":
            out.append(t.text.lower())  # parameters are bound by lower-case name
        elif t.kind == "temp":
            out.append('"' + t.text + '"')
        elif t.kind == "num" and _needs_exact(t.text):
            out.append("'" + t.text + "'")  # keeps all digits (SQLite would make a double)
        else:
            out.append(t.text)
    return " ".join(out)


def _needs_exact(text: str) -> bool:
    if "e" in text.lower():
        return False
    digits = text.lstrip("-").replace(".", "").lstrip("0")
    return "." in text and len(digits) > 15


def string_value(tok: Tok) -> str:
    text = tok.text[1:] if tok.text[0] in "Nn" else tok.text
    return text[1:-1].replace("''", "'")


_FUNCTION_RENAMES = {"GETDATE": "getdate", "SYSDATETIME": "sysdatetime",
                     "SYSUTCDATETIME": "sysutcdatetime", "GETUTCDATE": "getutcdate",
                     "SYSDATETIMEOFFSET": "sysdatetimeoffset", "NEWID": "newid", "LEN": "len",
                     "DATALENGTH": "datalength", "ISNULL": "isnull",
                     "SCOPE_IDENTITY": "last_insert_rowid", "DB_NAME": "db_name"}


def rewrite(tokens: list[Tok], sysvars: dict[str, str]) -> list[Tok]:
    """T-SQL -> SQLite at the token level: CAST/CONVERT target types to storage classes,
    TOP n and OFFSET/FETCH to LIMIT, @@variables to their values."""
    out: list[Tok] = []
    limit: str | None = None
    offset: str | None = None
    i = 0
    while i < len(tokens):
        t = tokens[i]
        up = t.upper
        if t.kind == "sysvar":
            out.append(Tok("num" if sysvars.get(t.text.upper(), "'").isdigit() else "str",
                           sysvars.get(t.text.upper(), "NULL")))
            i += 1
            continue
        if up in ("CAST", "TRY_CAST") and i + 1 < len(tokens) and tokens[i + 1].is_op("("):
            end = matching_paren(tokens, i + 1)
            inner = tokens[i + 2:end]
            as_at = max(k for k, x in enumerate(inner) if x.upper == "AS") if any(
                x.upper == "AS" for x in inner) else -1
            if as_at < 0:
                raise SqlError(102, "Incorrect syntax near 'CAST'.", 15)
            target, _ = read_type(inner, as_at + 1, cast=True)
            out += [Tok("ident", "CAST"), Tok("op", "(")] + rewrite(inner[:as_at], sysvars)
            out += [Tok("ident", "AS"), Tok("ident", target.sqlite_affinity()), Tok("op", ")")]
            i = end + 1
            continue
        if up in ("CONVERT", "TRY_CONVERT") and i + 1 < len(tokens) and tokens[i + 1].is_op("("):
            end = matching_paren(tokens, i + 1)
            parts = split_top(tokens[i + 2:end])
            target, _ = read_type(parts[0], 0, cast=True)
            out += [Tok("ident", "CAST"), Tok("op", "(")] + rewrite(parts[1], sysvars)
            out += [Tok("ident", "AS"), Tok("ident", target.sqlite_affinity()), Tok("op", ")")]
            i = end + 1
            continue
        if up == "TOP" and out and out[-1].upper in ("SELECT", "DISTINCT", "ALL"):
            if i + 1 < len(tokens) and tokens[i + 1].is_op("("):
                end = matching_paren(tokens, i + 1)
                limit = " ".join(x.text for x in tokens[i + 2:end])
                i = end + 1
            else:
                limit = tokens[i + 1].text
                i += 2
            continue
        if up == "OFFSET" and i + 2 < len(tokens) and tokens[i + 2].upper in ("ROW", "ROWS"):
            offset = tokens[i + 1].text
            i += 3
            if i < len(tokens) and tokens[i].upper == "FETCH":
                limit = tokens[i + 2].text  # FETCH NEXT n ROWS ONLY
                i += 5
            continue
        if up in _FUNCTION_RENAMES and i + 1 < len(tokens) and tokens[i + 1].is_op("("):
            out.append(Tok("ident", _FUNCTION_RENAMES[up]))
            i += 1
            continue
        if up in ("CLUSTERED", "NONCLUSTERED"):
            i += 1
            continue
        out.append(t)
        i += 1
    if limit is not None or offset is not None:
        out += [Tok("ident", "LIMIT"), Tok("num", limit if limit is not None else "-1")]
        if offset is not None:
            out += [Tok("ident", "OFFSET"), Tok("num", offset)]
    return out
