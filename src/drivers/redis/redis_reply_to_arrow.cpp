// Reply trees -> Arrow columns: infer the column type from the RESP type tags, then append.
#include "drivers/redis/redis_reply_to_arrow.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <string_view>

#include "arrow/builder.hpp"
#include "arrow/utf8.hpp"
#include "dbpool/error.hpp"

namespace dbpool::redis {
namespace {

using arrow::DataType;
using arrow::Field;
using arrow::TypeId;

std::string Upper(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Commands whose first argument is a subcommand that decides the reply's meaning.
bool HasSubcommand(const std::string& name) {
  static const std::set<std::string> kContainers = {
      "ACL",     "CLIENT",  "CLUSTER", "COMMAND", "CONFIG",   "FUNCTION", "LATENCY", "MEMORY",
      "MODULE",  "OBJECT",  "PUBSUB",  "SCRIPT",  "SLOWLOG",  "XGROUP",   "XINFO"};
  return kContainers.count(name) != 0;
}

Field MakeField(const char* name, DataType type) {
  Field field;
  field.name = name;
  field.type = std::move(type);
  return field;
}

bool IsMapList(const DataType& type) {
  return type.id == TypeId::kList && type.children[0].type.id == TypeId::kStruct;
}

DataType MapListType(DataType key, DataType value) {
  return DataType::List(MakeField("entries", DataType::Struct({MakeField("key", std::move(key)),
                                                          MakeField("value", std::move(value))})));
}

void AppendDouble(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "nan";
  } else if (std::isinf(value)) {
    out += value > 0 ? "inf" : "-inf";
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
    out.append(buf, static_cast<size_t>(end - buf));
  }
}

void AppendJsonString(std::string& out, std::string_view text) {
  static const char* kHex = "0123456789abcdef";
  out.push_back('"');
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

class Converter {
 public:
  Converter(const CommandInfo& command, bool decode) : command_(command), decode_(decode) {}

  DataType TextType() const { return DataType::Of(decode_ ? TypeId::kString : TypeId::kBinary); }
  bool mixed() const { return mixed_; }

  DataType TypeOf(const Reply& r) {
    switch (r.type) {
      case ReplyType::kInteger: return DataType::Of(TypeId::kInt64);
      case ReplyType::kDouble: return DataType::Of(TypeId::kFloat64);
      case ReplyType::kBoolean: return DataType::Of(TypeId::kBoolean);
      case ReplyType::kNil: return DataType::Of(TypeId::kNull);
      case ReplyType::kArray:
      case ReplyType::kSet:
      case ReplyType::kPush:
        return DataType::List(MakeField("item", UnifyRange(r.elements, 0, 1)));
      case ReplyType::kMap:
        return MapListType(UnifyRange(r.elements, 0, 2), UnifyRange(r.elements, 1, 2));
      default:
        return TextType();  // strings, verbatim, big numbers (errors never get here)
    }
  }

  /// The common type of elements[first], elements[first + step]...
  DataType UnifyRange(const std::vector<Reply>& elements, size_t first, size_t step) {
    DataType type = DataType::Of(TypeId::kNull);
    for (size_t i = first; i < elements.size(); i += step) type = Unify(type, TypeOf(elements[i]));
    return type;
  }

  DataType Unify(const DataType& a, const DataType& b) {
    if (a.id == TypeId::kNull) return b;
    if (b.id == TypeId::kNull) return a;
    if (a == b) return a;
    if (a.id == TypeId::kList && b.id == TypeId::kList && IsMapList(a) == IsMapList(b)) {
      if (IsMapList(a)) {
        const auto& fa = a.children[0].type.children;
        const auto& fb = b.children[0].type.children;
        return MapListType(Unify(fa[0].type, fb[0].type), Unify(fa[1].type, fb[1].type));
      }
      return DataType::List(MakeField("item", Unify(a.children[0].type, b.children[0].type)));
    }
    mixed_ = true;
    return TextType();
  }

  /// Null (only nils, or empty aggregates) becomes the text type, at every depth.
  DataType Resolve(DataType type) {
    if (type.id == TypeId::kNull) return TextType();
    for (Field& child : type.children) child.type = Resolve(std::move(child.type));
    return type;
  }

  void Append(arrow::ArrayBuilder& builder, const Reply& r) {
    if (r.type == ReplyType::kNil) {
      builder.AppendNull();
      return;
    }
    const DataType& type = builder.type();
    switch (type.id) {
      case TypeId::kInt64:
        Expect(r.type == ReplyType::kInteger);
        static_cast<arrow::Int64Builder&>(builder).Append(r.integer);
        return;
      case TypeId::kFloat64:
        Expect(r.type == ReplyType::kDouble);
        static_cast<arrow::Float64Builder&>(builder).Append(r.number);
        return;
      case TypeId::kBoolean:
        Expect(r.type == ReplyType::kBoolean);
        static_cast<arrow::BooleanBuilder&>(builder).Append(r.integer != 0);
        return;
      case TypeId::kString:
      case TypeId::kBinary: {
        auto& text = static_cast<arrow::VarBinaryBuilder&>(builder);
        const std::string* value = &r.str;
        if (!r.is_string() && r.type != ReplyType::kBigNumber) {
          scratch_.clear();
          Render(scratch_, r);
          value = &scratch_;
        }
        if (type.id == TypeId::kString && !arrow::IsValidUtf8(value->data(), value->size())) {
          throw DbError(ErrorKind::kDataConversion,
                        command_.name + ": the reply is not valid UTF-8 (column '" + column_ +
                            "', row " + std::to_string(row_) +
                            "); create the pool with decode_responses=false to get Binary "
                            "columns");
        }
        text.Append(*value);
        return;
      }
      case TypeId::kList: {
        Expect(r.is_aggregate());
        auto& list = static_cast<arrow::ListBuilder&>(builder);
        if (IsMapList(type)) {
          Expect(r.type == ReplyType::kMap);
          auto& entries = list.values_as<arrow::StructBuilder>();
          for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
            Append(entries.child(0), r.elements[i]);
            Append(entries.child(1), r.elements[i + 1]);
            entries.Append();
          }
        } else {
          for (const Reply& element : r.elements) Append(list.values(), element);
        }
        list.CloseList();
        return;
      }
      default:
        Expect(false);
    }
  }

  void SetPosition(const char* column, int64_t row) {
    column_ = column;
    row_ = row;
  }

 private:
  void Expect(bool ok) {
    if (!ok) {
      throw DbError(ErrorKind::kInternal, command_.name + ": reply does not fit its inferred "
                                                          "column type (column '" +
                                              column_ + "')");
    }
  }

  /// Text of a non-string value in a text column: numbers as text, aggregates as JSON.
  void Render(std::string& out, const Reply& r) {
    switch (r.type) {
      case ReplyType::kNil: out += "null"; return;
      case ReplyType::kInteger: out += std::to_string(r.integer); return;
      case ReplyType::kDouble: AppendDouble(out, r.number); return;
      case ReplyType::kBoolean: out += r.integer ? "true" : "false"; return;
      case ReplyType::kBigNumber: out += r.str; return;
      case ReplyType::kMap:
        out.push_back('{');
        for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
          if (i > 0) out.push_back(',');
          const Reply& key = r.elements[i];
          if (key.is_string()) {
            AppendJsonString(out, key.str);
          } else {
            std::string text;
            Render(text, key);
            AppendJsonString(out, text);
          }
          out.push_back(':');
          RenderJson(out, r.elements[i + 1]);
        }
        out.push_back('}');
        return;
      case ReplyType::kArray:
      case ReplyType::kSet:
      case ReplyType::kPush:
        out.push_back('[');
        for (size_t i = 0; i < r.elements.size(); ++i) {
          if (i > 0) out.push_back(',');
          RenderJson(out, r.elements[i]);
        }
        out.push_back(']');
        return;
      default:
        out += r.str;  // strings, errors
    }
  }

