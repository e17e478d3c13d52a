#!/usr/bin/env bash
# Start/stop throwaway test servers (PostgreSQL, PgBouncer, MariaDB, Redis, InfluxDB, etcd) on 127.0.0.1 for db-pool's tests.
#
# Usage: scripts/services.sh start  [names...]   (default: postgresql)
#        scripts/services.sh stop   [names...]   (default: all)
#        scripts/services.sh status [names...]   (default: all; exit 3 if a named one is not running)
#        scripts/services.sh env                 (print .services/env: `. .services/env` to use it)
# Names: postgresql pgbouncer mariadb redis influxdb etcd, or "all".
# Plain processes (no systemd, no docker), own ports, data under $REPO/.services/<name>
# (or /tmp/dbpool-services-$UID-<hash of $REPO>/<name> when the server's OS user cannot reach $REPO).
# Ports: 25432 postgresql, 26432 pgbouncer, 23306 mariadb, 26379 redis, 28086 influxdb,
# 22379 etcd, each shifted by $DB_POOL_PORT_OFFSET (default 0). All lie below Linux's
# ephemeral range (32768-60999): an outgoing connection of any process could take a port
# in it just as a server wants to bind it.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
SERVICES_DIR="$REPO/.services"
ENV_FILE="$SERVICES_DIR/env"
FALLBACK_BASE="/tmp/dbpool-services-$(id -u)-$(printf %s "$REPO" | cksum | cut -d" " -f1)"
ALL_SERVICES=(postgresql pgbouncer mariadb redis influxdb etcd)
HOST=127.0.0.1
TIMEOUT=30

# DB_POOL_PORT_OFFSET shifts every port, so that several checkouts (worktrees, a CI dry run
# in a fresh clone) can run their own servers side by side.
PORT_OFFSET="${DB_POOL_PORT_OFFSET:-0}"
[[ "$PORT_OFFSET" =~ ^[0-9]{1,4}$ && "$PORT_OFFSET" -le 5000 ]] || { echo "[services] ERROR: DB_POOL_PORT_OFFSET must be 0..5000, got '$PORT_OFFSET'" >&2; exit 2; }
PG_PORT=$((25432 + PORT_OFFSET))
PGBOUNCER_PORT=$((26432 + PORT_OFFSET))
MYSQL_PORT=$((23306 + PORT_OFFSET))
REDIS_PORT=$((26379 + PORT_OFFSET))
INFLUX_PORT=$((28086 + PORT_OFFSET))
INFLUX_RPC_PORT=$((28088 + PORT_OFFSET))
ETCD_PORT=$((22379 + PORT_OFFSET))
ETCD_PEER_PORT=$((22380 + PORT_OFFSET))

TEST_DB=dbpool_test
TEST_USER=dbpool
TEST_PASSWORD=dbpool_secret

# Stray libpq/MySQL settings from the caller's environment must not change how we talk to our servers.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(PG|MYSQL_)' || true)

log() { printf '[services] %s\n' "$*"; }
warn() { printf '[services] WARNING: %s\n' "$*" >&2; }
err() { printf '[services] ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

is_root() { [[ "$(id -u)" == 0 ]]; }
me="$(id -un)"

# OS user that runs servers refusing root (postgres, pgbouncer).
if is_root; then PG_OS_USER=postgres; else PG_OS_USER="$me"; fi

# as_user USER CMD...: run CMD as USER (from /, so the tool needs no access to the cwd).
as_user() {
  local user=$1; shift
  # 9>&-: servers started here must not inherit (and hold) the lock on .services/.lock.
  if [[ "$user" == "$me" ]]; then
    "$@" 9>&-
  elif command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u "$user" -- "$@" 9>&-)
  else
    (cd / && su -s /bin/sh "$user" -c "$(printf '%q ' "$@")" 9>&-)
  fi
}

# ------------------------------------------------------------------ directories
ensure_base() {
  if [[ ! -d "$SERVICES_DIR" ]]; then
    mkdir -p "$SERVICES_DIR"
  fi
  # Other OS users (postgres) need to traverse it; it holds only throwaway test data.
  if [[ -O "$SERVICES_DIR" ]]; then chmod 755 "$SERVICES_DIR"; fi
}

