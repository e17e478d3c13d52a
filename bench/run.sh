#!/usr/bin/env bash
# One command for db-pool's benchmark harness (issue 3): bench venv with the peers, PostgreSQL, data, loaders, small queries, report + PNG.
#
# Usage: bash bench/run.sh [--quick] [--no-5m] [--runs N] [--duration S] [--skip-loaders] [--skip-small] [--no-install]
#   --quick         1 run, 1M rows only, 2 s per small-query case (a smoke test, not a measurement)
#   --no-5m         skip the 5M-row PostgreSQL table
#   --runs N        runs per loader / small-query case (default 3; best and median reported)
#   --duration S    seconds per small-query case after 1 s warm-up (default 5)
#   --no-install    reuse bench/.venv as it is (no peer install, no db-pool rebuild)
# Results: bench/results/{loaders,small_queries}.json, bench/results/report.md, bench/results/performance.png
# (also copied to docs/performance.png). Peers live only in bench/.venv, never in the project's dependencies.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH/.." && pwd)"
cd "$BENCH"

SIZES=1000000,5000000 RUNS=3 DURATION=5 PGBENCH_T=10 INSTALL=1 LOADERS=1 SMALL=1
while (( $# )); do
  case "$1" in
    --quick) SIZES=1000000 RUNS=1 DURATION=2 PGBENCH_T=3 ;;
    --no-5m) SIZES=1000000 ;;
    --runs) RUNS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --skip-loaders) LOADERS=0 ;;
    --skip-small) SMALL=0 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
log() { printf '\n[bench] %s\n' "$*"; }

export UV_PYTHON_DOWNLOADS=never UV_NO_EDITABLE=1
# Compiler, libpq headers, uv and the PostgreSQL server: the project's own setup script provides them.
if ! command -v uv >/dev/null || ! command -v g++ >/dev/null || ! command -v pg_config >/dev/null; then
  log "installing build tools: scripts/setup_dev.sh"
  bash "$REPO/scripts/setup_dev.sh"
  export PATH="$HOME/.local/bin:$PATH"
fi

PY="$BENCH/.venv/bin/python"
if (( INSTALL )) || [[ ! -x "$PY" ]]; then
  [[ -x "$PY" ]] || { log "creating bench/.venv"; uv venv -q --python "$(command -v python3)" "$BENCH/.venv"; }
  export VIRTUAL_ENV="$BENCH/.venv"
  log "installing peers into bench/.venv"
  uv pip install -q connectorx adbc-driver-manager adbc-driver-postgresql adbc-driver-sqlite \
    'psycopg[binary]' psycopg_pool asyncpg pandas sqlalchemy pyarrow polars matplotlib \
    pymysql mysql-connector-python
  # The working tree's db-pool, built non-editable in its own build dir (not the project's build/).
  log "building db-pool from $REPO into bench/.venv (incremental in bench/.build/wheel)"
  # --no-cache: a private cache, so a concurrent `uv sync` of the project cannot hold its lock.
  uv pip install -q --no-cache --reinstall-package db-pool -C build-dir="$BENCH/.build/wheel" "$REPO"
  unset VIRTUAL_ENV
fi
# The working tree is shared and edited concurrently: refuse to measure a db-pool that does not import.
"$PY" -c "import db_pool._core" || { echo "[bench] db-pool in bench/.venv does not import (working tree mid-edit?); rerun later" >&2; exit 1; }

log "PostgreSQL and MariaDB: scripts/services.sh start postgresql mariadb"
bash "$REPO/scripts/services.sh" start postgresql mariadb
# shellcheck disable=SC1091
. "$REPO/.services/env"

log "building bench/pg_copy_sink (receive-only limit)"
mkdir -p "$BENCH/.build"
g++ -O2 -std=c++17 -Wall "$BENCH/pg_copy_sink.cpp" -I"$(pg_config --includedir)" -lpq -o "$BENCH/.build/pg_copy_sink"

log "data (built once, kept in database dbpool_bench and bench/.data/)"
"$PY" data.py --sizes "$SIZES"

mkdir -p results
if (( LOADERS )); then
  log "bulk loaders: $RUNS run(s) each, sizes $SIZES + SQLite 1M + MySQL 1M"
  "$PY" loaders.py run --sizes "$SIZES" --runs "$RUNS"
fi
if (( SMALL )); then
  log "small queries: ${DURATION} s per case, $RUNS run(s); pgbench ${PGBENCH_T} s"
  "$PY" small_queries.py run --duration "$DURATION" --runs "$RUNS" --pgbench-duration "$PGBENCH_T"
fi

log "report"
"$PY" report.py
cp results/performance.png "$REPO/docs/performance.png"
log "done: bench/results/report.md, docs/performance.png"
