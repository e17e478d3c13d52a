// The driver factory: the one place that knows which databases exist.
#include "drivers/driver.hpp"
#include "drivers/influxdb/influx_driver.hpp"
#include "drivers/mssql/mssql_driver.hpp"
#include "drivers/mysql/mysql_driver.hpp"
#include "drivers/postgresql/pg_driver.hpp"
#include "drivers/redis/redis_driver.hpp"
#include "drivers/sqlite/sqlite_driver.hpp"

namespace dbpool {

std::shared_ptr<Driver> MakeDriver(const std::string& db_type, Runtime& runtime) {
  if (db_type == "postgresql") return std::make_shared<pg::PgDriver>(runtime);
  if (db_type == "sqlite") return std::make_shared<sqlite::SqliteDriver>(runtime);
  if (db_type == "mssql") return std::make_shared<mssql::MssqlDriver>(runtime);
  if (db_type == "mysql") return std::make_shared<mysql::MysqlDriver>(runtime);
  if (db_type == "redis" || db_type == "rediss") return std::make_shared<redis::RedisDriver>(runtime);
  if (db_type == "influxdb" || db_type == "influxdbs") return std::make_shared<influxdb::InfluxDriver>(runtime);
  throw DbError(ErrorKind::kConfig,
                "db_type: unknown database type '" + db_type +
                    "' (supported: postgresql, sqlite, mysql, mssql, redis, rediss, influxdb, influxdbs)");
}

}  // namespace dbpool
