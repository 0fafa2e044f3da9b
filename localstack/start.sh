#!/usr/bin/env bash
# Start LocalStack 4.9.2 (community) in host mode, in the background, and wait until DynamoDB answers.
# Runs setup.sh first when the install is missing or out of date. Safe to call twice: when our
# LocalStack already runs, prints its endpoint and exits 0.
#
#   LOCALSTACK_HOME        state folder (default <repo>/.local/localstack)
#   LOCALSTACK_PORT        gateway port on 127.0.0.1 (default 4566)
#   LOCALSTACK_SERVICES    default: dynamodb,cloudformation,apigateway,lambda,iam,sts,s3,logs
#   START_TIMEOUT          seconds to wait for readiness (default 120: a first start on a busy
#                          2-core CI runner takes ~30 s, a warm one ~10 s)
#   KEEP_ON_FAILURE=1      leave the process running when readiness fails (default: stop it)
#
# Writes localstack.pid, localstack.port and localstack.log in $LOCALSTACK_HOME. Stop with stop.sh.
# The last line on stdout is the endpoint, e.g. http://127.0.0.1:4566
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
TIMEOUT="${START_TIMEOUT:-120}"

log() { printf '[start] %s\n' "$*" >&2; }
die() { printf '[start] ERROR: %s\n' "$*" >&2; exit 1; }

# ---- already running?
if [ -f "$PIDFILE" ]; then
  OLD="$(cat "$PIDFILE")"
  if is_localstack_pid "$OLD"; then
    RUNNING_PORT="$(cat "$PORTFILE" 2>/dev/null || echo "$PORT")"
    if [ "$RUNNING_PORT" != "$PORT" ] && [ -n "${LOCALSTACK_PORT:-}" ]; then
      log "WARNING: LOCALSTACK_PORT=$PORT asked, but LocalStack already runs on port $RUNNING_PORT (run stop.sh to move it)"
    fi
    log "already running (pid $OLD)"
    echo "http://127.0.0.1:$RUNNING_PORT"
    exit 0
  fi
  rm -f "$PIDFILE" "$PORTFILE"
fi

# ---- port free?
if port_in_use "$PORT"; then
  die "port $PORT on 127.0.0.1 is already in use by another program (not a LocalStack started by this script).
        Stop that program, or pick another port, e.g.:  LOCALSTACK_PORT=4567 $LS_DIR/start.sh
        (use the same LOCALSTACK_PORT for deploy.sh, or read AWS_ENDPOINT_URL from .local/stack.env)"
fi

# ---- installed and up to date? (setup.sh checks python3-venv / Java / npm with clear messages)
if [ "$(cat "$SETUP_STAMP" 2>/dev/null)" != "$(setup_fingerprint)" ] \
   || [ ! -x "$VENV/bin/python" ] \
   || [ ! -f "$STATE/var/lib/localstack/lib/dynamodb-local/2/DynamoDBLocal.jar" ] \
   || [ ! -x "$STATE/var/lib/localstack/lib/java/21/bin/java" ]; then
  log "install missing or out of date: running setup.sh (first time: about 1-2 minutes)"
  bash "$LS_DIR/setup.sh" >&2 || die "setup.sh failed (see above)"
fi

# ---- host-mode environment (see README.md for why each is needed)
export OVERRIDE_IN_DOCKER=0                    # we are not in the LocalStack container
export FILESYSTEM_ROOT="$STATE"                # all LocalStack dirs live under here
export GATEWAY_LISTEN="127.0.0.1:$PORT"
export SERVICES="${LOCALSTACK_SERVICES:-dynamodb,cloudformation,apigateway,lambda,iam,sts,s3,logs}"
export EAGER_SERVICE_LOADING=1                 # start DynamoDB Local now, not on the first request
export DYNAMODB_IN_MEMORY=1
export DISABLE_EVENTS=1                        # no analytics
export SKIP_SSL_CERT_DOWNLOAD=1                # no network fetch of a TLS cert
export DNS_ADDRESS=0                           # no DNS server (would want port 53)
export LOCALSTACK_CLI=0
# Lambda: the "docker" executor cannot prepare functions here (CreateFunction ends FAILED); the
# "noop" executor from ./noop-lambda-executor creates them (Active) and fails invocations fast.
export LAMBDA_RUNTIME_EXECUTOR="${LAMBDA_RUNTIME_EXECUTOR:-noop}"
unset DOCKER_HOST || true

mkdir -p "$STATE"
: > "$LOGFILE"
T0="$(date +%s.%N)"
# setsid: LocalStack (and the DynamoDB Local JVM it spawns) get their own process group = pid,
# so stop.sh can signal exactly that group.
setsid "$VENV/bin/python" -m localstack.runtime.main >>"$LOGFILE" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$PIDFILE"
echo "$PORT" > "$PORTFILE"
log "started pid $PID on port $PORT (log: $LOGFILE); waiting up to ${TIMEOUT}s for DynamoDB"

if ! "$VENV/bin/python" - "$ENDPOINT" "$TIMEOUT" "$PID" <<'EOF'
import json, os, sys, time, urllib.request
endpoint, timeout, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
deadline = time.time() + timeout
last = None
def alive():
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:  # a zombie (exited, not yet reaped) still passes kill(0)
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
while time.time() < deadline:
    if not alive():
        sys.exit(f"LocalStack process {pid} exited")
    try:
        with urllib.request.urlopen(endpoint + "/_localstack/health", timeout=2) as r:
            health = json.load(r)
        last = health.get("services", {}).get("dynamodb")
        if last == "running":
            break
    except Exception as e:  # not listening yet
        last = repr(e)
    time.sleep(0.5)
else:
    sys.exit(f"timeout: dynamodb health = {last}")
# DynamoDB really answers? (LocalStack does not check signatures; dummy credentials suffice)
req = urllib.request.Request(
    endpoint + "/", data=b"{}", method="POST",
    headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0",
    })
while True:
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            body = json.load(r)
        if "TableNames" in body:
            break
        err = body
    except Exception as e:
        err = e
    if time.time() >= deadline:
        sys.exit(f"timeout: ListTables failed: {err}")
    time.sleep(0.5)
EOF
then
  echo "----- last 40 lines of $LOGFILE -----" >&2
  tail -n 40 "$LOGFILE" >&2
  if [ "${KEEP_ON_FAILURE:-0}" != 1 ]; then
    bash "$LS_DIR/stop.sh" >&2 || true
  fi
  die "LocalStack did not become ready within ${TIMEOUT}s (full log: $LOGFILE; raise START_TIMEOUT on slow machines)"
fi
T1="$(date +%s.%N)"
log "ready in $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}')s (pid $PID)"
echo "$ENDPOINT"
