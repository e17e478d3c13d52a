// db-pool from plain C++: create a pool, run statements, read the Arrow result.
// Build: link CMake target dbpool::dbpool (see examples/cpp/CMakeLists.txt).
#include <dbpool/error.hpp>
#include <dbpool/pool_manager.hpp>

#include <asio.hpp>

#include <cstdio>

asio::awaitable<void> Demo(dbpool::PoolManager& manager, std::string url) {
  co_await manager.CreatePool("main", dbpool::PoolConfig::FromUrl(url));
  co_await manager.Execute("main", "CREATE TABLE t (id INTEGER, name TEXT)");
  dbpool::Params row;
  row.values = {int64_t{1}, std::string("ada")};
  co_await manager.Execute("main", "INSERT INTO t VALUES (?, ?)", std::move(row));
  dbpool::QueryResult result = co_await manager.Query("main", "SELECT id, name FROM t");
  std::printf("%lld row(s), columns:", static_cast<long long>(result.num_rows()));
  for (const auto& field : result.schema) {
    std::printf(" %s:%s", field.name.c_str(), field.type.ToString().c_str());
  }
  std::printf("\n");
  // Hand the batches to any Arrow consumer through the C stream interface.
  ArrowArrayStream stream;
  dbpool::ExportStream(std::move(result), &stream);
  stream.release(&stream);
  co_await manager.Close();
}

int main(int argc, char** argv) {
  std::string url = argc > 1 ? argv[1] : "sqlite::memory:";
  dbpool::PoolManager manager;
  try {
    asio::co_spawn(asio::system_executor(), Demo(manager, url), asio::use_future).get();
  } catch (const dbpool::DbError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
