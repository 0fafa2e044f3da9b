#!/usr/bin/env bash
# The end-to-end tests, run as a plain binary rather than under `cargo test`: cargo holds
# its build and package-cache locks until its tests end, while `cargo lambda watch` needs
# them to start each function instance: under `cargo test` the two would wait on each other.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bins="$(cargo test -p integration-tests --no-run --message-format=json \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])')"
[ -n "$bins" ] || { echo "[itest] no test binary built" >&2; exit 1; }
scripts/stack.sh up
set -a; . .local/stack.env; . .local/api.env; set +a
for bin in $bins; do "$bin" "$@"; done
