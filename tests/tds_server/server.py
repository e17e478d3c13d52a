"""The TDS 7.4 test server: one asyncio task per connection, statements run on SQLite.

Sessions go PRELOGIN (encryption not supported) -> LOGIN7 (user and password checked) ->
requests (SQL batch, RPC sp_executesql), each answered with a token stream. An ATTENTION
while a request runs stops it and is acknowledged with DONE(DONE_ATTN).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import struct
import sys

import bulk
import engine
import wire
from sqltypes import SqlError
from tsql import split_statements, tokenize

SERVER_NAME = "dbpool-tds"
VERSION_TEXT = "Microsoft SQL Server 2022 (db-pool TDS test server) - 16.0.2000"
PROC_IDS = {10: "sp_executesql", 11: "sp_prepare", 12: "sp_execute", 13: "sp_prepexec",
            15: "sp_unprepare"}


class Disconnect(Exception):
    """Scripted mid-result disconnect: the connection is closed on purpose."""


class Server:
    def __init__(self, user: str, password: str, database: str, db_path: str,
                 verbose: bool = False) -> None:
        self.user = user
        self.password = password
        self.database = database
        self.db_path = db_path
        self.verbose = verbose
        self.spids = itertools.count(51)
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=64)
        self.sessions: set[Session] = set()

    def log(self, text: str) -> None:
        if self.verbose:
            print(text, file=sys.stderr, flush=True)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self.sessions.add(session)
        try:
            await session.run()
        except asyncio.CancelledError:
            pass  # the server is stopping
        finally:
            self.sessions.discard(session)


class Session:
    def __init__(self, server: Server, reader, writer) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.spid = next(server.spids)
        self.packet_size = 4096
        self.database = server.database
        self.nocount = False
        self.fmtonly = False
        self.bulk_target: tuple[str, str] | None = None  # announced by INSERT BULK
        self.trancount = 0
        self.rowcount = 0
        self.out = bytearray()
        self.conn = None
        self.engine: engine.Engine | None = None

    # ------------------------------------------------------------ session state for SQL

    def sysvars(self) -> dict[str, str]:
        return {"@@SPID": str(self.spid), "@@TRANCOUNT": str(self.trancount),
                "@@ROWCOUNT": str(self.rowcount), "@@VERSION": f"'{VERSION_TEXT}'",
                "@@SERVERNAME": f"'{SERVER_NAME}'", "@@IDENTITY": "last_insert_rowid()"}

    def check_database(self, name: str) -> None:
        if name.lower() not in (self.server.database.lower(), "master", "tempdb"):
            raise SqlError(911, f"Database '{name}' does not exist. Make sure that the name is entered correctly.", 16, 1)

    # ------------------------------------------------------------ packets

    async def read_message(self) -> tuple[int, bytes]:
        parts, ptype = [], None
        while True:
            header = await self.reader.readexactly(8)
            kind, status, length = struct.unpack(">BBH", header[:4])
            if length < 8:
                raise wire.ProtocolError("bad packet length")
            parts.append(await self.reader.readexactly(length - 8))
            ptype = kind if ptype is None else ptype
            if status & wire.STATUS_EOM:
                return ptype, b"".join(parts)

    async def flush(self, final: bool, partial: bool = False) -> None:
        """Sends the buffered tokens: whole packets only, unless `final` ends the message
        or `partial` sends the rest as a short packet without EOM (before a scripted pause)."""
        body = self.packet_size - 8
        while self.out or final:
            if len(self.out) <= body and not final and not partial:
                break  # a partial packet waits for more tokens
            chunk = bytes(self.out[:body])
            del self.out[:body]
            last = final and not self.out
            self.writer.write(wire.packet_header(wire.PKT_REPLY, wire.STATUS_EOM if last else 0,
                                                 len(chunk) + 8, self.spid, 1) + chunk)
            if last:
                break
        await self.writer.drain()

    async def emit(self, data: bytes) -> None:
        self.out += data
        if len(self.out) >= self.packet_size * 4:
            await self.flush(False)

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        try:
            ptype, payload = await self.read_message()
            if ptype == wire.PKT_PRELOGIN:
                self.writer.write(b"".join(wire.packetize(self.prelogin_reply(payload), 4096, 0)))
                await self.writer.drain()
                ptype, payload = await self.read_message()
            if ptype != wire.PKT_LOGIN7 or not await self.login(payload):
                return
            await self.serve()
        except (asyncio.IncompleteReadError, ConnectionError, wire.ProtocolError, Disconnect) as e:
            self.server.log(f"spid {self.spid}: {type(e).__name__}: {e}")
        finally:
            if self.conn is not None:
                conn, self.conn = self.conn, None
                _close(conn)  # quick: a rollback at most
            self.writer.close()

    def prelogin_reply(self, payload: bytes) -> bytes:
        options = [(0x00, bytes([16, 0, 0x07, 0xD0, 0, 0])),  # VERSION 16.0.2000
                   (0x01, bytes([0x02])),                     # ENCRYPTION: ENCRYPT_NOT_SUP
                   (0x02, b"\x00"),                           # INSTOPT
                   (0x03, b""),                               # THREADID
                   (0x04, b"\x00")]                           # MARS off
        offset = len(options) * 5 + 1
        head, data = bytearray(), bytearray()
        for token, value in options:
            head += struct.pack(">BHH", token, offset + len(data), len(value))
            data += value
        return bytes(head) + b"\xff" + bytes(data)

    async def login(self, payload: bytes) -> bool:
        r = wire.Reader(payload)
        r.take(4)  # length
        tds_version = struct.unpack("<I", r.take(4))[0]
        packet_size = r.u32()
        r.take(12)
        option_flags3 = payload[27]

        def field(offset: int) -> bytes:
            ib, cch = struct.unpack("<HH", payload[offset:offset + 4])
            return payload[ib:ib + cch * 2]

        user = wire.ucs2(field(40))
        password = bytes(((b ^ 0xA5) << 4 & 0xF0) | ((b ^ 0xA5) >> 4) for b in field(44))
        password_text = password.decode("utf-16-le", errors="replace")
        database = wire.ucs2(field(68)) or self.server.database
        self.server.log(f"spid {self.spid}: LOGIN7 tds=0x{tds_version:08X} user={user} db={database} packet={packet_size}")
        if packet_size:
            self.packet_size = max(512, min(packet_size, 32767))
        if user != self.server.user or password_text != self.server.password:
            await self.emit(wire.message(wire.TOK_ERROR, 18456, 1, 14, f"Login failed for user '{user}'.", SERVER_NAME))
            await self.emit(wire.done(wire.DONE_ERROR, curcmd=0))
            await self.flush(True)
            return False
        try:
            self.check_database(database)
        except SqlError:
            await self.emit(wire.message(wire.TOK_ERROR, 4060, 1, 11, f'Cannot open database "{database}" requested by the login. The login failed.', SERVER_NAME))
            await self.emit(wire.message(wire.TOK_ERROR, 18456, 1, 14, f"Login failed for user '{user}'.", SERVER_NAME))
            await self.emit(wire.done(wire.DONE_ERROR, curcmd=0))
            await self.flush(True)
            return False
        self.database = database
        loop = asyncio.get_running_loop()
        self.conn = await loop.run_in_executor(self.server.executor, engine.open_database,
                                               self.server.db_path, self)
        self.engine = engine.Engine(self.conn, self)
        await self.emit(wire.envchange(1, database, "master"))
        await self.emit(wire.message(wire.TOK_INFO, 5701, 2, 0, f"Changed database context to '{database}'.", SERVER_NAME))
        await self.emit(wire.envchange(7, wire.COLLATION, b""))
        await self.emit(wire.envchange(2, "us_english", ""))
        await self.emit(wire.message(wire.TOK_INFO, 5703, 1, 0, "Changed language setting to us_english.", SERVER_NAME))
        await self.emit(wire.loginack())
        await self.emit(wire.envchange(4, str(self.packet_size), "4096"))
        if option_flags3 & 0x10:  # fExtension: the client sent FeatureExt
            await self.emit(bytes([wire.TOK_FEATUREEXTACK, 0xFF]))
        await self.emit(wire.done(wire.DONE_FINAL, curcmd=0))
        await self.flush(True)
        return True

    async def serve(self) -> None:
        next_message = asyncio.ensure_future(self.read_message())
        try:
            while True:
                ptype, payload = await next_message
                next_message = asyncio.ensure_future(self.read_message())
                if ptype == wire.PKT_ATTENTION:  # arrived after the reply: acknowledge anyway
                    self.out.clear()
                    await self.emit(wire.done(wire.DONE_ATTN, curcmd=0))
                    await self.flush(True)
                    continue
                request = asyncio.ensure_future(self.request(ptype, payload))
                done, _ = await asyncio.wait({request, next_message},
                                             return_when=asyncio.FIRST_COMPLETED)
                if request in done:
                    request.result()  # Disconnect and protocol errors end the session
                    continue
                # A message while the request runs: an ATTENTION (or the connection closed).
                try:
                    ptype, _ = next_message.result()
                except BaseException:
                    request.cancel()
                    raise
                next_message = asyncio.ensure_future(self.read_message())
                if ptype != wire.PKT_ATTENTION:
                    raise wire.ProtocolError("a request arrived while another was running")
                request.cancel()
                try:
                    await request
                except asyncio.CancelledError:
                    pass
                self.server.log(f"spid {self.spid}: attention")
                await self.emit(wire.done(wire.DONE_ATTN, curcmd=0))
                await self.flush(True)
        finally:
            next_message.cancel()

    # ------------------------------------------------------------ requests

    async def request(self, ptype: int, payload: bytes) -> None:
        self.out.clear()
        if ptype == wire.PKT_SQL_BATCH:
            r = wire.Reader(payload)
            wire.skip_all_headers(r)
            sql = wire.ucs2(payload[r.pos:])
            self.server.log(f"spid {self.spid}: batch {sql[:200]!r}")
            await self.execute(sql, {}, {}, in_proc=False)
        elif ptype == wire.PKT_RPC:
            await self.rpc(payload)
        elif ptype == bulk.PKT_BULK_LOAD:
            await self.bulk_load(payload)
        else:
            raise wire.ProtocolError(f"unsupported packet type 0x{ptype:02X}")
        await self.flush(True)

    async def bulk_load(self, payload: bytes) -> None:
        target, self.bulk_target = self.bulk_target, None
        loop = asyncio.get_running_loop()
        try:
            try:
                count = await loop.run_in_executor(self.server.executor, bulk.insert, self.engine, target, payload)
            except (wire.ProtocolError, ValueError, KeyError) as e:  # a bulk stream we cannot read
                raise SqlError(4804, f"TDS test server: cannot read the bulk load: {type(e).__name__}: {e}", 16, 1) from None
        except SqlError as e:
            self.server.log(f"spid {self.spid}: bulk load error {e.number}: {e.text}")
            await self.emit(wire.message(wire.TOK_ERROR, e.number, e.state, e.klass, e.text, SERVER_NAME))
            await self.emit(wire.done(wire.DONE_ERROR | (wire.DONE_INXACT if self.trancount else 0)))
            return
        self.server.log(f"spid {self.spid}: bulk load of {count} rows into {target[1]}")
        self.rowcount = count
        await self.emit(wire.done(wire.DONE_COUNT | (wire.DONE_INXACT if self.trancount else 0), count))

    async def rpc(self, payload: bytes) -> None:
        r = wire.Reader(payload)
        wire.skip_all_headers(r)
        name_len = r.u16()
        name = PROC_IDS.get(r.u16(), "?") if name_len == 0xFFFF else wire.ucs2(r.take(name_len * 2))
        r.u16()  # option flags
        params = []
        while not r.at_end():
            if payload[r.pos] in (0x80, 0xFF):
                break  # batch separator: only one RPC per request is supported
            pname = wire.ucs2(r.take(r.u8() * 2))
            r.u8()  # status flags (output parameter...)
            info = wire.read_type_info(r)
            params.append((pname, info, wire.read_value(r, info)))
        self.server.log(f"spid {self.spid}: rpc {name} {[(p[0], hex(p[1]['type']), p[2]) for p in params]!r}"[:400])
        try:
            if name.lower() != "sp_executesql":
                raise SqlError(2812, f"Could not find stored procedure '{name}'.", 16, 62)
            if not params:
                raise SqlError(201, "Procedure or function 'sp_executesql' expects parameter '@statement', which was not supplied.", 16, 4)
            stmt_info, stmt = params[0][1], params[0][2]
            if stmt_info["type"] not in (wire.NVARCHAR, wire.NCHAR, wire.NTEXT):
                raise SqlError(214, "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.", 16, 2)
            declared = engine.parse_param_declarations(params[1][2] or "") if len(params) > 1 else {}
            values = {}
            names = list(declared)
            for k, (pname, _, value) in enumerate(params[2:]):
                key = pname[1:].lower() if pname else (names[k] if k < len(names) else f"p{k}")
                if key not in declared:
                    raise SqlError(8145, f"{pname} is not a parameter for procedure sp_executesql.", 16, 1)
                values[key] = engine.bind_value(value)
            for key in declared:
                if key not in values:
                    raise SqlError(8178, f"The parameterized query '({params[1][2]})' expects the parameter '@{key}', which was not supplied.", 16, 1)
        except SqlError as e:
            await self.emit(wire.message(wire.TOK_ERROR, e.number, e.state, e.klass, e.text, SERVER_NAME, name))
            await self.emit(wire.done(wire.DONE_ERROR, token=wire.TOK_DONEPROC, curcmd=0xE0))
            return
        await self.execute(stmt or "", values, declared, in_proc=True)

    async def execute(self, sql: str, params: dict, types: dict, in_proc: bool) -> None:
        done_token = wire.TOK_DONEINPROC if in_proc else wire.TOK_DONE
        failed = False
        try:
            statements = split_statements(tokenize(sql))
            for n, stmt in enumerate(statements):
                last = n == len(statements) - 1 and not in_proc
                result = await self.run_sql(stmt, params, types)
                for number, text in result.infos:
                    await self.emit(wire.message(wire.TOK_INFO, number, 1, 0, text, SERVER_NAME))
                if result.new_database:
                    await self.emit(wire.envchange(1, result.new_database, self.database))
                    self.database = result.new_database
                if result.sleep:
                    await self.flush(False)
                    await asyncio.sleep(result.sleep)
                if result.columns is not None:
                    await self.emit(wire.colmetadata(result.columns))
                    for k, row in enumerate(result.rows):
                        if result.error_after is not None and k == result.error_after:
                            raise SqlError(8134, "Divide by zero error encountered. (scripted: dbpool_error_after)", 16, 1)
                        if result.delay_after is not None and k == result.delay_after[0]:
                            await self.flush(False, partial=True)  # the client sees rows, then waits
                            await asyncio.sleep(result.delay_after[1])
                        await self.emit(wire.row(result.columns, row))
                        if result.row_delay:  # rows trickle in, like a slow query's
                            await self.flush(False, partial=True)
                            await asyncio.sleep(result.row_delay)
                        if result.disconnect:
                            await self.flush(False)
                            self.writer.close()
                            raise Disconnect("scripted disconnect (dbpool_disconnect())")
                    if result.error_after is not None and result.error_after >= len(result.rows):
                        raise SqlError(8134, "Divide by zero error encountered. (scripted: dbpool_error_after)", 16, 1)
                status = (0 if last else wire.DONE_MORE) | (wire.DONE_INXACT if self.trancount else 0)
                if result.rowcount is not None and not self.nocount:
                    status |= wire.DONE_COUNT
                await self.emit(wire.done(status, result.rowcount or 0, token=done_token))
            if not statements and not in_proc:
                await self.emit(wire.done(wire.DONE_FINAL))
        except Disconnect:
            raise
        except Exception as e:  # a bug or an unsupported value: an error, not a lost session
            failed = True
            if not isinstance(e, SqlError):
                e = SqlError(50000, f"TDS test server: {type(e).__name__}: {e}", 16, 1)
            self.server.log(f"spid {self.spid}: error {e.number}: {e.text}")
            await self.emit(wire.message(wire.TOK_ERROR, e.number, e.state, e.klass, e.text, SERVER_NAME,
                                         "sp_executesql" if in_proc else ""))
            status = wire.DONE_ERROR | (wire.DONE_INXACT if self.trancount else 0)
            await self.emit(wire.done(status, token=done_token if in_proc else wire.TOK_DONE))
        if in_proc:
            await self.emit(wire.returnstatus(0))
            await self.emit(wire.done(wire.DONE_ERROR if failed else wire.DONE_FINAL,
                                      token=wire.TOK_DONEPROC, curcmd=0xE0))

    async def run_sql(self, stmt, params, types) -> engine.Result:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.server.executor, self.engine.run, stmt, params, types)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The statement keeps the SQLite handle until it ends: interrupt it and wait, so
            # that the next request never finds the handle busy.
            self.conn.interrupt()
            try:
                await future
            except Exception:
                pass
            raise


def _close(conn) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    finally:
        conn.close()
