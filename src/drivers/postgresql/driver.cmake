# PostgreSQL driver layer: libpq (Debian libpq-dev).
find_package(PostgreSQL REQUIRED)
dbpool_layer(dbpool_postgresql src/drivers/postgresql/*.cpp)
target_link_libraries(dbpool_postgresql PUBLIC dbpool_arrow PostgreSQL::PostgreSQL)
list(APPEND DBPOOL_DRIVERS postgresql)
