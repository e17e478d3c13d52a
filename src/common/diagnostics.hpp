// Warnings the engine raises outside any call (leaked connections, health changes): sent to
// one process-wide sink, which the Python module points at logging.getLogger("db_pool").
#pragma once

#include <functional>
#include <string>

namespace dbpool {

/// Receives (pool_id, message). Called from engine threads; must not throw.
using WarningSink = std::function<void(const std::string& pool_id, const std::string& message)>;

/// Replaces the sink (an empty function restores the default, which writes to stderr).
void SetWarningSink(WarningSink sink);

/// Sends a warning to the current sink.
void Warn(const std::string& pool_id, const std::string& message);

}  // namespace dbpool
