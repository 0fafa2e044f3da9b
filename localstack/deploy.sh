#!/usr/bin/env bash
# Deploy infra/template.yaml into the running LocalStack (start.sh) through CloudFormation, and
# write <repo>/.local/stack.env for the functions and tests:
#   AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, TABLE_NAME,
#   EVENT_SHARDS, AGGREGATE_SHARDS, ALLOW_SIMULATED_FAILURE
# The last line on stdout is TABLE_NAME=<physical table name>.
#
#   STACK_NAME           default event-ingest-local (the table is "$STACK_NAME-events")
#   EVENT_SHARDS         template parameter EventShards (default 4)
#   AGGREGATE_SHARDS     template parameter AggregateShards (default 4)
#   PARAMETER_OVERRIDES  more template parameters, "Key=Value Key2=Value2" (e.g. "LogLevel=debug")
#   LOCALSTACK_PORT      default: the port start.sh used, else 4566
#   DEPLOY_TIMEOUT       seconds to wait for the stack (default 180)
#   RESET=1              delete the stack and its table first (a fresh, empty table)
#   DEPLOY_PYTHON        python with boto3 + PyYAML (default: LocalStack's venv from setup.sh)
#
# Idempotent: when the stack already runs this exact template + parameters, nothing is deployed
# (about a second). Local parameter values: AllowSimulatedFailure=true, DeletionProtection=false.
# The functions cannot run in LocalStack (no Docker): their CodeUri becomes a placeholder zip in
# LocalStack's S3; everything else comes from infra/template.yaml unchanged (see deploy.py).
# The real functions run under `cargo lambda watch --env-file .local/stack.env`.
# CreateStack/UpdateStack are polled every 0.5 s (`aws cloudformation deploy` would first
# sleep 30 s). The copy that was deployed is kept in $LOCALSTACK_HOME/deploy/template.local.json.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
# follow the LocalStack that start.sh started unless a port is asked for explicitly
if [ -z "${LOCALSTACK_PORT:-}" ] && [ -f "$PORTFILE" ] && is_localstack_pid "$(cat "$PIDFILE" 2>/dev/null)"; then
  PORT="$(cat "$PORTFILE")"
  ENDPOINT="http://127.0.0.1:$PORT"
fi
# Python with boto3 + PyYAML: LocalStack's venv (setup.sh), or DEPLOY_PYTHON (e.g. with docker-compose.yml)
PY="${DEPLOY_PYTHON:-$VENV/bin/python}"
if { [ -n "${DEPLOY_PYTHON:-}" ] || [ ! -x "$PY" ]; } && ! "$PY" -c 'import boto3, yaml' 2>/dev/null; then
  echo "[deploy] ERROR: $PY cannot import boto3 and yaml. Run $LS_DIR/setup.sh (or start.sh), or set" \
       "DEPLOY_PYTHON to a python with boto3 and PyYAML (pip install boto3 pyyaml)." >&2
  exit 1
fi

mkdir -p "$LOCALSTACK_HOME/deploy"
if command -v flock >/dev/null 2>&1; then   # one deploy at a time
  exec 8>"$LOCALSTACK_HOME/deploy/deploy.lock"
  flock 8
fi
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE || true
export AWS_EC2_METADATA_DISABLED=true
ENDPOINT="$ENDPOINT" TEMPLATE="$REPO_ROOT/infra/template.yaml" WORK="$LOCALSTACK_HOME/deploy" \
STACK_ENV="$REPO_ROOT/.local/stack.env" \
  exec "$PY" "$LS_DIR/deploy.py"
