# Shared settings for the localstack/*.sh scripts (sourced, not run).
#
#   LOCALSTACK_HOME   all state: venv, DynamoDB Local, pid/log files (default: <repo>/.local/localstack,
#                     ignored by git through /.local/)
#   LOCALSTACK_PORT   gateway port on 127.0.0.1 (default 4566)
#
# Paths are computed from this file's location, so the scripts work from any current directory.

LS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LS_DIR/.." && pwd)"
LOCALSTACK_HOME="${LOCALSTACK_HOME:-$REPO_ROOT/.local/localstack}"
mkdir -p "$LOCALSTACK_HOME"
LOCALSTACK_HOME="$(cd "$LOCALSTACK_HOME" && pwd)"
export LOCALSTACK_HOME

VENV="$LOCALSTACK_HOME/venv"
STATE="$LOCALSTACK_HOME/state"
BUILD="$LOCALSTACK_HOME/build"
PIDFILE="$LOCALSTACK_HOME/localstack.pid"
PORTFILE="$LOCALSTACK_HOME/localstack.port"
LOGFILE="$LOCALSTACK_HOME/localstack.log"
SETUP_STAMP="$LOCALSTACK_HOME/setup.stamp"

PORT="${LOCALSTACK_PORT:-4566}"
case "$PORT" in
  ''|*[!0-9]*) echo "ERROR: LOCALSTACK_PORT='$PORT' is not a port number" >&2; exit 2;;
esac
ENDPOINT="http://127.0.0.1:$PORT"

# What setup.sh installs is determined by these files; start.sh re-runs setup.sh when they change.
setup_fingerprint() {
  cat "$LS_DIR/setup.sh" "$LS_DIR/constraints-4.9.2.txt" \
      "$LS_DIR/noop-lambda-executor/pyproject.toml" \
      "$LS_DIR"/noop-lambda-executor/localstack_noop_lambda_executor/*.py \
    | sha256sum | cut -c1-16
}

# pid -> true if it is a live (non-zombie) `python -m localstack.runtime.main`
is_localstack_pid() {
  local pid="$1"
  case "$pid" in ''|*[!0-9]*) return 1;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" != Z ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'localstack.runtime.main'
}

# true if something accepts TCP connections on 127.0.0.1:$1 (bash /dev/tcp: no python needed)
port_in_use() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}
