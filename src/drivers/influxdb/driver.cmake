# InfluxDB driver layer: HTTP API v1 through libcurl's multi-socket API driven by the Asio
# event loop (Debian libcurl4-openssl-dev); responses read as MessagePack into Arrow.
find_package(CURL REQUIRED)
dbpool_layer(dbpool_influxdb src/drivers/influxdb/*.cpp)
target_link_libraries(dbpool_influxdb PUBLIC dbpool_arrow CURL::libcurl)
list(APPEND DBPOOL_DRIVERS influxdb)
