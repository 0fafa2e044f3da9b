#!/usr/bin/env bash
# The whole service on this machine: LocalStack (DynamoDB, with the table deployed from
# infra/template.yaml) and `cargo lambda watch` serving every function on the API paths.
#
#   scripts/stack.sh up      start whatever is not running yet (idempotent), print the base URL
#   scripts/stack.sh run     `up`, then follow the function logs until Ctrl-C, then `down`  (make dev)
#   scripts/stack.sh down    stop what `up` started (KEEP_LOCALSTACK=1: only the functions)
#   scripts/stack.sh status
#
# Settings: LOCALSTACK_PORT (default 4566) and API_PORT (default 9000): a default that another
# program holds is replaced by a free port; WATCH_CONCURRENCY (instances per function, default 3,
# so concurrent requests really run side by side); WATCH_RELOAD (0, the default: never reload;
# 1: rebuild on code changes — LocalStack writing its state under .local/ can trigger reloads
# that kill requests in flight).
# Known limit of cargo lambda watch 1.9.2: with more than 100 requests waiting for one function
# it stops answering altogether (it awaits the full queue while holding the lock that every
# instance's poll needs); restart it with `make down && make dev`.
# State lives in .local/ (ignored): stack.env (AWS settings + TABLE_NAME, written by
# localstack/deploy.sh), api.env (BASE_URL), watch.pid, watch.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
WATCH_PID="$LOCAL/watch.pid"
WATCH_LOG="$LOCAL/watch.log"
API_ENV="$LOCAL/api.env"
export PATH="$LOCAL/tools/bin:$PATH"
mkdir -p "$LOCAL"

log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
# as the servers do: a port whose last connections linger in TIME_WAIT is free
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

watch_running() {
  [ -f "$WATCH_PID" ] && kill -0 "$(cat "$WATCH_PID")" 2>/dev/null && [ -f "$API_ENV" ]
}

# Wait until every function answers through the router: the first request compiles them.
wait_for_functions() {
  local base="$1"
  python3 - "$base" "$WATCH_PID" <<'PY'
import json, os, sys, time, urllib.error, urllib.request
base, pidfile = sys.argv[1], sys.argv[2]
probes = [("GET", "/aggregates"), ("GET", "/events/processed?limit=1"), ("POST", "/events")]
deadline = time.time() + float(os.environ.get("WATCH_TIMEOUT", "900"))
for method, path in probes:
    while True:
        pid = int(open(pidfile).read())
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit(f"[stack] ERROR: cargo lambda watch exited; see .local/watch.log")
        req = urllib.request.Request(base + path, method=method, data=b"not json" if method == "POST" else None)
        try:
            status = urllib.request.urlopen(req, timeout=600).status
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            status = None
        # a typed 4xx from the function itself means it is compiled and serving
        if status is not None and status < 500 and status != 404:
            break
        if time.time() > deadline:
            sys.exit(f"[stack] ERROR: {method} {path} not answered (last status {status}); see .local/watch.log")
        time.sleep(1)
PY
}

up() {
  "$ROOT/scripts/install-tools.sh"
  # 4566 held by something else (another LocalStack, a container): use a free port instead,
  # unless LOCALSTACK_PORT asks for one (then start.sh names the culprit)
  if [ -z "${LOCALSTACK_PORT:-}" ] && ! "$ROOT/localstack/status.sh" >/dev/null 2>&1 && ! port_free 4566; then
    LOCALSTACK_PORT="$(free_port)"
    export LOCALSTACK_PORT
    log "port 4566 is taken; LocalStack listens on $LOCALSTACK_PORT instead"
  fi
  "$ROOT/localstack/start.sh"
  "$ROOT/localstack/deploy.sh"
  [ -f "$LOCAL/stack.env" ] || die "localstack/deploy.sh did not write .local/stack.env"

  if watch_running; then
    log "functions already served (pid $(cat "$WATCH_PID"))"
  else
    local port="${API_PORT:-9000}"
    if ! port_free "$port"; then
      [ -n "${API_PORT:-}" ] && die "API_PORT $port is taken by another process; choose another (API_PORT=9100 make dev)"
      port="$(free_port)"
      log "port 9000 is taken; serving on $port instead"
    fi
    log "starting cargo lambda watch on 127.0.0.1:$port (the first start compiles the functions)"
    local reload=()
    [ "${WATCH_RELOAD:-0}" = 1 ] || reload=(--ignore-changes)
    # started directly (no subshell), so nothing else keeps this script's output open
    cd "$ROOT"
    setsid cargo lambda watch -A 127.0.0.1 -P "$port" "${reload[@]}" \
      --concurrency "${WATCH_CONCURRENCY:-3}" --env-file "$LOCAL/stack.env" \
      >"$WATCH_LOG" 2>&1 </dev/null &
    echo $! >"$WATCH_PID"
    echo "BASE_URL=http://127.0.0.1:$port" >"$API_ENV"
  fi
  # shellcheck disable=SC1090
  . "$API_ENV"
  wait_for_functions "$BASE_URL" || { tail -n 30 "$WATCH_LOG" >&2; exit 1; }
  log "ready: $BASE_URL"
}

down() {
  if [ -f "$WATCH_PID" ]; then
    local pid; pid="$(cat "$WATCH_PID")"
    # setsid made the watcher a process-group leader: stop it with everything it started
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$WATCH_PID" "$API_ENV"
    log "functions stopped"
  fi
  [ "${KEEP_LOCALSTACK:-0}" = 1 ] || "$ROOT/localstack/stop.sh"
}

status() {
  if watch_running; then . "$API_ENV"; log "functions: $BASE_URL (pid $(cat "$WATCH_PID"))"; else log "functions: stopped"; fi
  if [ -x "$ROOT/localstack/status.sh" ]; then "$ROOT/localstack/status.sh"; fi
}

run() {
  up
  . "$API_ENV"
  cat <<MSG

  The service is running at $BASE_URL  (DynamoDB in LocalStack; logs: .local/watch.log)

    curl -s -X POST $BASE_URL/events -H 'content-type: application/json' \\
      -d '{"client_id":"acme-prod","source":"web","payload":{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"}}'
    curl -s "$BASE_URL/aggregates?client_id=acme-prod"

  Ctrl-C stops everything.
MSG
  trap 'echo; down; exit 0' INT TERM
  tail -n 0 -f "$WATCH_LOG" &
  wait
}

cmd="${1:-}"
case "$cmd" in
  # one `up` or `down` at a time (parallel test processes all call `up`); -o keeps the lock
  # out of the daemons started under it
  up|down) exec flock -o "$LOCAL/stack.lock" "$0" "_$cmd" ;;
  _up) up ;;
  _down) down ;;
  run) run ;;
  status) status ;;
  *) echo "usage: $0 up|run|down|status" >&2; exit 2 ;;
esac
