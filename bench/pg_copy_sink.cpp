// Receive-only limit: streams COPY (query) TO STDOUT (FORMAT binary) with libpq and discards it, printing wall/CPU/peak RSS as JSON.
// Build: g++ -O2 -std=c++17 pg_copy_sink.cpp -I$(pg_config --includedir) -lpq -o pg_copy_sink
// Usage: pg_copy_sink CONNINFO "SELECT ..."
// Besides counting rows it reads only the first field of each row (assumed int8, l_orderkey) for a checksum.
#include <libpq-fe.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

static double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint32_t be32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}

static uint64_t be64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CONNINFO QUERY\n", argv[0]);
    return 2;
  }
  rusage ru0{};
  getrusage(RUSAGE_SELF, &ru0);
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();

  PGconn* conn = PQconnectdb(argv[1]);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::fprintf(stderr, "connect: %s", PQerrorMessage(conn));
    return 1;
  }
  const std::string sql = std::string("COPY (") + argv[2] + ") TO STDOUT (FORMAT binary)";
  PGresult* res = PQexec(conn, sql.c_str());
  if (PQresultStatus(res) != PGRES_COPY_OUT) {
    std::fprintf(stderr, "copy: %s", PQerrorMessage(conn));
    return 1;
  }
  PQclear(res);

  long long rows = 0, bytes = 0;
  long long sum_first = 0;
  bool header = true;
  char* buf = nullptr;
  int n;
  while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
    bytes += n;
    const char* p = buf;
    const char* end = buf + n;
    if (header) {  // 11-byte signature, int32 flags, int32 extension length (+ extension)
      p += 11 + 4;
      p += 4 + be32(p);
      header = false;
    }
    // Each CopyData message after the header holds one tuple, or the int16 -1 trailer.
    if (end - p >= 2 && !(static_cast<unsigned char>(p[0]) == 0xff && static_cast<unsigned char>(p[1]) == 0xff)) {
      ++rows;
      if (end - p >= 14 && be32(p + 2) == 8) sum_first += static_cast<int64_t>(be64(p + 6));
    }
    PQfreemem(buf);
  }
  if (n == -2) {
    std::fprintf(stderr, "copy data: %s", PQerrorMessage(conn));
    return 1;
  }
  res = PQgetResult(conn);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    std::fprintf(stderr, "copy end: %s", PQerrorMessage(conn));
    return 1;
  }
  PQclear(res);
  PQfinish(conn);

  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - c0;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "{\"wall\": %.6f, \"cpu\": %.6f, \"rss_base_mb\": %.1f, \"rss_peak_mb\": %.1f, \"rows\": %lld, "
      "\"sum_orderkey\": %lld, \"wire_mb\": %.1f}\n",
      wall, cpu, ru0.ru_maxrss / 1024.0, ru.ru_maxrss / 1024.0, rows, sum_first, bytes / 1048576.0);
  return 0;
}
