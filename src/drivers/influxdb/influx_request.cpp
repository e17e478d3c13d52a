// Building /query requests: which statements are read-only (GET) and the `params` JSON
// object for InfluxQL bound parameters; URL encoding.
#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

#include "drivers/influxdb/influx_connection.hpp"

namespace dbpool::influxdb {
namespace {

void JsonString(std::string_view text, std::string& out) {
  static const char* kHex = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

}  // namespace

std::string UrlEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + 16);
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool IsReadOnly(std::string_view sql) {
  // Words outside quotes and comments; a statement starts at the text's start or after ';'.
  bool statement_start = true;
  bool select = false;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      char quote = c;
      for (++i; i < sql.size() && sql[i] != quote; ++i) {
        if (sql[i] == '\\') ++i;
      }
      ++i;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else if (c == ';') {
      statement_start = true;
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      size_t begin = i;
      while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) ++i;
      std::string word(sql.substr(begin, i - begin));
      for (auto& ch : word) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (statement_start) {
        statement_start = false;
        select = word == "SELECT";
        if (!select && word != "SHOW" && word != "EXPLAIN") return false;
      } else if (select && word == "INTO") {
        return false;
      }
    } else {
      ++i;
    }
  }
  return true;
}

std::string ParamsJson(const Params& params) {
  std::string out = "{";
  for (size_t i = 0; i < params.values.size(); ++i) {
    std::string name = params.names.empty() ? std::to_string(i + 1) : params.names[i];
    if (!name.empty() && name.front() == '$') name.erase(0, 1);
    if (i > 0) out.push_back(',');
    JsonString(name, out);
    out.push_back(':');
    const Value& v = params.values[i];
    if (std::holds_alternative<std::monostate>(v) || std::holds_alternative<Bytes>(v)) {
      throw DbError(ErrorKind::kDataConversion,
                    "InfluxDB: parameter $" + name + " is " +
                        (std::holds_alternative<Bytes>(v) ? "bytes" : "NULL") +
                        ", which InfluxQL cannot bind (use an integer, float, string or bool)");
    }
    if (const bool* b = std::get_if<bool>(&v)) {
      out += *b ? "true" : "false";
    } else if (const int64_t* n = std::get_if<int64_t>(&v)) {
      out += std::to_string(*n);
    } else if (const double* d = std::get_if<double>(&v)) {
      if (!std::isfinite(*d)) {
        throw DbError(ErrorKind::kDataConversion, "InfluxDB: parameter $" + name + " is not finite");
      }
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof(buf), *d);
      std::string text(buf, r.ptr);
      // InfluxDB reads a number without '.' or exponent as an integer.
      if (text.find_first_of(".eE") == std::string::npos) text += ".0";
      out += text;
    } else {
      JsonString(std::get<std::string>(v), out);
    }
  }
  out.push_back('}');
  return out;
}

}  // namespace dbpool::influxdb
