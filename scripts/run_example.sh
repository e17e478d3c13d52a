#!/usr/bin/env bash
# Build db-pool and run the first example (examples/python/basic_usage.py, embedded SQLite: no servers needed).
#
# Usage: scripts/run_example.sh [args for basic_usage.py...]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

log() { printf '[run_example] %s\n' "$*"; }

# uv must use the system interpreter and never download one.
export UV_PYTHON_DOWNLOADS=never
export UV_PYTHON="${UV_PYTHON:-python3}"
export UV_NO_EDITABLE=1  # installed, rebuilt in build/ when sources change

log "setup: scripts/setup_dev.sh --minimal (build tools only)"
bash scripts/setup_dev.sh --minimal

if ! command -v uv >/dev/null 2>&1; then
  for d in "$HOME/.local/bin" "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"; do
    if [[ -n "$d" && -x "$d/uv" ]]; then export PATH="$d:$PATH"; break; fi
  done
fi
command -v uv >/dev/null 2>&1 || { printf '[run_example] ERROR: uv not found on PATH after setup\n' >&2; exit 1; }

if [[ -f uv.lock ]]; then
  log "uv sync --frozen (builds the extension)"
  uv sync --frozen
else
  log "uv sync (builds the extension; no uv.lock yet)"
  uv sync
fi

log "running examples/python/basic_usage.py $*"
exec uv run --frozen python examples/python/basic_usage.py "$@"
