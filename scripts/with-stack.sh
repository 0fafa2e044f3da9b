#!/usr/bin/env bash
# Run a command against the local stack: start what is not running (`scripts/stack.sh up`),
# export its settings (AWS_ENDPOINT_URL, TABLE_NAME, ..., BASE_URL), run the command, then stop
# only what this script started: a stack you had running stays up.
#
#   scripts/with-stack.sh cargo test -p integration-tests
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

started_localstack=0 started_functions=0
localstack/status.sh >/dev/null 2>&1 || started_localstack=1
scripts/stack.sh status 2>/dev/null | grep -q 'functions: http' || started_functions=1
stop_started() {
  if [ "$started_localstack" = 1 ]; then
    scripts/stack.sh down
  elif [ "$started_functions" = 1 ]; then
    KEEP_LOCALSTACK=1 scripts/stack.sh down
  fi
}
trap stop_started EXIT
scripts/stack.sh up
set -a; . .local/stack.env; . .local/api.env; set +a
"$@"
