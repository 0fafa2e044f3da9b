#!/usr/bin/env bash
# The dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser
# download), against a running stack. One command:
#
#   tests/browser/run.sh                      # BASE_URL from the environment, else .local/api.env
#   BASE_URL=http://127.0.0.1:9000 API_KEY=... tests/browser/run.sh
#
# Needs node >= 20 and /usr/bin/chromium (Debian: apt-get install -y chromium; CHROMIUM=path
# for another binary). Installs playwright-core from package-lock.json on first use (npm ci).
# Screenshots: tests/browser/artifacts/dashboard-desktop.png and dashboard-phone.png (360 px).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

log() { printf '[browser] %s\n' "$*" >&2; }

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  log "no Chromium at $CHROMIUM: apt-get install -y chromium (or set CHROMIUM to a Chromium binary)"
  exit 1
fi
command -v node >/dev/null || { log "node not found (>= 20): apt-get install -y nodejs npm"; exit 1; }

if [ -z "${BASE_URL:-}" ]; then
  if [ -f "$ROOT/.local/api.env" ]; then
    # shellcheck disable=SC1091
    . "$ROOT/.local/api.env"
  fi
fi
if [ -z "${BASE_URL:-}" ]; then
  log "BASE_URL is not set and no stack is running (.local/api.env): start one with 'make up'"
  exit 1
fi

cd "$HERE"
if [ ! -f node_modules/playwright-core/package.json ] \
   || ! cmp -s package-lock.json node_modules/.package-lock.stamp 2>/dev/null; then
  log "installing playwright-core (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.package-lock.stamp
fi

mkdir -p artifacts
export BASE_URL CHROMIUM
log "testing $BASE_URL with $("$CHROMIUM" --version 2>/dev/null | head -n1)"
exec node --test --test-concurrency=1 "$HERE/dashboard.test.mjs"
