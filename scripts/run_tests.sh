#!/usr/bin/env bash
# Run db-pool's whole test suite (C++ via ctest, Python via pytest) against throwaway database servers.
#
# Usage: scripts/run_tests.sh [--cpp-only | --python-only] [pytest args...]
#   Installs what is missing (scripts/setup_dev.sh), starts the services in $DB_POOL_TEST_SERVICES
#   (default: $DEFAULT_SERVICES below) and stops the ones it started on exit (DB_POOL_KEEP_SERVICES=1 keeps them),
#   builds and runs the GoogleTest suite, then `uv sync` and pytest on tests/python.
#   Both suites run even if the first fails; the exit status is non-zero if either failed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# Services the tests need; add names here (see scripts/services.sh) as drivers arrive.
DEFAULT_SERVICES="postgresql pgbouncer mariadb redis influxdb"
read -r -a SERVICES <<<"${DB_POOL_TEST_SERVICES:-$DEFAULT_SERVICES}"

log() { printf '\n[run_tests] %s\n' "$*"; }
err() { printf '[run_tests] ERROR: %s\n' "$*" >&2; }

run_cpp=1
run_py=1
pytest_args=()
while (( $# )); do
  case "$1" in
    --cpp-only) run_py=0 ;;
    --python-only) run_cpp=0 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; pytest_args+=("$@"); break ;;
    *) pytest_args+=("$1") ;;
  esac
  shift
done
if (( ! run_cpp && ! run_py )); then err "--cpp-only and --python-only exclude each other"; exit 2; fi

# uv must use the system interpreter and never download one.
export UV_PYTHON_DOWNLOADS=never
export UV_PYTHON="${UV_PYTHON:-python3}"
# The package is installed (not editable) and rebuilt incrementally in build/ when sources
# change (cache-keys in pyproject.toml).
export UV_NO_EDITABLE=1
# Tests that need a service fail (rather than skip) when it is missing.
export DB_POOL_TEST_REQUIRE_SERVICES=1

# ------------------------------------------------------------------ setup
log "setup: scripts/setup_dev.sh"
bash scripts/setup_dev.sh

if ! command -v uv >/dev/null 2>&1; then
  for d in "$HOME/.local/bin" "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"; do
    if [[ -n "$d" && -x "$d/uv" ]]; then export PATH="$d:$PATH"; break; fi
  done
fi
if (( run_py )) && ! command -v uv >/dev/null 2>&1; then err "uv not found on PATH after setup"; exit 1; fi

# ------------------------------------------------------------------ services
started=()
stop_services() {
  local rc=$?
  if (( ${#started[@]} )); then
    if [[ "${DB_POOL_KEEP_SERVICES:-0}" == 1 ]]; then
      log "leaving services running (DB_POOL_KEEP_SERVICES=1): ${started[*]}"
    else
      log "stopping services: ${started[*]}"
      bash scripts/services.sh stop "${started[@]}" || err "could not stop: ${started[*]}"
    fi
  fi
  exit "$rc"
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Stop on exit only what this run started: a server someone else started keeps running.
for s in "${SERVICES[@]}"; do
  if ! bash scripts/services.sh status "$s" >/dev/null 2>&1; then started+=("$s"); fi
done
log "services: starting ${SERVICES[*]}"
bash scripts/services.sh start "${SERVICES[@]}"
# shellcheck disable=SC1091
. "$REPO/.services/env"

# ------------------------------------------------------------------ C++
cpp_status=skipped
if (( run_cpp )); then
  cpp_status=passed
  log "C++: configure (build/cpp)"
  if ! cmake -S . -B build/cpp -DCMAKE_BUILD_TYPE=Release -DDBPOOL_BUILD_TESTS=ON; then
    cpp_status="FAILED (cmake configure)"
  else
    log "C++: build (-j$(nproc))"
    if ! cmake --build build/cpp -j"$(nproc)"; then
      cpp_status="FAILED (build)"
    else
      log "C++: ctest"
      if ! ctest --test-dir build/cpp --output-on-failure --timeout 600; then
        cpp_status="FAILED (tests)"
      fi
    fi
  fi
fi

# ------------------------------------------------------------------ Python
py_status=skipped
if (( run_py )); then
  py_status=passed
  if [[ -f uv.lock ]]; then
    log "Python: uv sync --frozen"
    sync_ok=1; uv sync --frozen || sync_ok=0
  else
    log "Python: uv sync (no uv.lock yet)"
    sync_ok=1; uv sync || sync_ok=0
  fi
  if (( ! sync_ok )); then
    py_status="FAILED (uv sync)"
  else
    log "Python: pytest tests/python -q ${pytest_args[*]}"
    set +e
    uv run --frozen pytest tests/python -q "${pytest_args[@]}"
    rc=$?
    set -e
    if (( rc != 0 )); then
      py_status="FAILED (pytest exit $rc)"
    fi
  fi
fi

# ------------------------------------------------------------------ summary
log "summary"
printf '  C++ tests:    %s\n' "$cpp_status"
printf '  Python tests: %s\n' "$py_status"
if [[ "$cpp_status" == FAILED* || "$py_status" == FAILED* ]]; then
  err "some tests failed"
  exit 1
fi
