#!/usr/bin/env bash
# Every test of the npm package, in one command (`npm test` runs this too):
# 1. build.sh: the .wasm and its JS/TS glue in pkg/ (built only when not current);
# 2. the crate's Rust tests (its answers are the ingest function's, on the same cases)
#    unless RUST_TESTS=0 (e.g. when `cargo test --workspace` already ran them);
# 3. the native answers on those cases as JSON lines, pkg/vectors.jsonl;
# 4. node --test: the .wasm gives byte-identical answers, event-core's hash vectors, the API;
#    the sender (sender.js) with an injected fetch, and over HTTP against a stub of
#    POST /events that answers 429/503 with Retry-After, 500, resets and `unavailable` items
#    (tests/sender*.test.mjs, tests/stub.mjs);
# 5. tsc: the .d.ts files type-check, and narrow as the README shows.
set -euo pipefail
PKG="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$PKG/../.." && pwd)"
say() { printf '\n==> [event-core-js] %s\n' "$*" >&2; }

say "build (nothing to do when pkg/ is current)"
"$PKG/build.sh"
if [ ! -x "$PKG/node_modules/.bin/tsc" ] || [ "$PKG/package-lock.json" -nt "$PKG/node_modules/.package-lock.json" ]; then
  say "npm ci (the pinned typescript and binaryen)"
  (cd "$PKG" && npm ci --no-audit --no-fund --loglevel=error)
fi

cd "$ROOT"
if [ "${RUST_TESTS:-1}" = 1 ]; then
  say "cargo test -p event-core-js"
  cargo test -p event-core-js
fi

say "vectors: native answers on the shared cases"
cargo run -q -p event-core-js --example vectors > "$PKG/pkg/vectors.jsonl"

cd "$PKG"
say "node --test ($(node --version))"
node --test tests/*.test.mjs

say "tsc --noEmit"
node_modules/.bin/tsc -p tests/tsconfig.json
say "all passed"
