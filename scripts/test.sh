#!/usr/bin/env bash
# Every test: the gates, the unit/handler/store tests, the end-to-end tests over HTTP against
# the local stack (started here if it is not running, and stopped again after), and `sam build`.
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

# the last line of every run: one count over every test binary (cargo prints one line per
# binary, doc tests included)
rm -f .local/test-output.log
summary() {
  awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' .local/test-output.log 2>/dev/null || true
}
trap summary EXIT

step "compile every test"
cargo test --workspace --no-run

step "tests: unit, property, handler, store (DynamoDB in LocalStack), end to end over HTTP"
# scripts/with-stack.sh starts LocalStack (table from infra/template.yaml) and the functions
# under cargo lambda watch if they are not running, and stops what it started afterwards.
scripts/with-stack.sh bash -c 'set -o pipefail; cargo test --workspace --no-fail-fast 2>&1 | tee .local/test-output.log'

# `sam build` compiles the functions for AWS (release, arm64): minutes when the code changed,
# seconds when not. SAM_BUILD=0 (`make check`) skips it while iterating.
if [ "${SAM_BUILD:-1}" = 1 ]; then
  step "sam build (release, arm64)"
  make -C "$ROOT" sam-build
fi
