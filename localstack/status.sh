#!/usr/bin/env bash
# Is our LocalStack running? Prints pid, endpoint, service health and memory (RSS of LocalStack's
# Python process and of the DynamoDB Local JVM). Exit 0 when running and DynamoDB is healthy, 1 otherwise.
#   LOCALSTACK_HOME  as for start.sh (default <repo>/.local/localstack)
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

PID="$(cat "$PIDFILE" 2>/dev/null || true)"
if ! is_localstack_pid "$PID"; then
  echo "[status] not running (no live LocalStack pid in $PIDFILE)"
  exit 1
fi
RUNNING_PORT="$(cat "$PORTFILE" 2>/dev/null || echo "$PORT")"
"$VENV/bin/python" - "$PID" "http://127.0.0.1:$RUNNING_PORT" <<'EOF'
import json, sys, urllib.request
import psutil

pid, endpoint = int(sys.argv[1]), sys.argv[2]
root = psutil.Process(pid)
procs = [root] + root.children(recursive=True)
mb = lambda p: p.memory_info().rss / 2**20
jvm = [p for p in procs if p.name() == "java"]
total = sum(mb(p) for p in procs)
print(f"[status] running: pid {pid}, endpoint {endpoint}")
print(f"[status] memory RSS: localstack {mb(root):.0f} MB, dynamodb-local jvm "
      f"{sum(mb(p) for p in jvm):.0f} MB, total {total:.0f} MB ({len(procs)} processes)")
try:
    with urllib.request.urlopen(endpoint + "/_localstack/health", timeout=3) as r:
        services = json.load(r).get("services", {})
except Exception as e:
    sys.exit(f"[status] health endpoint not answering: {e}")
print("[status] services: " + ", ".join(f"{k}={v}" for k, v in sorted(services.items())
                                         if v in ("running", "available", "error")))
sys.exit(0 if services.get("dynamodb") == "running" else 1)
EOF
