#!/usr/bin/env bash
# Static checks of infra/template.yaml (or the template given as $1), offline: cfn-lint (errors, warnings and informational
# findings) and `sam validate --lint` (the SAM transform + cfn-lint). Any finding fails.
#   TOOLS_BIN   where cfn-lint and sam are (default <repo>/.local/tools/bin, from scripts/stack.py tools)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="${TOOLS_BIN:-$ROOT/.local/tools/bin}"
TEMPLATE="${1:-$ROOT/infra/template.yaml}"
for t in cfn-lint sam; do
  [ -x "$TOOLS_BIN/$t" ] || { echo "[check] ERROR: $TOOLS_BIN/$t missing; run scripts/stack.py tools" >&2; exit 1; }
done

# offline and quiet: no telemetry, no update check, a region without asking any profile
export SAM_CLI_TELEMETRY=0 SAM_CLI_DISABLE_VERSION_CHECK=1 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

fail=0
out="$("$TOOLS_BIN/cfn-lint" --include-checks I --regions us-east-1 -- "$TEMPLATE" 2>&1)" || fail=1
if [ -n "$out" ]; then fail=1; printf '%s\n' "$out"; fi
if [ "$fail" = 0 ]; then echo "[check] ok   cfn-lint: no errors, warnings or informational findings"; else echo "[check] FAIL cfn-lint" >&2; exit 1; fi

# sam validate --lint prints "... is a valid SAM Template" and nothing else when clean
out="$(cd "$ROOT/infra" && "$TOOLS_BIN/sam" validate --lint --template "$TEMPLATE" --region us-east-1 2>&1)" || fail=1
if [ "$fail" = 0 ] && [ "$(printf '%s\n' "$out" | grep -cv 'is a valid SAM Template')" = 0 ]; then
  echo "[check] ok   sam validate --lint: $out"
else
  printf '%s\n' "$out" >&2
  echo "[check] FAIL sam validate --lint" >&2
  exit 1
fi
