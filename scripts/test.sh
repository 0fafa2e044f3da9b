#!/usr/bin/env bash
# Every test: the gates, the unit/handler/store tests, and the end-to-end tests over HTTP
# against the local stack (started here if it is not running, and stopped again after).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.local/tools/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

step "tools"
scripts/install-tools.sh

step "gates: fmt, clippy, wasm32 build of event-core, template lint, routes"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build -p event-core --target wasm32-unknown-unknown
infra/check.sh
.local/tools/bin/python infra/test_routes.py

step "local stack (LocalStack + template + cargo lambda watch)"
started_here=0
if ! scripts/stack.sh status 2>/dev/null | grep -q 'functions: http'; then started_here=1; fi
if [ "$started_here" = 1 ]; then trap 'scripts/stack.sh down' EXIT; fi
scripts/stack.sh up
set -a; . .local/stack.env; . .local/api.env; set +a

step "tests: unit, property, handler, store (DynamoDB in LocalStack), end-to-end (HTTP)"
cargo test --workspace --no-fail-fast

if [ "${SKIP_SAM_BUILD:-0}" != 1 ]; then
  step "sam build (release, arm64)"
  make -C "$ROOT" sam-build
fi
