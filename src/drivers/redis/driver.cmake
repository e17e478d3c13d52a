# Redis driver layer: RESP2/RESP3 spoken directly on Asio sockets (no client library);
# TLS (rediss://) through Asio's OpenSSL stream (Debian libssl-dev).
find_package(OpenSSL REQUIRED)
dbpool_layer(dbpool_redis src/drivers/redis/*.cpp)
target_link_libraries(dbpool_redis PUBLIC dbpool_arrow OpenSSL::SSL OpenSSL::Crypto)
list(APPEND DBPOOL_DRIVERS redis)
