#!/usr/bin/env bash
# Installs the Python-packaged tools the project runs (cargo-lambda, AWS SAM CLI, cfn-lint,
# zig for cross builds) into one venv under .local/tools, once. Idempotent and quick on re-runs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.local/tools"
PYTHON="${PYTHON:-python3}"
REQS="$ROOT/scripts/tools-requirements.txt"
STAMP="$VENV/.stamp"
want="$(sha256sum "$REQS" | cut -c1-16)"

if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || {
  echo "[tools] $PYTHON cannot create a venv. Debian: apt-get install python3-venv" >&2; exit 1; }
echo "[tools] installing $(grep -c '==' "$REQS") pinned tools into $VENV (first run only)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$REQS"
echo "$want" > "$STAMP"
