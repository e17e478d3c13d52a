# SQL Server driver layer: FreeTDS db-lib (Debian freetds-dev: sybdb.h, libsybdb).
find_path(FREETDS_INCLUDE_DIR sybdb.h REQUIRED)
find_library(FREETDS_SYBDB_LIBRARY sybdb REQUIRED)
dbpool_layer(dbpool_mssql src/drivers/mssql/*.cpp)
target_include_directories(dbpool_mssql SYSTEM PUBLIC ${FREETDS_INCLUDE_DIR})
target_link_libraries(dbpool_mssql PUBLIC dbpool_arrow ${FREETDS_SYBDB_LIBRARY})
list(APPEND DBPOOL_DRIVERS mssql)
