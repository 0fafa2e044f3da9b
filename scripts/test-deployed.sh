#!/usr/bin/env bash
# The template as AWS would run it, proven on this machine: infra/template.yaml deployed into
# LocalStack with the real functions (scripts/stack.py deploy-local, the path of `make
# deploy-local`), then, against its API Gateway URL, the end-to-end API tests (every route, a
# batch, a failed-and-retried event, 401/403 and tenants; not the storage-down test, which
# starts functions of its own), the page with its WASM module and /openapi.json, and the
# contract test once. Run by scripts/test.sh inside `scripts/stack.py with` (LocalStack up).
#
# The functions are the watcher's debug build (stripped; DEPLOY_PROFILE=release for the
# release build `make deploy-local` uses: ~20 min cold on 2 busy cores). The stack is deployed
# with AllowSimulatedFailure=true (the failed-and-retried event needs it) and
# AuthCacheSeconds=5 (the revocation test); everything else is the template's default.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEPLOY_PROFILE="${DEPLOY_PROFILE:-dev}" \
  PARAMETER_OVERRIDES="AllowSimulatedFailure=true AuthCacheSeconds=5${PARAMETER_OVERRIDES:+ $PARAMETER_OVERRIDES}" \
  scripts/stack.py deploy-local
set -a
. .local/deployed.env  # BASE_URL, API_KEY, INGEST_KEY, TABLE_NAME of the deployed stack
set +a
printf '\n==> deployed: end-to-end API tests, tenants, the page against %s\n' "$BASE_URL"
{ set -o pipefail; cargo test -p integration-tests --test api --test tenants --test page -- --skip storage_down 2>&1 |
  tee -a .local/test-output.log; }
printf '\n==> deployed: contract (schemathesis) against %s\n' "$BASE_URL"
api/contract-test.sh
