#!/usr/bin/env bash
# Every test: the gates, the stack scripts' own tests, the unit/handler/store tests, the
# end-to-end tests over HTTP, the schemathesis contract test and the browser test against the
# local stack (started here if it is not running, and stopped again after), the WASM package
# under Node, and `sam build`. Run through `make test` / `make check`, which first
# add the Rust targets rust-toolchain.toml lists.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.local/tools/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

step "tools"
scripts/stack.py tools

step "gates: fmt, clippy, wasm32 build of event-core, template lint, routes, stack scripts"
cargo fmt --all --check
# make's wasm-pkg ran build.sh before this script: a pkg/ it had to rebuild (its sources'
# digest differs from the committed pkg/SOURCES) was not committed, and a fresh clone's
# `make dev` would rebuild it too (wasm32 target, wasm-bindgen-cli: minutes)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && ! git diff --quiet -- packages/event-core-js/pkg; then
  echo "packages/event-core-js/pkg/ is stale: build.sh rebuilt it; commit packages/event-core-js/pkg/" >&2
  exit 1
fi
cargo clippy --workspace --all-targets -- -D warnings
cargo build -p event-core --target wasm32-unknown-unknown
infra/check.sh
.local/tools/bin/python infra/test_routes.py
python3 scripts/test_devstack.py
python3 localstack/host-lambda-executor/test_runtime_api.py

# the last line of every run: one count over every test binary (cargo prints one line per
# binary, doc tests included)
rm -f .local/test-output.log
summary() {
  awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' .local/test-output.log 2>/dev/null || true
}
trap summary EXIT

step "compile every test"
cargo test --workspace --no-run

step "tests: the stack restarted right after a stop; unit, property, handler, store (DynamoDB in LocalStack), end to end over HTTP"
# scripts/stack.py with starts LocalStack (table from infra/template.yaml) and the functions
# under cargo lambda watch if they are not running, and stops what it started afterwards.
# scripts/test_restart.py restarts a stack started here (it leaves yours alone).
scripts/stack.py with bash -c 'python3 scripts/test_restart.py &&
  { set -o pipefail; cargo test --workspace --no-fail-fast 2>&1 | tee .local/test-output.log; } &&
  printf "\n==> event-ingest against the stack (killed and resumed, directly and through storage faults; failed replay)\n" &&
  { set -o pipefail; cargo test -p event-ingest -- --ignored 2>&1 | tee -a .local/test-output.log; } &&
  printf "\n==> contract: schemathesis against the stack (api/openapi.yaml)\n" &&
  api/contract-test.sh &&
  printf "\n==> browser: the dashboard in Chromium\n" &&
  tests/browser/run.sh &&
  printf "\n==> the template deployed with the real functions behind LocalStack API Gateway (make deploy-local)\n" &&
  scripts/test-deployed.sh'

step "the npm package: the committed pkg/ is what a fresh build makes; then its tests under Node (its Rust tests ran above)"
packages/event-core-js/build.sh --verify
RUST_TESTS=0 packages/event-core-js/test.sh

# `sam build` compiles the functions for AWS (release, arm64): minutes when the code changed,
# seconds when not. SAM_BUILD=0 (`make check`) skips it while iterating.
if [ "${SAM_BUILD:-1}" = 1 ]; then
  step "sam build (release, arm64)"
  make -C "$ROOT" sam-build
fi