  void RenderJson(std::string& out, const Reply& r) {
    if (r.is_string() || r.type == ReplyType::kError) {
      AppendJsonString(out, r.str);
    } else if (r.type == ReplyType::kDouble && !std::isfinite(r.number)) {
      std::string text;
      AppendDouble(text, r.number);
      AppendJsonString(out, text);  // JSON has no inf / nan
    } else {
      Render(out, r);
    }
  }

  const CommandInfo& command_;
  bool decode_;
  bool mixed_ = false;
  const char* column_ = "value";
  int64_t row_ = 0;
  std::string scratch_;
};

Field ColumnField(const char* name, DataType type, bool mixed) {
  Field field = MakeField(name, std::move(type));
  if (mixed) field.metadata.emplace_back("dbpool.db_type", "mixed");
  return field;
}

}  // namespace

CommandInfo DescribeCommand(const std::vector<std::string>& args) {
  CommandInfo info;
  info.name = Upper(args.at(0));
  if (args.size() > 1 && HasSubcommand(info.name)) info.name += " " + Upper(args[1]);
  info.flat_pairs = info.name == "HGETALL" || info.name == "CONFIG GET";
  return info;
}

QueryResult ReplyToResult(const Reply& reply, const CommandInfo& command, bool decode_responses) {
  QueryResult result;
  Converter converter(command, decode_responses);
  const bool map_shape =
      reply.type == ReplyType::kMap ||
      (command.flat_pairs && reply.type == ReplyType::kArray && reply.elements.size() % 2 == 0);
  if (map_shape) {
    DataType key_type = converter.Resolve(converter.UnifyRange(reply.elements, 0, 2));
    bool key_mixed = converter.mixed();
    DataType value_type = converter.Resolve(converter.UnifyRange(reply.elements, 1, 2));
    bool value_mixed = converter.mixed() && !key_mixed;
    result.schema = {ColumnField("key", std::move(key_type), key_mixed),
                     ColumnField("value", std::move(value_type), value_mixed)};
    arrow::RecordBatchBuilder builder(result.schema);
    const size_t rows = reply.elements.size() / 2;
    builder.Reserve(static_cast<int64_t>(rows));
    for (size_t i = 0; i < rows; ++i) {
      converter.SetPosition("key", static_cast<int64_t>(i));
      converter.Append(builder.column(0), reply.elements[2 * i]);
      converter.SetPosition("value", static_cast<int64_t>(i));
      converter.Append(builder.column(1), reply.elements[2 * i + 1]);
      builder.EndRow();
    }
    result.batches.push_back(builder.Finish());
    return result;
  }
  const bool rows_are_elements = reply.is_aggregate();
  DataType type = converter.Resolve(rows_are_elements ? converter.UnifyRange(reply.elements, 0, 1)
                                                      : converter.TypeOf(reply));
  result.schema = {ColumnField("value", std::move(type), converter.mixed())};
  arrow::RecordBatchBuilder builder(result.schema);
  if (rows_are_elements) {
    builder.Reserve(static_cast<int64_t>(reply.elements.size()));
    for (size_t i = 0; i < reply.elements.size(); ++i) {
      converter.SetPosition("value", static_cast<int64_t>(i));
      converter.Append(builder.column(0), reply.elements[i]);
      builder.EndRow();
    }
  } else {
    converter.Append(builder.column(0), reply);
    builder.EndRow();
  }
  result.batches.push_back(builder.Finish());
  return result;
}

int64_t ReplyToRowsAffected(const Reply& reply) {
  switch (reply.type) {
    case ReplyType::kInteger:
    case ReplyType::kBoolean:
      return reply.integer;
    case ReplyType::kNil:
      return 0;
    case ReplyType::kMap:
      return static_cast<int64_t>(reply.elements.size() / 2);
    case ReplyType::kArray:
    case ReplyType::kSet:
    case ReplyType::kPush:
      return static_cast<int64_t>(reply.elements.size());
    case ReplyType::kSimpleString:
      return reply.str == "QUEUED" ? 0 : 1;
    default:
      return 1;
  }
}

}  // namespace dbpool::redis
