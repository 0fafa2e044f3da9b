#!/usr/bin/env bash
# Builds the npm package's WebAssembly into packages/event-core-js/pkg/ (ignored by git):
#   event_core.js, event_core.d.ts, event_core_bg.wasm, event_core_bg.wasm.d.ts
# 1. cargo: the crate event-core-js for wasm32-unknown-unknown (release profile);
# 2. wasm-bindgen (--target web) of exactly the version of the wasm-bindgen crate in
#    Cargo.lock, installed once into .local/tools with `cargo install --locked`;
# 3. wasm-opt -Oz from npm's `binaryen` (pinned in package-lock.json), never the wasm-opt crate.
# Prints the .wasm size after each step. Idempotent; a warm run takes seconds.
set -euo pipefail
PKG="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$PKG/../.." && pwd)"
TOOLS="$ROOT/.local/tools"
OUT="$PKG/pkg"
cd "$ROOT"

say() { printf '[event-core-js] %s\n' "$*" >&2; }
size() { stat -c %s "$1"; }

# --- tools -------------------------------------------------------------------------------
WB_VERSION="$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$WB_VERSION" ] || { say "no wasm-bindgen in Cargo.lock"; exit 1; }
WASM_BINDGEN="$TOOLS/bin/wasm-bindgen"
if [ "$("$WASM_BINDGEN" --version 2>/dev/null)" != "wasm-bindgen $WB_VERSION" ]; then
  say "installing wasm-bindgen-cli $WB_VERSION into $TOOLS (first run only: a few minutes)"
  if ! cargo install --locked --root "$TOOLS" wasm-bindgen-cli --version "$WB_VERSION"; then
    # --locked needs every crate of the CLI's own Cargo.lock in the registry; when one is
    # missing (yanked, or a mirror behind), resolve the CLI's dependencies afresh instead.
    say "the locked install failed; installing wasm-bindgen-cli $WB_VERSION without --locked"
    cargo install --root "$TOOLS" wasm-bindgen-cli --version "$WB_VERSION"
  fi
fi

WASM_OPT="$PKG/node_modules/.bin/wasm-opt"
if [ ! -x "$WASM_OPT" ] || [ "$PKG/package-lock.json" -nt "$PKG/node_modules/.package-lock.json" ]; then
  say "installing the pinned npm tools (binaryen, typescript) with npm ci"
  (cd "$PKG" && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- build -------------------------------------------------------------------------------
# Panic locations name source files: without their absolute paths (this checkout, the cargo
# home) the .wasm is byte for byte the same on every machine with the same toolchain.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--remap-path-prefix=$ROOT=/event-ingest --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo" \
  cargo build --release --target wasm32-unknown-unknown -p event-core-js
RAW="${CARGO_TARGET_DIR:-$ROOT/target}/wasm32-unknown-unknown/release/event_core_js.wasm"

rm -rf "$OUT.tmp"
# --target web: an ES module with `export default init`, for browsers and bundlers; Node
# loads the same files through node.js.
"$WASM_BINDGEN" --target web --out-dir "$OUT.tmp" --out-name event_core "$RAW" 2> >(
  # The workspace's release profile strips symbols and with them the `target_features`
  # section: the features are passed to wasm-opt below instead, so this warning is moot.
  grep -v -e 'target_features. custom section is missing' -e '^$' >&2 || true)

# wasm-opt must be told the features rustc compiled with (the stripped section said so).
FEATURES=()
for feature in $(rustc --print cfg --target wasm32-unknown-unknown | sed -n 's/^target_feature="\(.*\)"$/\1/p'); do
  case "$feature" in
    nontrapping-fptoint) FEATURES+=(--enable-nontrapping-float-to-int) ;;
    bulk-memory) FEATURES+=(--enable-bulk-memory --enable-bulk-memory-opt) ;;
    *) FEATURES+=("--enable-$feature") ;;
  esac
done
BINDGEN_SIZE="$(size "$OUT.tmp/event_core_bg.wasm")"
"$WASM_OPT" -Oz "${FEATURES[@]}" "$OUT.tmp/event_core_bg.wasm" -o "$OUT.tmp/event_core_bg.wasm"

rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
WASM="$OUT/event_core_bg.wasm"
say "wasm-bindgen $WB_VERSION, $("$WASM_OPT" --version)"
say "size: cargo $(size "$RAW") B, wasm-bindgen $BINDGEN_SIZE B, wasm-opt -Oz $(size "$WASM") B, gzip -9 $(gzip -9 -c "$WASM" | wc -c) B"
say "built $OUT"
