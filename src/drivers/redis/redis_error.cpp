// Classification of Redis error replies into DbError.
#include "drivers/redis/redis_error.hpp"

#include <string>

namespace dbpool::redis {
namespace {

// Depth-first search for the first error element; `path` gets its position.
const Reply* FindError(const Reply& reply, std::string& path) {
  for (size_t i = 0; i < reply.elements.size(); ++i) {
    const Reply& element = reply.elements[i];
    if (element.type == ReplyType::kError) {
      path = std::to_string(i);
      return &element;
    }
    if (element.is_aggregate()) {
      std::string inner;
      if (const Reply* found = FindError(element, inner)) {
        path = std::to_string(i) + "." + inner;
        return found;
      }
    }
  }
  return nullptr;
}

}  // namespace

std::string_view ErrorPrefix(std::string_view error_text) {
  return error_text.substr(0, error_text.find(' '));
}

DbError ReplyError(std::string_view command, std::string_view error_text) {
  std::string message(command);
  message += ": ";
  message += error_text;
  return DbError(ErrorKind::kQuery, std::move(message));
}

void ThrowIfError(const Reply& reply, std::string_view command) {
  if (reply.type == ReplyType::kError) throw ReplyError(command, reply.str);
  if (!reply.is_aggregate()) return;
  std::string path;
  if (const Reply* error = FindError(reply, path)) {
    throw ReplyError(std::string(command) + " (element " + path + " of the reply)", error->str);
  }
}

bool IsAuthError(std::string_view text) {
  std::string_view prefix = ErrorPrefix(text);
  if (prefix == "WRONGPASS" || prefix == "NOAUTH" || prefix == "NOPERM") return true;
  return text.find("invalid password") != std::string_view::npos ||
         text.find("invalid username-password") != std::string_view::npos ||
         text.find("no password is set") != std::string_view::npos;
}

}  // namespace dbpool::redis
