#!/usr/bin/env bash
# The dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser
# download), against a running stack. One command:
#
#   tests/browser/run.sh                      # BASE_URL from the environment, else .local/api.env;
#                                             # without API_KEY, a key made with tools/admin
#   BASE_URL=http://127.0.0.1:9000 API_KEY=eik_... INGEST_KEY=eik_... tests/browser/run.sh
#
# dashboard.test.mjs: the page. cors.test.mjs: a page of another origin sending with an
# ingest-only key (INGEST_KEY; ALLOWED_ORIGIN, an origin the stack allows), by fetch and with
# the JS sender of packages/event-core-js (its files served from disk; a tab closed mid-queue).
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

# The service wants API keys: without API_KEY, make a full one and an ingest-only one for a
# tenant owning the test's client ids (browser-*) in the local stack's table with tools/admin (a
# key is printed alone on stdout). cors.test.mjs sends with the ingest-only key (INGEST_KEY).
admin() {
  (
    set -a
    # shellcheck disable=SC1091
    . "$ROOT/.local/stack.env"
    set +a
    cd "$ROOT"
    cargo run --quiet -p admin -- "$@"
  )
}
if [ -z "${API_KEY:-}" ] && [ -f "$ROOT/.local/stack.env" ] && [ "${BROWSER_AUTH:-on}" != off ]; then
  log "no API_KEY: creating keys for tenant browser-tests (clients browser-*) with tools/admin"
  admin tenant put browser-tests --clients 'browser-*'
  API_KEY="$(admin key create --tenant browser-tests --label browser-test --expires-in-days 1)"
  [ -n "$API_KEY" ] || { log "tools/admin printed no key"; exit 1; }
  INGEST_KEY="$(admin key create --tenant browser-tests --scopes ingest --label browser-test-ingest --expires-in-days 1)"
fi
if [ -z "${INGEST_KEY:-}" ] && [ -f "$ROOT/.local/dev-ingest.key" ]; then
  INGEST_KEY="$(cat "$ROOT/.local/dev-ingest.key")"
fi
export INGEST_KEY="${INGEST_KEY:-}"
# the page of cors.test.mjs poses as the stack's first http://localhost origin (ALLOWED_ORIGINS)
if [ -z "${ALLOWED_ORIGIN:-}" ] && [ -f "$ROOT/.local/stack.env" ]; then
  ALLOWED_ORIGIN="$(sed -n 's/^ALLOWED_ORIGINS=//p' "$ROOT/.local/stack.env" | tr ',' '\n' | grep -m1 '^http://localhost:' || true)"
fi
export ALLOWED_ORIGIN="${ALLOWED_ORIGIN:-http://localhost:5173}"
export API_KEY="${API_KEY:-}"

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
exec node --test --test-concurrency=1 "$HERE/dashboard.test.mjs" "$HERE/cors.test.mjs"