ensure_fallback_base() {
  if [[ -L "$FALLBACK_BASE" ]]; then die "$FALLBACK_BASE is a symlink; refusing to use it"; fi
  mkdir -p "$FALLBACK_BASE"
  [[ -O "$FALLBACK_BASE" ]] || die "$FALLBACK_BASE is not owned by $me; remove it or fix its owner"
  chmod 755 "$FALLBACK_BASE"
}

# svc_dir NAME OWNER: the service's directory, $REPO/.services/NAME, or $FALLBACK_BASE/NAME when
# OWNER (the OS user the server runs as) cannot traverse $REPO/.services or the path is too long
# for a unix socket inside it. Deterministic, so start, stop and status agree.
svc_dir_reason() {
  local name=$1 owner=$2
  ensure_base
  if [[ "$owner" != "$me" ]] && ! as_user "$owner" test -x "$SERVICES_DIR" 2>/dev/null; then
    echo "OS user '$owner' cannot reach $SERVICES_DIR"
  elif (( ${#SERVICES_DIR} + ${#name} + 20 > 100 )); then
    echo "$SERVICES_DIR is too long a path for a unix socket"
  fi
}
svc_dir() {
  if [[ -n "$(svc_dir_reason "$1" "$2")" ]]; then
    ensure_fallback_base
    echo "$FALLBACK_BASE/$1"
  else
    echo "$SERVICES_DIR/$1"
  fi
}

# note_dir NAME OWNER: say so when the service's directory is not under the repo.
note_dir() {
  local why; why="$(svc_dir_reason "$1" "$2")"
  if [[ -n "$why" ]]; then log "$1: note: $why; using $FALLBACK_BASE/$1 instead"; fi
}

# make_owned_dir DIR OWNER: create DIR (mode 700) owned by OWNER.
make_owned_dir() {
  mkdir -p "$1"
  if [[ "$2" != "$me" ]]; then chown -R "$2:" "$1"; fi
  chmod 700 "$1"
}

# ------------------------------------------------------------------ helpers
port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# proc_alive PID: the process exists and is not a zombie (an exited server waiting to be reaped).
proc_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [[ "$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)" != Z ]]
}

# pid_alive PIDFILE EXE_SUBSTRING: the pid in PIDFILE is alive and its command line mentions EXE_SUBSTRING.
pid_alive() {
  local pidfile=$1 exe=$2 pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(head -n1 "$pidfile" 2>/dev/null | tr -dc '0-9')"
  [[ -n "$pid" ]] && proc_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$exe"
}

pid_of() { head -n1 "$1" 2>/dev/null | tr -dc '0-9'; }

# wait_gone PID: wait for PID to exit; SIGKILL it after $TIMEOUT s.
wait_gone() {
  local pid=$1 i
  for ((i = 0; i < TIMEOUT * 10; i++)); do
    proc_alive "$pid" || return 0
    sleep 0.1
  done
  warn "pid $pid did not stop in ${TIMEOUT}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
  ! proc_alive "$pid"
}

# wait_until DESC PIDFILE EXE CMD...: retry CMD until it succeeds, up to $TIMEOUT s; give up early
# when, after 2 s, the server process named in PIDFILE (command line mentioning EXE) is gone.
wait_until() {
  local desc=$1 pidfile=$2 exe=$3 i; shift 3
  for ((i = 0; i < TIMEOUT * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if (( i >= 10 )) && ! pid_alive "$pidfile" "$exe"; then
      err "$desc: the server process exited"
      return 1
    fi
    sleep 0.2
  done
  err "$desc: not ready after ${TIMEOUT}s"
  return 1
}

show_log() {
  local f=$1
  if [[ -f "$f" ]]; then
    err "last 30 lines of $f:"
    tail -n 30 "$f" >&2 || true
  else
    err "(no log at $f)"
  fi
}

# spawn PIDFILE LOG CMD...: start CMD detached (own session, no terminal), record its pid.
spawn() {
  local pidfile=$1 logf=$2; shift 2
  rm -f "$pidfile"
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' spawn "$pidfile" "$@" </dev/null >>"$logf" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$pidfile" ]] && return 0; sleep 0.1; done
  return 1
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }

unsupported() { err "$1: unsupported on this machine: $2 (run scripts/setup_dev.sh)"; return 1; }

# ================================================================== postgresql
pg_bin() {
  local d
  if [[ -n "${DB_POOL_PG_BIN:-}" ]]; then echo "$DB_POOL_PG_BIN"; return; fi
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then echo /usr/lib/postgresql/15/bin; return; fi
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  echo "${d:-/usr/lib/postgresql/15/bin}"
}
PG_BIN="$(pg_bin)"
pg_dir() { svc_dir postgresql "$PG_OS_USER"; }

running_postgresql() {
  local d; d="$(pg_dir)"
  [[ -f "$d/PG_VERSION" && -x "$PG_BIN/pg_ctl" ]] || return 1
  as_user "$PG_OS_USER" "$PG_BIN/pg_ctl" status -D "$d" >/dev/null 2>&1
}

pg_psql() { # pg_psql DB SQL
  "$PG_BIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 "host=$HOST port=$PG_PORT user=postgres dbname=$1" -c "$2"
}

start_postgresql() {
  [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] || { unsupported postgresql "no PostgreSQL server binaries in $PG_BIN"; return 1; }
  local d; d="$(pg_dir)"; note_dir postgresql "$PG_OS_USER"
  if running_postgresql; then
    log "postgresql: already running (port $PG_PORT, data $d)"
  else
    if port_in_use "$PG_PORT"; then err "postgresql: port $PG_PORT is in use by another process"; return 1; fi
    if [[ ! -f "$d/PG_VERSION" ]]; then
      log "postgresql: initdb in $d"
      rm -rf "$d"
      make_owned_dir "$d" "$PG_OS_USER"
      local initlog; initlog="$(mktemp)"
      if ! as_user "$PG_OS_USER" "$PG_BIN/initdb" -D "$d" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$initlog" 2>&1; then
        err "postgresql: initdb failed"; tail -n 30 "$initlog" >&2; rm -f "$initlog"; return 1
      fi
      mv "$initlog" "$d/initdb.log"
      echo "include 'dbpool.conf'" >>"$d/postgresql.conf"
    fi
    cat >"$d/dbpool.conf" <<EOF
# Written by scripts/services.sh on every start.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$d'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
EOF
    cat >"$d/pg_hba.conf" <<EOF
# Written by scripts/services.sh on every start. dbpool must give its password; all else is trusted.
local all all                trust
host  all $TEST_USER 127.0.0.1/32 scram-sha-256
host  all all        127.0.0.1/32 trust
EOF
    if [[ "$PG_OS_USER" != "$me" ]]; then chown "$PG_OS_USER:" "$d/dbpool.conf" "$d/pg_hba.conf" "$d"/initdb.log 2>/dev/null || true; fi
    log "postgresql: starting on $HOST:$PG_PORT (data $d)"
    if ! as_user "$PG_OS_USER" "$PG_BIN/pg_ctl" start -D "$d" -l "$d/postgresql.log" -w -t "$TIMEOUT" -s </dev/null >/dev/null 2>&1; then
      err "postgresql: pg_ctl start failed"; show_log "$d/postgresql.log"; return 1
    fi
  fi
  if ! wait_until "postgresql" "$d/postmaster.pid" postgres "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -U postgres -d postgres; then
    show_log "$d/postgresql.log"; return 1
  fi
  # Role and database (idempotent; the password is reset each time).
  pg_psql postgres "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$TEST_USER') THEN
        CREATE ROLE $TEST_USER LOGIN CREATEDB PASSWORD '$TEST_PASSWORD';
      ELSE
        ALTER ROLE $TEST_USER LOGIN CREATEDB PASSWORD '$TEST_PASSWORD';
      END IF; END \$\$;" || { err "postgresql: could not create role $TEST_USER"; return 1; }
  if [[ "$(pg_psql postgres "SELECT 1 FROM pg_database WHERE datname = '$TEST_DB'")" != 1 ]]; then
    pg_psql postgres "CREATE DATABASE $TEST_DB OWNER $TEST_USER" || { err "postgresql: could not create database $TEST_DB"; return 1; }
  fi
  log "postgresql: ready"
}

stop_postgresql() {
  local d; d="$(pg_dir)"
  if ! running_postgresql; then log "postgresql: not running"; return 0; fi
  log "postgresql: stopping"
  local pid; pid="$(pid_of "$d/postmaster.pid")"
  as_user "$PG_OS_USER" "$PG_BIN/pg_ctl" stop -D "$d" -m fast -w -t "$TIMEOUT" -s </dev/null >/dev/null 2>&1 \
    || { warn "postgresql: pg_ctl stop failed; killing"; [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true; }
  if [[ -n "$pid" ]]; then wait_gone "$pid"; fi
  log "postgresql: stopped"
}

env_postgresql() {
  cat <<EOF
export DB_POOL_TEST_PG_URL=postgresql://$TEST_USER:$TEST_PASSWORD@$HOST:$PG_PORT/$TEST_DB
export DB_POOL_TEST_PG_SUPERUSER_URL=postgresql://postgres@$HOST:$PG_PORT/$TEST_DB
export DB_POOL_TEST_PG_HOST=$HOST
export DB_POOL_TEST_PG_PORT=$PG_PORT
export DB_POOL_TEST_PG_DATA=$(pg_dir)
export DB_POOL_TEST_PG_BIN=$PG_BIN
EOF
}

# ================================================================== pgbouncer
PGBOUNCER_BIN="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
pgb_dir() { svc_dir pgbouncer "$PG_OS_USER"; }
running_pgbouncer() { pid_alive "$(pgb_dir)/pgbouncer.pid" pgbouncer; }

start_pgbouncer() {
  [[ -x "$PGBOUNCER_BIN" ]] || { unsupported pgbouncer "pgbouncer is not installed"; return 1; }
  local d; d="$(pgb_dir)"; note_dir pgbouncer "$PG_OS_USER"
  running_postgresql || start_postgresql || { err "pgbouncer: needs postgresql"; return 1; }
  if running_pgbouncer; then
    log "pgbouncer: already running (port $PGBOUNCER_PORT, dir $d)"
  else
    if port_in_use "$PGBOUNCER_PORT"; then err "pgbouncer: port $PGBOUNCER_PORT is in use by another process"; return 1; fi
    make_owned_dir "$d" "$PG_OS_USER"
    cat >"$d/pgbouncer.ini" <<EOF
; Written by scripts/services.sh: transaction pooling in front of the throwaway PostgreSQL.
[databases]
; dbpool_pgb2: the test database behind only 2 server connections (fault test 12: many
; clients interleaved on few server sessions).
dbpool_pgb2 = host=$HOST port=$PG_PORT dbname=$TEST_DB pool_size=2
* = host=$HOST port=$PG_PORT

[pgbouncer]
listen_addr = $HOST
listen_port = $PGBOUNCER_PORT
unix_socket_dir = $d
auth_type = scram-sha-256
auth_file = $d/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
; SHOW POOLS / SHOW SERVERS through the "pgbouncer" admin database (tests count server connections).
stats_users = $TEST_USER
logfile = $d/pgbouncer.log
pidfile = $d/pgbouncer.pid
EOF
    printf '"%s" "%s"\n' "$TEST_USER" "$TEST_PASSWORD" >"$d/userlist.txt"
    if [[ "$PG_OS_USER" != "$me" ]]; then chown "$PG_OS_USER:" "$d/pgbouncer.ini" "$d/userlist.txt"; fi
    chmod 600 "$d/userlist.txt"
    rm -f "$d/pgbouncer.pid"
    touch "$d/pgbouncer.log"
    if [[ "$PG_OS_USER" != "$me" ]]; then chown "$PG_OS_USER:" "$d/pgbouncer.log"; fi
    log "pgbouncer: starting on $HOST:$PGBOUNCER_PORT (transaction mode, dir $d)"
    if ! as_user "$PG_OS_USER" "$PGBOUNCER_BIN" -d -q "$d/pgbouncer.ini" </dev/null >>"$d/pgbouncer.log" 2>&1; then
      err "pgbouncer: failed to start"; show_log "$d/pgbouncer.log"; return 1
    fi
  fi
  if ! wait_until "pgbouncer" "$d/pgbouncer.pid" pgbouncer env PGPASSWORD="$TEST_PASSWORD" "$PG_BIN/psql" -X -q -t -A -c 'SELECT 1' \
      "host=$HOST port=$PGBOUNCER_PORT user=$TEST_USER dbname=$TEST_DB connect_timeout=2"; then
    show_log "$d/pgbouncer.log"; return 1
  fi
  log "pgbouncer: ready"
}

stop_pgbouncer() {
  local d; d="$(pgb_dir)"
  if ! running_pgbouncer; then log "pgbouncer: not running"; return 0; fi
  log "pgbouncer: stopping"
  local pid; pid="$(pid_of "$d/pgbouncer.pid")"
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid"
  rm -f "$d/pgbouncer.pid"
  log "pgbouncer: stopped"
}

env_pgbouncer() {
  cat <<EOF
export DB_POOL_TEST_PGBOUNCER_URL=postgresql://$TEST_USER:$TEST_PASSWORD@$HOST:$PGBOUNCER_PORT/$TEST_DB
export DB_POOL_TEST_PGBOUNCER_POOL2_URL=postgresql://$TEST_USER:$TEST_PASSWORD@$HOST:$PGBOUNCER_PORT/dbpool_pgb2
export DB_POOL_TEST_PGBOUNCER_PORT=$PGBOUNCER_PORT
EOF
}

# ================================================================== mariadb
MARIADBD="$(command -v mariadbd || command -v /usr/sbin/mariadbd || command -v mysqld || command -v /usr/sbin/mysqld || true)"
MARIADB_INSTALL_DB="$(command -v mariadb-install-db || command -v mysql_install_db || true)"
MARIADB_ADMIN="$(command -v mariadb-admin || command -v mysqladmin || true)"
MARIADB_CLIENT="$(command -v mariadb || command -v mysql || true)"
my_dir() { svc_dir mariadb "$me"; }
running_mariadb() { pid_alive "$(my_dir)/mariadb.pid" mysqld || pid_alive "$(my_dir)/mariadb.pid" mariadbd; }
my_sql() { "$MARIADB_CLIENT" --no-defaults --socket="$(my_dir)/mysqld.sock" -uroot -e "$1"; }

start_mariadb() {
  [[ -n "$MARIADBD" && -n "$MARIADB_INSTALL_DB" && -n "$MARIADB_ADMIN" && -n "$MARIADB_CLIENT" ]] \
    || { unsupported mariadb "mariadb-server is not installed"; return 1; }
  local d; d="$(my_dir)"; note_dir mariadb "$me"
  local user_opt=(); if is_root; then user_opt=(--user=root); fi
  if running_mariadb; then
    log "mariadb: already running (port $MYSQL_PORT, dir $d)"
  else
    if port_in_use "$MYSQL_PORT"; then err "mariadb: port $MYSQL_PORT is in use by another process"; return 1; fi
    mkdir -p "$d"; chmod 700 "$d"
    if [[ ! -d "$d/data/mysql" ]]; then
      log "mariadb: initialising $d/data"
      rm -rf "$d/data"
      if ! "$MARIADB_INSTALL_DB" --no-defaults --datadir="$d/data" "${user_opt[@]}" \
          --auth-root-authentication-method=normal --skip-test-db >"$d/install-db.log" 2>&1; then
        err "mariadb: mariadb-install-db failed"; show_log "$d/install-db.log"; return 1
      fi
    fi
    log "mariadb: starting on $HOST:$MYSQL_PORT (dir $d)"
    if ! spawn "$d/mariadb.pid.spawn" "$d/mariadb.log" "$MARIADBD" --no-defaults --datadir="$d/data" \
        --socket="$d/mysqld.sock" --pid-file="$d/mariadb.pid" --port="$MYSQL_PORT" --bind-address="$HOST" \
        --log-error="$d/mariadb.log" "${user_opt[@]}" --skip-name-resolve --max-connections=200 \
        --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci; then
      err "mariadb: failed to launch"; show_log "$d/mariadb.log"; return 1
    fi
  fi
  if ! wait_until "mariadb" "$d/mariadb.pid.spawn" "$(basename "$MARIADBD")" "$MARIADB_ADMIN" --no-defaults --socket="$d/mysqld.sock" -uroot --connect-timeout=2 ping; then
    show_log "$d/mariadb.log"; return 1
  fi
  my_sql "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
          GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
          CREATE DATABASE IF NOT EXISTS $TEST_DB;
          CREATE USER IF NOT EXISTS '$TEST_USER'@'%' IDENTIFIED BY '$TEST_PASSWORD';
          ALTER USER '$TEST_USER'@'%' IDENTIFIED BY '$TEST_PASSWORD';
          GRANT ALL PRIVILEGES ON $TEST_DB.* TO '$TEST_USER'@'%';" \
    || { err "mariadb: could not create users/database"; return 1; }
  log "mariadb: ready"
}

stop_mariadb() {
  local d; d="$(my_dir)"
  if ! running_mariadb; then log "mariadb: not running"; rm -f "$d/mariadb.pid.spawn"; return 0; fi
  log "mariadb: stopping"
  local pid; pid="$(pid_of "$d/mariadb.pid")"
  "$MARIADB_ADMIN" --no-defaults --socket="$d/mysqld.sock" -uroot shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid"
  rm -f "$d/mariadb.pid.spawn"
  log "mariadb: stopped"
}

env_mariadb() {
  cat <<EOF
export DB_POOL_TEST_MYSQL_URL=mysql://root@$HOST:$MYSQL_PORT/$TEST_DB
export DB_POOL_TEST_MYSQL_USER_URL=mysql://$TEST_USER:$TEST_PASSWORD@$HOST:$MYSQL_PORT/$TEST_DB
export DB_POOL_TEST_MYSQL_PORT=$MYSQL_PORT
export DB_POOL_TEST_MYSQL_SOCKET=$(my_dir)/mysqld.sock
export DB_POOL_TEST_MYSQL_DATA=$(my_dir)/data
EOF
}

# ================================================================== redis
REDIS_SERVER="$(command -v redis-server || true)"
REDIS_CLI="$(command -v redis-cli || true)"
rd_dir() { svc_dir redis "$me"; }
running_redis() { pid_alive "$(rd_dir)/redis.pid" redis-server; }

start_redis() {
  [[ -n "$REDIS_SERVER" && -n "$REDIS_CLI" ]] || { unsupported redis "redis-server is not installed"; return 1; }
  local d; d="$(rd_dir)"; note_dir redis "$me"
  if running_redis; then
    log "redis: already running (port $REDIS_PORT, dir $d)"
  else
    if port_in_use "$REDIS_PORT"; then err "redis: port $REDIS_PORT is in use by another process"; return 1; fi
    mkdir -p "$d"; chmod 700 "$d"
    cat >"$d/redis.conf" <<EOF
# Written by scripts/services.sh: in-memory only.
bind $HOST
port $REDIS_PORT
daemonize yes
pidfile $d/redis.pid
logfile $d/redis.log
dir $d
save ""
appendonly no
maxclients 1000
EOF
    rm -f "$d/redis.pid"
    log "redis: starting on $HOST:$REDIS_PORT (dir $d)"
    if ! "$REDIS_SERVER" "$d/redis.conf" </dev/null >>"$d/redis.log" 2>&1 9>&-; then
      err "redis: failed to start"; show_log "$d/redis.log"; return 1
    fi
  fi
  if ! wait_until "redis" "$d/redis.pid" redis-server bash -c '[[ "$("$0" -h "$1" -p "$2" ping)" == PONG ]]' "$REDIS_CLI" "$HOST" "$REDIS_PORT"; then
    show_log "$d/redis.log"; return 1
  fi
  log "redis: ready"
}

stop_redis() {
  local d; d="$(rd_dir)"
  if ! running_redis; then log "redis: not running"; return 0; fi
  log "redis: stopping"
  local pid; pid="$(pid_of "$d/redis.pid")"
  "$REDIS_CLI" -h "$HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid"
  log "redis: stopped"
}

env_redis() {
  cat <<EOF
export DB_POOL_TEST_REDIS_URL=redis://$HOST:$REDIS_PORT/0
export DB_POOL_TEST_REDIS_PORT=$REDIS_PORT
EOF
}

# ================================================================== influxdb (1.x)
INFLUXD="$(command -v influxd || true)"
ix_dir() { svc_dir influxdb "$me"; }
running_influxdb() { pid_alive "$(ix_dir)/influxd.pid" influxd; }

start_influxdb() {
  [[ -n "$INFLUXD" ]] || { unsupported influxdb "influxdb (influxd 1.x) is not installed"; return 1; }
  command -v curl >/dev/null || { unsupported influxdb "curl is not installed"; return 1; }
  local d; d="$(ix_dir)"; note_dir influxdb "$me"
  if running_influxdb; then
    log "influxdb: already running (port $INFLUX_PORT, dir $d)"
  else
    if port_in_use "$INFLUX_PORT"; then err "influxdb: port $INFLUX_PORT is in use by another process"; return 1; fi
    if port_in_use "$INFLUX_RPC_PORT"; then err "influxdb: port $INFLUX_RPC_PORT (rpc) is in use by another process"; return 1; fi
    mkdir -p "$d"; chmod 700 "$d"
    cat >"$d/influxdb.conf" <<EOF
# Written by scripts/services.sh.
reporting-disabled = true
bind-address = "$HOST:$INFLUX_RPC_PORT"
[meta]
  dir = "$d/meta"
[data]
  dir = "$d/data"
  wal-dir = "$d/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "$HOST:$INFLUX_PORT"
  log-enabled = false
  pprof-enabled = false
EOF
    log "influxdb: starting on $HOST:$INFLUX_PORT (dir $d)"
    if ! spawn "$d/influxd.pid" "$d/influxdb.log" "$INFLUXD" run -config "$d/influxdb.conf"; then
      err "influxdb: failed to launch"; show_log "$d/influxdb.log"; return 1
    fi
  fi
  if ! wait_until "influxdb" "$d/influxd.pid" influxd http_ok "http://$HOST:$INFLUX_PORT/ping"; then
    show_log "$d/influxdb.log"; return 1
  fi
  curl -fsS -o /dev/null --max-time 10 -XPOST "http://$HOST:$INFLUX_PORT/query" --data-urlencode "q=CREATE DATABASE $TEST_DB" \
    || { err "influxdb: could not create database $TEST_DB"; return 1; }
  log "influxdb: ready"
}

stop_influxdb() {
  local d; d="$(ix_dir)"
  if ! running_influxdb; then log "influxdb: not running"; return 0; fi
  log "influxdb: stopping"
  local pid; pid="$(pid_of "$d/influxd.pid")"
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid"
  rm -f "$d/influxd.pid"
  log "influxdb: stopped"
}

env_influxdb() {
  cat <<EOF
export DB_POOL_TEST_INFLUX_URL=influxdb://$HOST:$INFLUX_PORT/$TEST_DB
export DB_POOL_TEST_INFLUX_PORT=$INFLUX_PORT
EOF
}

# ================================================================== etcd
ETCD="$(command -v etcd || true)"
et_dir() { svc_dir etcd "$me"; }
running_etcd() { pid_alive "$(et_dir)/etcd.pid" etcd; }

start_etcd() {
  [[ -n "$ETCD" ]] || { unsupported etcd "etcd-server is not installed"; return 1; }
  command -v curl >/dev/null || { unsupported etcd "curl is not installed"; return 1; }
  local d; d="$(et_dir)"; note_dir etcd "$me"
  if running_etcd; then
    log "etcd: already running (port $ETCD_PORT, dir $d)"
  else
    if port_in_use "$ETCD_PORT"; then err "etcd: port $ETCD_PORT is in use by another process"; return 1; fi
    if port_in_use "$ETCD_PEER_PORT"; then err "etcd: port $ETCD_PEER_PORT (peer) is in use by another process"; return 1; fi
    mkdir -p "$d"; chmod 700 "$d"
    local state=new; if [[ -d "$d/data/member" ]]; then state=existing; fi
    log "etcd: starting on $HOST:$ETCD_PORT (peer $ETCD_PEER_PORT, dir $d)"
    if ! spawn "$d/etcd.pid" "$d/etcd.log" "$ETCD" --name dbpool --data-dir "$d/data" \
        --listen-client-urls "http://$HOST:$ETCD_PORT" --advertise-client-urls "http://$HOST:$ETCD_PORT" \
        --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
        --initial-cluster "dbpool=http://$HOST:$ETCD_PEER_PORT" --initial-cluster-state "$state" \
        --initial-cluster-token dbpool-test --logger zap --log-outputs stderr; then
      err "etcd: failed to launch"; show_log "$d/etcd.log"; return 1
    fi
  fi
  if ! wait_until "etcd" "$d/etcd.pid" etcd bash -c 'curl -fsS --max-time 2 "$0" | grep -q "\"health\":\"true\""' "http://$HOST:$ETCD_PORT/health"; then
    show_log "$d/etcd.log"; return 1
  fi
  log "etcd: ready"
}

stop_etcd() {
  local d; d="$(et_dir)"
  if ! running_etcd; then log "etcd: not running"; return 0; fi
  log "etcd: stopping"
  local pid; pid="$(pid_of "$d/etcd.pid")"
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid"
  rm -f "$d/etcd.pid"
  log "etcd: stopped"
}

env_etcd() {
  cat <<EOF
export DB_POOL_TEST_ETCD_URL=http://$HOST:$ETCD_PORT
export DB_POOL_TEST_ETCD_PORT=$ETCD_PORT
EOF
}

# ================================================================== commands
dir_of() {
  case "$1" in
    postgresql) pg_dir ;; pgbouncer) pgb_dir ;; mariadb) my_dir ;; redis) rd_dir ;; influxdb) ix_dir ;; etcd) et_dir ;;
  esac
}

