# SQLite driver layer: libsqlite3 (Debian libsqlite3-dev).
find_package(SQLite3 REQUIRED)
dbpool_layer(dbpool_sqlite src/drivers/sqlite/*.cpp)
target_link_libraries(dbpool_sqlite PUBLIC dbpool_arrow SQLite::SQLite3)
list(APPEND DBPOOL_DRIVERS sqlite)
