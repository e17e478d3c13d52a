// Binary COPY stream decoding (PostgreSQL's copyto.c format) and the COPY statement text.
#include "drivers/postgresql/pg_copy.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "dbpool/error.hpp"
#include "drivers/postgresql/pg_decode.hpp"

namespace dbpool::pg {
namespace {

// "PGCOPY\n\377\r\n\0", then int32 flags and int32 header-extension length.
constexpr char kSignature[] = "PGCOPY\n\377\r\n";
constexpr int32_t kSignatureSize = 11;  // includes the final \0
constexpr int32_t kHeaderSize = kSignatureSize + 8;
constexpr uint32_t kFlagWithOids = 1u << 16;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Just past the comment starting at `i` ("-- ..." to the end of its line, or a block
// comment, which nests in PostgreSQL); `i` itself when none starts there.
size_t SkipComment(std::string_view sql, size_t i) {
  const size_t n = sql.size();
  if (sql.compare(i, 2, "--") == 0) {
    while (i < n && sql[i] != '\n') ++i;
    return i;
  }
  if (sql.compare(i, 2, "/*") != 0) return i;
  int depth = 0;
  do {
    if (sql.compare(i, 2, "/*") == 0) {
      ++depth;
      i += 2;
    } else if (sql.compare(i, 2, "*/") == 0) {
      --depth;
      i += 2;
    } else {
      ++i;
    }
  } while (depth > 0 && i < n);
  return i;
}

}  // namespace

std::string LeadingKeyword(std::string_view sql) {
  size_t i = 0;
  const size_t n = sql.size();
  while (i < n) {
    char c = sql[i];
    if (IsSpace(c) || c == '(') {
      ++i;
    } else if (size_t end = SkipComment(sql, i); end != i) {
      i = end;
    } else {
      break;
    }
  }
  std::string word;
  while (i < n && IsWordChar(sql[i])) {
    word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
    ++i;
  }
  return word;
}

bool IsCopyCandidate(std::string_view sql) {
  std::string keyword = LeadingKeyword(sql);
  return keyword == "SELECT" || keyword == "VALUES" || keyword == "TABLE" || keyword == "WITH";
}

std::string_view TrimStatementEnd(std::string_view sql) {
  const size_t n = sql.size();
  size_t end = 0;  // just past the last character that is not blank, ';' or a comment
  size_t i = 0;
  auto word_char_before = [&](size_t at) { return at > 0 && IsWordChar(sql[at - 1]); };
  while (i < n) {
    char c = sql[i];
    if (IsSpace(c) || c == ';') {
      ++i;
      continue;
    }
    if (size_t after = SkipComment(sql, i); after != i) {
      i = after;
      continue;
    }
    if (c == '\'') {
      // E'...' strings take backslash escapes; standard strings only double quotes.
      bool backslash = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && !word_char_before(i - 1);
      ++i;
      while (i < n) {
        if (backslash && sql[i] == '\\') {
          i += 2;
        } else if (sql[i] == '\'') {
          if (i + 1 < n && sql[i + 1] == '\'') {
            i += 2;
          } else {
            ++i;
            break;
          }
        } else {
          ++i;
        }
      }
    } else if (c == '"') {
      ++i;
      while (i < n) {
        if (sql[i] == '"') {
          if (i + 1 < n && sql[i + 1] == '"') {
            i += 2;
          } else {
            ++i;
            break;
          }
        } else {
          ++i;
        }
      }
    } else if (c == '$' && !word_char_before(i)) {
      // $tag$ ... $tag$ (or $$ ... $$); anything else ($1) is an ordinary character.
      size_t j = i + 1;
      while (j < n && IsWordChar(sql[j]) && !(j == i + 1 && std::isdigit(static_cast<unsigned char>(sql[j])))) ++j;
      if (j < n && sql[j] == '$') {
        std::string_view tag = sql.substr(i, j - i + 1);
        size_t close = sql.find(tag, j + 1);
        i = close == std::string_view::npos ? n : close + tag.size();
      } else {
        ++i;
      }
    } else {
      ++i;
    }
    end = std::min(i, n);
  }
  return sql.substr(0, end);
}

std::string CopyStatement(std::string_view sql) {
  sql = TrimStatementEnd(sql);
  std::string out;
  out.reserve(sql.size() + 48);
  out += "COPY (\n";
  out += sql;
  out += "\n) TO STDOUT (FORMAT binary)";
  return out;
}

CopyDecoder::CopyDecoder(std::vector<ColumnPlan> plans, int64_t batch_rows, int64_t batch_bytes)
    : batches_(std::move(plans), batch_rows, batch_bytes) {}

void CopyDecoder::Malformed(const std::string& what) {
  throw DbError(ErrorKind::kInternal, "malformed binary COPY data from the server: " + what);
}

void CopyDecoder::ReadHeader(const char* data, int32_t size, int32_t* pos) {
  if (size < kHeaderSize || std::memcmp(data, kSignature, kSignatureSize) != 0) {
    Malformed("no PGCOPY signature");
  }
  uint32_t flags = LoadU32(data + kSignatureSize);
  int32_t extension = LoadI32(data + kSignatureSize + 4);
  if ((flags & kFlagWithOids) != 0) Malformed("rows with OIDs");
  if (extension < 0 || extension > size - kHeaderSize) Malformed("truncated header extension");
  *pos = kHeaderSize + extension;
  header_read_ = true;
}

void CopyDecoder::Feed(const char* data, int32_t size) {
  int32_t pos = 0;
  if (!header_read_) ReadHeader(data, size, &pos);
  const int32_t columns = static_cast<int32_t>(batches_.num_columns());
  while (pos < size) {
    if (ended_) Malformed("data after the trailer");
    if (size - pos < 2) Malformed("truncated row");
    int32_t fields = LoadI16(data + pos);
    pos += 2;
    if (fields == -1) {  // the trailer
      ended_ = true;
      continue;
    }
    if (fields != columns) {
      Malformed("a row of " + std::to_string(fields) + " fields, expected " +
                std::to_string(columns));
    }
    int32_t c = 0;
    try {
      for (; c < columns; ++c) {
        if (size - pos < 4) Malformed("truncated row");
        int32_t length = LoadI32(data + pos);
        pos += 4;
        if (length == -1) {
          batches_.AppendNull(static_cast<size_t>(c));
          continue;
        }
        if (length < 0 || length > size - pos) Malformed("truncated value");
        batches_.Append(static_cast<size_t>(c), data + pos, length);
        pos += length;
      }
    } catch (const DecodeError& e) {
      throw batches_.Failure(static_cast<size_t>(c), e);
    }
    batches_.EndRow();
  }
}

RecordBatch CopyDecoder::TakeBatch() { return batches_.TakeBatch(); }

}  // namespace dbpool::pg
