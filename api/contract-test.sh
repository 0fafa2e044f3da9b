#!/usr/bin/env bash
# Contract test: schemathesis (pinned in api/requirements.txt) drives the running service from
# api/openapi.yaml and fails on any response the document does not describe.
#
#   api/contract-test.sh [extra schemathesis run options]
#
#   BASE_URL   the service (default: the BASE_URL of .local/api.env when a local stack runs,
#              else http://127.0.0.1:9000); start one with `make up`
#   API_KEY    sent on every request as `x-api-key` and `Authorization: Bearer` (`make test`
#              and `scripts/stack.py with` set it to the local development key)
#   INGEST_KEY a key with only the `ingest` scope: when set (`scripts/stack.py with` sets the
#              development one), a second, shorter run with it checks that every operation but
#              POST /events refuses it (403 forbidden_scope), never a 5xx, never data
#   PYTHON     interpreter for its venv (default python3, 3.11 or later)
#   CONTRACT_TIMEOUT  seconds before the whole run is stopped and failed (default 600)
#
# What runs (settings in api/schemathesis.toml, custom checks in api/contract_hooks.py):
# the examples of the document, then coverage (boundaries and negative values of every
# parameter and body field), fuzzing (at most `generation.max-examples` cases per operation)
# and stateful sequences following the document's links (POST /events -> its failed_id ->
# GET /events/failed/{failed_id}, retry), all with a fixed seed and 4 workers.
# Every response is checked: status code documented, body valid against its schema, headers
# (Retry-After on 503), content type, invalid data rejected with a 4xx, data valid by the
# document accepted (or refused only for a rule beyond JSON Schema, re-derived from the
# request), no 5xx but the intended `500 simulated_failure`, every 4xx/5xx with the error body.
# Exit status: 0 when every check passed, non-zero on any violation or error.
# Reports: .local/contract-report/ (JUnit XML and NDJSON of every request and response).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="$ROOT/.local/contract-venv"  # scripts/stack.py tools --contract
REPORTS="$ROOT/.local/contract-report"

log() { printf '[contract] %s\n' "$*" >&2; }
die() { printf '[contract] ERROR: %s\n' "$*" >&2; exit 2; }

if [ -z "${BASE_URL:-}" ] && [ -f "$ROOT/.local/api.env" ]; then
  BASE_URL="$(sed -n 's/^BASE_URL=//p' "$ROOT/.local/api.env" | tail -n 1)"
fi
BASE_URL="${BASE_URL:-http://127.0.0.1:9000}"
BASE_URL="${BASE_URL%/}"

# ---- schemathesis, once (again when requirements.txt changes)
python3 "$ROOT/scripts/stack.py" tools --contract

# ---- the service must be there (the function's own typed 400, not a connection error)
probe="$("$VENV/bin/python" - "$BASE_URL" <<'PY'
import json, os, sys, urllib.error, urllib.request
headers = {"x-api-key": os.environ["API_KEY"]} if os.environ.get("API_KEY") else {}
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/aggregates", headers=headers), timeout=60)
    print("unexpected 2xx")
except urllib.error.HTTPError as e:
    try:
        print(json.loads(e.read())["error"]["code"])
    except Exception:
        print(f"HTTP {e.code} without the error body")
except Exception as e:
    print(f"unreachable ({e})")
PY
)"
case "$probe" in
  missing_client_id) ;;
  unauthorized) die "the service at $BASE_URL wants an API key: set API_KEY" ;;
  *) die "no event-ingest service at $BASE_URL: GET /aggregates gave $probe. Start one with \`make up\` (or set BASE_URL)." ;;
esac
auth=()
# Both schemes of the document carry the same key: schemathesis would otherwise make up a
# Bearer token beside the real x-api-key (two different keys are a 401 of their own).
[ -z "${API_KEY:-}" ] || auth=(-H "x-api-key: $API_KEY" -H "Authorization: Bearer $API_KEY")

rm -rf "$REPORTS" && mkdir -p "$REPORTS"
log "schemathesis $("$VENV/bin/schemathesis" --version | awk '{print $NF}') against $BASE_URL"
started="$(date +%s)"
status=0
# The reports land in .local/; the run's own files too (cwd).
(
  cd "$REPORTS"
  SCHEMATHESIS_HOOKS=contract_hooks PYTHONPATH="$HERE" timeout "${CONTRACT_TIMEOUT:-600}" \
    "$VENV/bin/schemathesis" --config-file "$HERE/schemathesis.toml" \
    run "$HERE/openapi.yaml" --url "$BASE_URL" \
    --report junit,ndjson --report-dir "$REPORTS" ${auth[@]+"${auth[@]}"} "$@"
) || status=$?
# ---- the same document with an ingest-only key (INGEST_KEY; `scripts/stack.py with` sets the
# development one): POST /events answers as above, every other keyed operation 403
# forbidden_scope, never data, never a 5xx (contract_hooks.py: ingest_only_key_reads_nothing).
# The examples and coverage phases only: refusals need no fuzzing.
if [ "$status" -eq 0 ] && [ -n "${INGEST_KEY:-}" ]; then
  log "again with an ingest-only key (every operation but POST /events: 403 forbidden_scope)"
  mkdir -p "$REPORTS/ingest-only"
  (
    cd "$REPORTS/ingest-only"
    CONTRACT_KEY_SCOPES=ingest SCHEMATHESIS_HOOKS=contract_hooks PYTHONPATH="$HERE" timeout "${CONTRACT_TIMEOUT:-600}" \
      "$VENV/bin/schemathesis" --config-file "$HERE/schemathesis.toml" \
      run "$HERE/openapi.yaml" --url "$BASE_URL" --phases examples,coverage \
      --exclude-checks negative_data_rejection \
      --report junit,ndjson --report-dir "$REPORTS/ingest-only" \
      -H "x-api-key: $INGEST_KEY" -H "Authorization: Bearer $INGEST_KEY" "$@"
  ) || status=$?
fi
elapsed=$(( $(date +%s) - started ))
if [ "$status" -eq 124 ]; then
  log "FAILED: stopped after ${CONTRACT_TIMEOUT:-600}s (is the emulator stuck? see README, Troubleshooting)"
elif [ "$status" -ne 0 ]; then
  log "FAILED (exit $status) in ${elapsed}s; reports in $REPORTS"
else
  log "passed in ${elapsed}s; reports in $REPORTS"
fi
exit "$status"
