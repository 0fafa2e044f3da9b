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

step "compile every test"
cargo test --workspace --no-run

step "the local stack: LocalStack with the table from infra/template.yaml, functions under cargo lambda watch"
# stop afterwards only what this run started; a stack you had running stays up
started_localstack=0 started_functions=0
localstack/status.sh >/dev/null 2>&1 || started_localstack=1
scripts/stack.sh status 2>/dev/null | grep -q 'functions: http' || started_functions=1
rm -f .local/test-output.log
finish() {
  if [ "$started_localstack" = 1 ]; then
    scripts/stack.sh down
  elif [ "$started_functions" = 1 ]; then
    KEEP_LOCALSTACK=1 scripts/stack.sh down
  fi
  # one closing line over every test binary (cargo prints one per binary, doc tests last)
  if [ -f .local/test-output.log ]; then
    awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' .local/test-output.log
  fi
}
trap finish EXIT
scripts/stack.sh up
set -a; . .local/stack.env; . .local/api.env; set +a

step "tests: unit, property, handler, store (DynamoDB in LocalStack), end to end over HTTP ($BASE_URL)"
cargo test --workspace --no-fail-fast 2>&1 | tee .local/test-output.log

# `sam build` compiles the functions for AWS (release, arm64): minutes when the code changed,
# seconds when not. SAM_BUILD=0 (`make check`) skips it while iterating.
if [ "${SAM_BUILD:-1}" = 1 ]; then
  step "sam build (release, arm64)"
  make -C "$ROOT" sam-build
fi
