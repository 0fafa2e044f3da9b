#!/usr/bin/env bash
# Stop the LocalStack started by start.sh. Signals only: the pid in $LOCALSTACK_HOME/localstack.pid
# (checked to be `python -m localstack.runtime.main`), its process group (start.sh runs it under
# setsid, so pgid == pid) and that pid's descendants - LocalStack starts the DynamoDB Local JVM in a
# process session of its own (setsid), so the JVM is found as a child, not through the group.
# Nothing is matched by name. State is in memory: tables are gone after a stop.
#   LOCALSTACK_HOME  as for start.sh (default <repo>/.local/localstack)
#   STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 20)
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
PY="$VENV/bin/python"

if [ ! -f "$PIDFILE" ]; then
  echo "[stop] no pid file ($PIDFILE): nothing to stop"
  exit 0
fi
PID="$(cat "$PIDFILE")"
case "$PID" in ''|*[!0-9]*) echo "[stop] bad pid file content '$PID'; removing it" >&2; rm -f "$PIDFILE"; exit 1;; esac

if [ ! -x "$PY" ]; then
  # no venv (deleted?): plain pid + group, after checking what the pid is
  if kill -0 "$PID" 2>/dev/null && tr '\0' ' ' < "/proc/$PID/cmdline" | grep -q 'localstack.runtime.main'; then
    kill -TERM -- "-$PID" 2>/dev/null || kill -TERM "$PID" 2>/dev/null || true
    echo "[stop] sent SIGTERM to $PID (no venv for a thorough stop)"
  fi
  rm -f "$PIDFILE" "$PORTFILE"
  exit 0
fi

# psutil is a pinned LocalStack dependency; Process objects are safe against pid reuse.
rc=0
"$PY" - "$PID" "${STOP_TIMEOUT:-20}" <<'EOF' || rc=$?
import os, sys, time
import psutil

pid, timeout = int(sys.argv[1]), float(sys.argv[2])
log = lambda m: print(f"[stop] {m}", flush=True)

try:
    root = psutil.Process(pid)
    cmd = " ".join(root.cmdline())
    if root.status() == psutil.STATUS_ZOMBIE:
        root = None
    elif "localstack.runtime.main" not in cmd:
        log(f"pid {pid} is not LocalStack ({cmd[:80]!r}); not touching it")
        sys.exit(2)
except psutil.NoSuchProcess:
    root = None

ours = {}  # pid -> Process (psutil checks create_time, so a reused pid is never signalled)

def collect():
    if root is not None and root.is_running():
        ours.setdefault(root.pid, root)
        try:
            for c in root.children(recursive=True):
                ours.setdefault(c.pid, c)
        except psutil.NoSuchProcess:
            pass
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pid:
                ours.setdefault(p.pid, p)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            pass

def alive(p):
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

collect()
if not any(alive(p) for p in ours.values()):
    log(f"pid {pid} not running; removing stale pid file")
    sys.exit(0)

if root is not None and alive(root):
    log(f"SIGTERM to LocalStack pid {pid} (it stops DynamoDB Local itself); ours now: {sorted(ours)}")
    root.terminate()
    deadline = time.time() + timeout
    while alive(root) and time.time() < deadline:
        collect()                      # children started meanwhile (e.g. during startup)
        time.sleep(0.25)
    if alive(root):
        log(f"LocalStack still running after {timeout:.0f}s: SIGSTOP, collect children, SIGKILL")
        try:
            root.suspend()             # no new children from here on
        except psutil.NoSuchProcess:
            pass
        collect()
        for p in ours.values():
            if alive(p):
                p.kill()

rest = [p for p in ours.values() if alive(p)]
if rest:
    log(f"left over: {[p.pid for p in rest]} -> SIGTERM")
    for p in rest:
        p.terminate()
    gone, rest = psutil.wait_procs(rest, timeout=5)
    rest = [p for p in rest if alive(p)]
    if rest:
        log(f"still there: {[p.pid for p in rest]} -> SIGKILL")
        for p in rest:
            p.kill()
        psutil.wait_procs(rest, timeout=5)
log(f"stopped ({len(ours)} process(es): {sorted(ours)})")
EOF
[ "$rc" = 2 ] || rm -f "$PIDFILE" "$PORTFILE"
exit "$rc"
