#!/usr/bin/env bash
# Install what db-pool needs to build and test (Debian packages, uv); quick no-op when all is present.
#
# Usage: scripts/setup_dev.sh [--minimal]
#   --minimal   only what is needed to build (no database server packages)
# Python: uv is never allowed to download an interpreter; scripts use
#   UV_PYTHON_DOWNLOADS=never UV_PYTHON=python3 (the python3 found on PATH).
set -euo pipefail

log() { printf '[setup_dev] %s\n' "$*"; }
warn() { printf '[setup_dev] WARNING: %s\n' "$*" >&2; }
die() { printf '[setup_dev] ERROR: %s\n' "$*" >&2; exit 1; }

minimal=0
for arg in "$@"; do
  case "$arg" in
    --minimal) minimal=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) die "unknown option: $arg" ;;
  esac
done

# Needed to build the C++ library, its tests and the Python extension.
BUILD_PACKAGES=(build-essential cmake g++ pkg-config libpq-dev libmariadb-dev libssl-dev libsqlite3-dev sqlite3 libasio-dev freetds-dev freetds-bin libgtest-dev libgmock-dev libcurl4-openssl-dev)
# Needed to run the test suite against its throwaway servers (scripts/services.sh).
# (pgbouncer: the fault tests run through it in transaction mode; openssl: the TLS tests make
# their own CA and server certificate.)
SERVER_PACKAGES=(postgresql postgresql-contrib pgbouncer mariadb-server redis-server influxdb curl openssl)
# Used by scripts/services.sh for other services; missing ones only give a warning.
OPTIONAL_PACKAGES=(etcd-server)

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

has_candidate() {
  local cand
  cand="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')"
  [[ -n "$cand" && "$cand" != "(none)" ]]
}

# ---------------------------------------------------------------- Debian packages
required=("${BUILD_PACKAGES[@]}")
optional=()
if (( ! minimal )); then
  required+=("${SERVER_PACKAGES[@]}")
  optional=("${OPTIONAL_PACKAGES[@]}")
fi

missing_required=()
missing_optional=()
for p in "${required[@]}"; do is_installed "$p" || missing_required+=("$p"); done
for p in "${optional[@]+"${optional[@]}"}"; do is_installed "$p" || missing_optional+=("$p"); done

if (( ${#missing_required[@]} + ${#missing_optional[@]} == 0 )); then
  log "Debian packages: all present"
else
  command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing_required[*]} ${missing_optional[*]}"
  SUDO=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo; install by hand: ${missing_required[*]} ${missing_optional[*]}"
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  APT_INSTALL=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends)
  log "missing Debian packages: ${missing_required[*]} ${missing_optional[*]}"
  log "running apt-get update"
  "${SUDO[@]}" apt-get update -q || warn "apt-get update failed; trying to install anyway"

  if (( ${#missing_required[@]} )); then
    log "installing: ${missing_required[*]}"
    "${APT_INSTALL[@]}" "${missing_required[@]}" || die "apt-get install failed for: ${missing_required[*]}"
  fi

  if (( ${#missing_optional[@]} )); then
    available=()
    for p in "${missing_optional[@]}"; do
      if has_candidate "$p"; then available+=("$p"); else warn "optional package '$p' is not available in apt; its service will be unsupported"; fi
    done
    if (( ${#available[@]} )); then
      log "installing optional: ${available[*]}"
      if ! "${APT_INSTALL[@]}" "${available[@]}"; then
        warn "installing optional packages together failed; trying one by one"
        for p in "${available[@]}"; do
          "${APT_INSTALL[@]}" "$p" || warn "could not install optional package '$p'; its service will be unsupported"
        done
      fi
    fi
  fi
fi

# ---------------------------------------------------------------- uv
# Directories where pip may have put the uv executable.
uv_candidate_dirs() {
  printf '%s\n' "$HOME/.local/bin"
  python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true
  python3 -c 'import sysconfig; print(sysconfig.get_path("scripts", scheme=sysconfig.get_preferred_scheme("user")))' 2>/dev/null || true
}

find_uv() {
  local d
  if command -v uv >/dev/null 2>&1 && uv --version >/dev/null 2>&1; then command -v uv; return 0; fi
  while IFS= read -r d; do
    if [[ -n "$d" && -x "$d/uv" ]] && "$d/uv" --version >/dev/null 2>&1; then echo "$d/uv"; return 0; fi
  done < <(uv_candidate_dirs)
  return 1
}

command -v python3 >/dev/null || die "python3 not found on PATH"
if ! uv_bin="$(find_uv)"; then
  log "uv not found; installing it with pip"
  python3 -m pip install -q uv \
    || python3 -m pip install -q --user uv \
    || python3 -m pip install -q --user --break-system-packages uv \
    || die "could not pip-install uv"
  command -v pyenv >/dev/null 2>&1 && pyenv rehash >/dev/null 2>&1 || true
  uv_bin="$(find_uv)" || die "uv installed but not found; add pip's scripts directory to PATH"
fi
uv_dir="$(dirname "$uv_bin")"
if ! command -v uv >/dev/null 2>&1 || [[ "$(command -v uv)" != "$uv_bin" ]]; then
  warn "uv is at $uv_bin but that directory is not first on PATH; run: export PATH=\"$uv_dir:\$PATH\""
fi
log "uv: $uv_bin ($("$uv_bin" --version))"

py="$(command -v python3)"
log "python3: $py ($(python3 --version 2>&1))"
log "uv must never download Python; scripts run uv with:"
log "  export UV_PYTHON_DOWNLOADS=never UV_PYTHON=python3"
log "done"
