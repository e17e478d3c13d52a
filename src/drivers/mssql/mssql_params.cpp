// sp_executesql calls: placeholder renaming, declarations and db-lib parameter binding.
#include "drivers/mssql/mssql_params.hpp"

#include <cctype>
#include <cstring>

#include "dbpool/error.hpp"

namespace dbpool::mssql {
namespace {

constexpr size_t kMaxNVarChar = 4000;   // UTF-16 code units of nvarchar(n)
constexpr size_t kMaxVarBinary = 8000;  // bytes of varbinary(n)
constexpr DBINT kLongTextBytes = 4000;  // see SendRpc

// UTF-16 code units of a UTF-8 string: one per character, two above U+FFFF.
size_t Utf16Units(const std::string& text) {
  size_t units = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++units;  // a lead byte starts a character
    if (c >= 0xF0) ++units;           // 4-byte sequences need a surrogate pair
  }
  return units;
}

bool IsIdentifier(const std::string& name) {
  if (name.empty() || name.size() > 127) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (unsigned char c : name) {
    if (!(std::isalnum(c) || c == '_')) return false;
  }
  return true;
}

template <typename T>
std::string Bytes(T value) {
  std::string out(sizeof(T), '\0');
  std::memcpy(out.data(), &value, sizeof(T));
  return out;
}

}  // namespace

int RenamePlaceholders(std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int count = 0;
  const size_t n = sql.size();
  for (size_t i = 0; i < n;) {
    char c = sql[i];
    if (c == '\'' || c == '"' || c == '[') {
      // 'text' and "identifier" double the quote to escape it; [identifier] doubles ].
      char close = c == '[' ? ']' : c;
      size_t j = i + 1;
      while (j < n) {
        if (sql[j] == close) {
          if (j + 1 < n && sql[j + 1] == close) {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      size_t end = j < n ? j + 1 : n;
      out.append(sql, i, end - i);
      i = end;
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      end = end == std::string::npos ? n : end;
      out.append(sql, i, end - i);
      i = end;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      // T-SQL block comments nest.
      size_t j = i + 2;
      int depth = 1;
      while (j < n && depth > 0) {
        if (sql[j] == '/' && j + 1 < n && sql[j + 1] == '*') {
          ++depth;
          j += 2;
        } else if (sql[j] == '*' && j + 1 < n && sql[j + 1] == '/') {
          --depth;
          j += 2;
        } else {
          ++j;
        }
      }
      out.append(sql, i, j - i);
      i = j;
    } else if (c == '?') {
      out += "@P" + std::to_string(++count);
      ++i;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  if (count > 0) sql = std::move(out);
  return count;
}

RpcCall BuildRpc(const std::string& sql, const Params& params) {
  RpcCall call;
  call.statement = sql;
  const bool named = !params.names.empty();
  if (named) {
    if (params.names.size() != params.values.size()) {
      throw DbError(ErrorKind::kQuery, "named parameters: " + std::to_string(params.names.size()) +
                                           " name(s) for " +
                                           std::to_string(params.values.size()) + " value(s)");
    }
  } else {
    int placeholders = RenamePlaceholders(call.statement);
    if (placeholders > 0 && static_cast<size_t>(placeholders) != params.values.size()) {
      throw DbError(ErrorKind::kQuery,
                    "the statement has " + std::to_string(placeholders) +
                        " placeholder(s) but " + std::to_string(params.values.size()) +
                        " value(s) were given",
                    "07002");
    }
  }
  std::string prefix;
  for (size_t i = 0; i < params.values.size(); ++i) {
    RpcParam param;
    if (named) {
      std::string name = params.names[i];
      if (!name.empty() && (name[0] == '@' || name[0] == ':' || name[0] == '$')) name.erase(0, 1);
      // Names are written into the declarations, so only plain identifiers are accepted.
      if (!IsIdentifier(name)) {
        throw DbError(ErrorKind::kQuery, "parameter name '" + params.names[i] +
                                             "' is not an identifier (letters, digits, _)");
      }
      param.name = "@" + name;
    } else {
      param.name = "@P" + std::to_string(i + 1);
    }
    std::string declared;
    const Value& value = params.values[i];
    switch (value.index()) {
      case 0:
        declared = "nvarchar(1)";
        param.type = SYBVARCHAR;
        param.null = true;
        break;
      case 1:
        declared = "bit";
        param.type = SYBBIT;
        param.data = std::string(1, std::get<bool>(value) ? '\1' : '\0');
        break;
      case 2:
        declared = "bigint";
        param.type = SYBINT8;
        param.data = Bytes<int64_t>(std::get<int64_t>(value));
        break;
      case 3:
        declared = "float";
        param.type = SYBFLT8;
        param.data = Bytes<double>(std::get<double>(value));
        break;
      case 4: {
        const auto& text = std::get<std::string>(value);
        declared = Utf16Units(text) <= kMaxNVarChar ? "nvarchar(4000)" : "nvarchar(max)";
        param.type = SYBVARCHAR;  // db-lib sends it as nvarchar (UTF-8 -> UCS-2) on TDS 7+
        param.data = text;
        if (text.empty()) {
          param.null = true;
          prefix += "SET " + param.name + " = N'';";
        }
        break;
      }
      case 5: {
        const auto& bytes = std::get<dbpool::Bytes>(value).data;
        declared = bytes.size() <= kMaxVarBinary ? "varbinary(8000)" : "varbinary(max)";
        param.type = SYBVARBINARY;
        param.data = bytes;
        if (bytes.empty()) {
          param.null = true;
          prefix += "SET " + param.name + " = 0x;";
        }
        break;
      }
    }
    if (!call.declarations.empty()) call.declarations += ", ";
    call.declarations += param.name + " " + declared;
    call.values.push_back(std::move(param));
  }
  if (!prefix.empty()) call.statement = prefix + " " + call.statement;
  return call;
}

RETCODE SendRpc(DBPROCESS* dbproc, RpcCall& call) {
  if (dbrpcinit(dbproc, "sp_executesql", 0) == FAIL) return FAIL;
  auto add = [dbproc](const char* name, int type, std::string* data, bool null) {
    DBINT length = -1;  // fixed-size types
    if (type == SYBVARCHAR || type == SYBVARBINARY) {
      length = null ? 0 : static_cast<DBINT>(data->size());
    }
    // db-lib sends SYBVARCHAR as nvarchar only below 4000 bytes, and converts longer text to
    // the server's code page (failing on other characters); SYBNTEXT stays Unicode.
    if (type == SYBVARCHAR && length >= kLongTextBytes) type = SYBNTEXT;
    // Likewise binary above 8000 bytes would be cut to 8000; SYBIMAGE keeps it whole.
    if (type == SYBVARBINARY && length > static_cast<DBINT>(kMaxVarBinary)) type = SYBIMAGE;
    BYTE* bytes = null ? nullptr : reinterpret_cast<BYTE*>(data->data());
    return dbrpcparam(dbproc, name, 0, type, -1, length, bytes);
  };
  if (add("@stmt", SYBVARCHAR, &call.statement, false) == FAIL) return FAIL;
  if (!call.values.empty() &&
      add("@params", SYBVARCHAR, &call.declarations, false) == FAIL) {
    return FAIL;
  }
  for (auto& param : call.values) {
    if (add(param.name.c_str(), param.type, &param.data, param.null) == FAIL) return FAIL;
  }
  return dbrpcsend(dbproc);
}

}  // namespace dbpool::mssql
