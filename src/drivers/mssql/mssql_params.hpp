// Parameters bound through sp_executesql (an RPC with typed parameters): values never
// become SQL text. Positional `?` placeholders are renamed @P1, @P2...
#pragma once

#include <sybfront.h>
#include <sybdb.h>

#include <string>
#include <vector>

#include "dbpool/value.hpp"

namespace dbpool::mssql {

struct RpcParam {
  std::string name;  ///< "@P1" or "@name"
  int type = 0;      ///< db-lib type for dbrpcparam
  std::string data;  ///< the value's bytes (UTF-8 text, raw bytes, or a fixed-size number)
  bool null = false;
};

/// An sp_executesql call: @stmt, @params (declarations) and the values.
struct RpcCall {
  std::string statement;
  std::string declarations;  ///< "@P1 bigint, @P2 nvarchar(4000)"
  std::vector<RpcParam> values;
};

/// Replaces each `?` outside string literals, quoted identifiers and comments by @P1, @P2...
/// and returns how many there were.
int RenamePlaceholders(std::string& sql);

/// Builds the call for `sql` with `params`: positional values are @P1..@Pn (`?` in the SQL
/// is renamed; otherwise the SQL names @P1.. itself), named ones @name. Declared types:
/// bigint, float, bit, nvarchar(4000|max), varbinary(8000|max), and nvarchar(1) for NULL.
/// db-lib sends a zero-length value as NULL, so an empty string (or bytes) parameter is
/// passed as NULL and set to N'' (0x) by a SET at the start of the statement.
/// Throws DbError(kQuery) for a count mismatch or a name that is not an identifier.
RpcCall BuildRpc(const std::string& sql, const Params& params);

/// dbrpcinit/dbrpcparam/dbrpcsend for `call`; FAIL when db-lib refused (see the sink).
RETCODE SendRpc(DBPROCESS* dbproc, RpcCall& call);

}  // namespace dbpool::mssql
