// Redis command arguments: building them from command text and parameters, rejecting the
// commands a pooled connection cannot take, and telling which commands may share a
// connection with others in flight (pipelined) and which need one of their own.
#pragma once

#include <string>
#include <vector>

#include "dbpool/value.hpp"

namespace dbpool::redis {

/// Builds the argument list of a command: `sql` split like redis-cli, then each parameter
/// (text and bytes as-is, integers and doubles in decimal, bool as "1"/"0"). Throws
/// DbError: kQuery for an empty command, unbalanced quotes, named parameters or a command
/// that would break a pooled connection (SUBSCRIBE, MONITOR, SELECT, ...);
/// kDataConversion for a NULL argument (naming it).
std::vector<std::string> BuildCommand(const std::string& sql, const Params& params);

/// False for commands that must not be pipelined with other callers' commands: those that
/// block the connection (BLPOP and the other B* pops, BLMOVE, XREAD/XREADGROUP with BLOCK,
/// WAIT, WAITAOF), open or watch a transaction (MULTI, EXEC, DISCARD, WATCH, UNWATCH), or
/// change or end the session (CLIENT ..., QUIT, READONLY, READWRITE, ASKING, DEBUG).
/// `args` is a command from BuildCommand.
bool IsMultiplexable(const std::vector<std::string>& args);

/// IsMultiplexable for a command not built yet; false when it cannot be built (the call
/// then runs alone and reports the error).
bool IsMultiplexable(const std::string& sql, const Params& params);

}  // namespace dbpool::redis