# Rewrite $ENV_FILE with the variables of every service that is running now.
write_env() {
  ensure_base
  local tmp="$ENV_FILE.tmp.$$" s any=0
  {
    echo "# Written by scripts/services.sh: variables of the running throwaway services. Use: . .services/env"
    for s in "${ALL_SERVICES[@]}"; do
      if "running_$s"; then "env_$s"; any=1; fi
    done
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
  if (( any )); then log "wrote $ENV_FILE"; else log "wrote $ENV_FILE (no service running)"; fi
}

# Expand/validate names; "all" means every service.
resolve_names() {
  local n s ok
  for n in "$@"; do
    if [[ "$n" == all ]]; then printf '%s\n' "${ALL_SERVICES[@]}"; continue; fi
    ok=0; for s in "${ALL_SERVICES[@]}"; do [[ "$n" == "$s" ]] && ok=1; done
    case "$n" in postgres|pg) n=postgresql; ok=1 ;; mysql) n=mariadb; ok=1 ;; influx) n=influxdb; ok=1 ;; esac
    (( ok )) || die "unknown service '$n' (known: ${ALL_SERVICES[*]})"
    echo "$n"
  done
}

lock() {
  ensure_base
  exec 9>"$SERVICES_DIR/.lock"
  if ! flock -w 120 9; then die "another scripts/services.sh is busy (lock $SERVICES_DIR/.lock)"; fi
}

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  start)
    (( $# )) || set -- postgresql
    mapfile -t names < <(resolve_names "$@")
    lock
    failed=()
    for s in "${names[@]}"; do "start_$s" || failed+=("$s"); done
    write_env
    if (( ${#failed[@]} )); then err "failed to start: ${failed[*]}"; exit 1; fi
    ;;
  stop)
    (( $# )) || set -- all
    mapfile -t names < <(resolve_names "$@")
    lock
    failed=()
    # Reverse of ALL_SERVICES order so pgbouncer stops before postgresql.
    for ((i = ${#ALL_SERVICES[@]} - 1; i >= 0; i--)); do
      s="${ALL_SERVICES[i]}"
      for n in "${names[@]}"; do
        if [[ "$n" == "$s" ]]; then "stop_$s" || failed+=("$s"); break; fi
      done
    done
    write_env
    if (( ${#failed[@]} )); then err "failed to stop: ${failed[*]}"; exit 1; fi
    ;;
  status)
    explicit=$#
    (( $# )) || set -- all
    mapfile -t names < <(resolve_names "$@")
    rc=0
    for s in "${names[@]}"; do
      if "running_$s"; then
        printf '%-11s running   %s\n' "$s" "$(dir_of "$s")"
      else
        printf '%-11s stopped\n' "$s"; rc=3
      fi
    done
    (( explicit )) && exit "$rc"
    exit 0
    ;;
  env)
    if [[ -f "$ENV_FILE" ]]; then cat "$ENV_FILE"; else die "$ENV_FILE does not exist: run scripts/services.sh start"; fi
    ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
