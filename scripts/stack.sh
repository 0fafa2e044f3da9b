#!/usr/bin/env bash
# The whole service on this machine: LocalStack (DynamoDB, the table deployed from
# infra/template.yaml) and `cargo lambda watch` serving every function on the API paths.
#   scripts/stack.sh up | run | down | status [--json] | with CMD... | deploy | setup | tools
# `scripts/stack.sh --help` lists the commands and settings; the code is scripts/devstack/.
exec python3 "$(dirname "${BASH_SOURCE[0]}")/stack.py" "$@"
