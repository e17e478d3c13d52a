// Helpers for the SQL Server driver tests: the server (DB_POOL_TEST_MSSQL_URL, else the TDS
// test server of tests/tds_server started once per test process) and the fixture
// (driver_test_util.hpp has the rest).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "dbpool/config.hpp"
#include "dbpool/error.hpp"
#include "dbpool/result.hpp"
#include "drivers/mssql/mssql_driver.hpp"
#include "driver_test_util.hpp"
#include "runtime/runtime.hpp"

extern char** environ;

namespace dbpool::mssql::testing {

using namespace dbpool::testing;  // NOLINT: the shared fixture and array readers

inline const char* RealServerUrl() {
  const char* url = std::getenv("DB_POOL_TEST_MSSQL_URL");
  return url != nullptr && *url != '\0' ? url : nullptr;
}

/// The TDS test server (python3 tests/tds_server), started on first use on a random port and
/// stopped when the test process ends (it exits when its standard input closes).
class TdsServer {
 public:
  static TdsServer& Get() {
    static TdsServer server;
    return server;
  }
  const std::string& url() const { return url_; }
  const std::string& error() const { return error_; }

  ~TdsServer() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    if (pid_ > 0) {
      int status = 0;
      for (int i = 0; i < 50 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) ::usleep(20000);
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, &status, 0);
      }
    }
  }

 private:
  TdsServer() {
    namespace fs = std::filesystem;
    const fs::path script = fs::path(__FILE__).parent_path().parent_path() / "tds_server";
    int in_pipe[2];
    int out_pipe[2];
    if (::pipe(in_pipe) != 0 || ::pipe(out_pipe) != 0) {
      error_ = "pipe failed";
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_addclose(&actions, in_pipe[1]);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    std::string script_path = script.string();
    const char* argv[] = {"python3", script_path.c_str(), "--port", "0", "--exit-on-eof", nullptr};
    int rc = ::posix_spawnp(&pid_, "python3", &actions, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    stdin_fd_ = in_pipe[1];
    if (rc != 0) {
      error_ = "could not start python3 " + script_path;
      pid_ = -1;
      ::close(out_pipe[0]);
      return;
    }
    FILE* out = ::fdopen(out_pipe[0], "r");
    char line[256] = {0};
    if (out == nullptr || std::fgets(line, sizeof(line), out) == nullptr ||
        std::strncmp(line, "LISTENING ", 10) != 0) {
      error_ = "the TDS test server did not start (" + script_path + ")";
    } else {
      int port = std::atoi(line + 10);
      url_ = "mssql://sa:dbpool_Secret1@127.0.0.1:" + std::to_string(port) + "/dbpool";
    }
    if (out != nullptr) std::fclose(out);
  }

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::string url_;
  std::string error_;
};

/// True when the tests run against the TDS test server (its scripted modes are available).
inline bool UsingTestServer() { return RealServerUrl() == nullptr; }

/// A runtime and a driver per test.
class MssqlTest : public dbpool::testing::DriverTest<MssqlDriver> {
 protected:
  void SetUp() override {
    std::string url;
    if (RealServerUrl() != nullptr) {
      url = RealServerUrl();
    } else {
      TdsServer& server = TdsServer::Get();
      if (server.url().empty()) GTEST_FAIL() << server.error();
      url = server.url();
    }
    config_ = PoolConfig::FromUrl(url).connection;
  }
};

}  // namespace dbpool::mssql::testing
