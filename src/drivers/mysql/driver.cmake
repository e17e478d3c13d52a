# MySQL / MariaDB driver layer: MariaDB Connector/C (Debian libmariadb-dev), found with
# pkg-config (libmariadb.pc).
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBMARIADB REQUIRED IMPORTED_TARGET libmariadb)
dbpool_layer(dbpool_mysql src/drivers/mysql/*.cpp)
target_link_libraries(dbpool_mysql PUBLIC dbpool_arrow PkgConfig::LIBMARIADB)
list(APPEND DBPOOL_DRIVERS mysql)
