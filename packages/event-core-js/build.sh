#!/usr/bin/env bash
# The npm package's WebAssembly in packages/event-core-js/pkg/ (committed):
#   event_core.js, event_core.d.ts, event_core_bg.wasm, event_core_bg.wasm.d.ts, SOURCES
# 1. cargo: the crate event-core-js for wasm32-unknown-unknown (release profile);
# 2. wasm-bindgen (--target web) of exactly the version of the wasm-bindgen crate in
#    Cargo.lock, installed once into .local/tools with `cargo install --locked`;
# 3. wasm-opt -Oz from npm's `binaryen` (pinned in package-lock.json), never the wasm-opt crate.
#
# pkg/ is committed with pkg/SOURCES, a digest of everything the build reads (the crates'
# sources, the workspace manifest and lock, the npm lock, this script, rustc's version). When
# the digest of the sources here equals it, the package is current and nothing is built: a
# fresh clone's `make dev` needs neither the wasm32 target nor wasm-bindgen-cli (minutes of
# `cargo install`). Otherwise it builds, and the new pkg/ is to be committed.
#   build.sh            build unless current
#   build.sh --verify   build afresh beside pkg/ and fail unless every file is byte for byte
#                       the committed one, SOURCES included (`make test`, so CI proves it)
# Prints the .wasm size after each step of a build.
set -euo pipefail
PKG="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$PKG/../.." && pwd)"
TOOLS="$ROOT/.local/tools"
OUT="$PKG/pkg"
cd "$ROOT"

say() { printf '[event-core-js] %s\n' "$*" >&2; }
size() { stat -c %s "$1"; }

sources_digest() {
  {
    rustc -V
    find shared/core/src packages/event-core-js/src -type f | LC_ALL=C sort | xargs sha256sum
    sha256sum Cargo.toml Cargo.lock shared/core/Cargo.toml packages/event-core-js/Cargo.toml \
      packages/event-core-js/package-lock.json packages/event-core-js/build.sh
  } | sha256sum | cut -c1-32
}
SOURCES="$(sources_digest)"
FILES=(event_core.js event_core.d.ts event_core_bg.wasm event_core_bg.wasm.d.ts SOURCES)

VERIFY=0
case "${1:-}" in
  --verify) VERIFY=1 ;;
  "") ;;
  *) say "usage: build.sh [--verify]"; exit 2 ;;
esac
if [ "$VERIFY" = 0 ] && [ "$(cat "$OUT/SOURCES" 2>/dev/null)" = "$SOURCES" ]; then
  say "pkg/ is current (built from these sources, $SOURCES): nothing to build"
  exit 0
fi
[ "$VERIFY" = 0 ] || OUT="$PKG/pkg.verify"

# The target is added here, only when a build is needed (rustup adds the targets of
# rust-toolchain.toml only when it installs the toolchain).
if command -v rustup >/dev/null; then
  rustup -q target add wasm32-unknown-unknown
fi

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

echo "$SOURCES" > "$OUT.tmp/SOURCES"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
WASM="$OUT/event_core_bg.wasm"
say "wasm-bindgen $WB_VERSION, $("$WASM_OPT" --version)"
say "size: cargo $(size "$RAW") B, wasm-bindgen $BINDGEN_SIZE B, wasm-opt -Oz $(size "$WASM") B, gzip -9 $(gzip -9 -c "$WASM" | wc -c) B"
if [ "$VERIFY" = 0 ]; then
  say "built $OUT (commit it: it is what a fresh clone uses)"
  exit 0
fi
differ=()
for file in "${FILES[@]}"; do
  cmp -s "$OUT/$file" "$PKG/pkg/$file" || differ+=("$file")
done
rm -rf "$OUT"
if [ "${#differ[@]}" -gt 0 ]; then
  say "FAILED: the committed pkg/ is not what these sources build (${differ[*]} differ):"
  say "run packages/event-core-js/build.sh and commit packages/event-core-js/pkg/"
  exit 1
fi
say "verified: a fresh build is byte for byte the committed pkg/"
