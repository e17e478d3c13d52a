// RedisConnection::Open: TCP connect, TLS handshake, then HELLO 3 (AUTH and SETNAME in the
// same command), falling back to RESP2 + AUTH for servers without HELLO; SELECT the database.
#include <string>
#include <vector>

#include "drivers/redis/redis_connection.hpp"
#include "drivers/redis/redis_error.hpp"

namespace dbpool::redis {
namespace {

bool HasCredentials(const RedisOptions& o) { return !o.username.empty() || !o.password.empty(); }

std::vector<std::string> HelloArgs(const RedisOptions& o) {
  std::vector<std::string> args;
  args.emplace_back("HELLO");
  args.emplace_back("3");
  if (HasCredentials(o)) {
    args.emplace_back("AUTH");
    args.push_back(o.username.empty() ? std::string("default") : o.username);
    args.push_back(o.password);
  }
  if (!o.client_name.empty()) {
    args.emplace_back("SETNAME");
    args.push_back(o.client_name);
  }
  return args;
}

DbError AuthFailure(const std::string& endpoint, const RedisOptions& o, const std::string& text) {
  // The server's text never repeats the password; neither do we.
  if (!HasCredentials(o)) {
    return DbError(ErrorKind::kConnection,
                   "could not connect to " + endpoint +
                       ": the server requires authentication; give the password in the URL "
                       "(redis://:password@host:port/0) or as password= (" + text + ")");
  }
  std::string user = o.username.empty() ? std::string("default") : o.username;
  return DbError(ErrorKind::kConnection, "could not connect to " + endpoint +
                                             ": authentication failed for user '" + user +
                                             "': " + text);
}

// True when the server speaks RESP3 now; false when it has no HELLO / no RESP3 (fall back
// to RESP2). Throws for credentials it refused or anything else.
bool AcceptHello(const Reply& reply, const std::string& endpoint, const RedisOptions& o) {
  if (reply.type != ReplyType::kError) return true;
  const std::string& text = reply.str;
  if (ErrorPrefix(text) == "NOPROTO" || text.find("unknown command") != std::string::npos) {
    return false;
  }
  if (IsAuthError(text)) throw AuthFailure(endpoint, o, text);
  throw DbError(ErrorKind::kConnection, "could not connect to " + endpoint + ": HELLO: " + text);
}

int64_t MapInteger(const Reply& map, const char* key) {
  if (map.type != ReplyType::kMap) return 0;
  for (size_t i = 0; i + 1 < map.elements.size(); i += 2) {
    if (map.elements[i].str == key && map.elements[i + 1].type == ReplyType::kInteger) {
      return map.elements[i + 1].integer;
    }
  }
  return 0;
}

// What is left to send after HELLO: AUTH and CLIENT SETNAME when HELLO did not do them,
// SELECT when the database is not 0. One pipeline.
std::vector<std::vector<std::string>> SetupCommands(const RedisOptions& o, bool resp3) {
  std::vector<std::vector<std::string>> commands;
  if (!resp3 && HasCredentials(o)) {
    std::vector<std::string> auth;
    auth.emplace_back("AUTH");
    if (!o.username.empty()) auth.push_back(o.username);  // Redis < 6 knows only AUTH pass
    auth.push_back(o.password);
    commands.push_back(std::move(auth));
  }
  if (o.database != 0) {
    std::vector<std::string> select;
    select.emplace_back("SELECT");
    select.push_back(std::to_string(o.database));
    commands.push_back(std::move(select));
  }
  if (!resp3 && !o.client_name.empty()) {
    std::vector<std::string> setname;
    setname.emplace_back("CLIENT");
    setname.emplace_back("SETNAME");
    setname.push_back(o.client_name);
    commands.push_back(std::move(setname));
  }
  return commands;
}

void CheckSetup(const std::vector<std::vector<std::string>>& commands,
                const std::vector<Reply>& replies, const std::string& endpoint,
                const RedisOptions& o) {
  for (size_t i = 0; i < commands.size(); ++i) {
    if (replies[i].type != ReplyType::kError) continue;
    const std::string& name = commands[i][0];
    const std::string& text = replies[i].str;
    if (name == "AUTH" || IsAuthError(text)) throw AuthFailure(endpoint, o, text);
    if (name == "SELECT") {
      throw DbError(ErrorKind::kConfig, "database: SELECT " + std::to_string(o.database) +
                                            " failed on " + endpoint + ": " + text);
    }
    // CLIENT SETNAME is a courtesy: a server that refuses it is still usable.
  }
}

}  // namespace

asio::awaitable<void> RedisConnection::Open(const std::vector<asio::ip::tcp::endpoint>* endpoints) {
  // One address at a time (not asio::async_connect's range form, which would open the
  // socket again for the next address after the deadline closed it).
  Transport& transport = pipeline_->transport();
  asio::error_code ec = asio::error::host_not_found;
  for (const asio::ip::tcp::endpoint& endpoint : *endpoints) {
    if (aborted_) break;
    asio::error_code ignored;
    transport.socket().close(ignored);
    co_await transport.socket().async_connect(endpoint,
                                               asio::redirect_error(asio::use_awaitable, ec));
    if (!ec || aborted_) break;
  }
  if (aborted_) ec = asio::error::operation_aborted;
  if (ec) {
    throw DbError(ErrorKind::kConnection, "could not connect to " + endpoint_ + ": " + ec.message());
  }
  transport.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  if (options_.tls.enabled) {
    try {
      transport.EnableTls(options_.tls, options_.host);
    } catch (const std::exception& e) {
      throw DbError(ErrorKind::kConfig, std::string("ssl: could not set up TLS: ") + e.what());
    }
    co_await transport.Handshake(&ec);
    if (ec) {
      throw DbError(ErrorKind::kConnection, "could not connect to " + endpoint_ +
                                                ": TLS handshake failed: " + ec.message());
    }
  }

  // From here on every byte goes through the pipeline (its reader and writer run on the
  // pipeline's strand; the connect deadline can only shut the socket down).
  pipeline_->Start();
  bool resp3 = false;
  if (options_.protocol == 3) {
    std::vector<std::string> hello = HelloArgs(options_);
    Reply reply = co_await Call(&hello);
    resp3 = AcceptHello(reply, endpoint_, options_);
    if (resp3) client_id_ = MapInteger(reply, "id");
  }
  protocol_ = resp3 ? 3 : 2;
  std::vector<std::vector<std::string>> setup = SetupCommands(options_, resp3);
  if (!setup.empty()) {
    std::string request;
    for (const auto& command : setup) AppendCommand(request, command);
    std::vector<Reply> replies = co_await RoundTrip(std::move(request), setup.size(), nullptr);
    CheckSetup(setup, replies, endpoint_, options_);
  }
  pipeline_->SetConnected();
}

}  // namespace dbpool::redis
