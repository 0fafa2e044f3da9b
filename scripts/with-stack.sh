#!/usr/bin/env bash
# Run a command against the local stack: start what is not running (the functions without
# reload), export its settings (.local/stack.env: AWS_ENDPOINT_URL, TABLE_NAME, ...;
# .local/api.env: BASE_URL), run the command, then stop only what was started here, once no
# other with-stack or `make dev` uses the stack (the last one stops it).
#
#   scripts/with-stack.sh cargo test -p integration-tests
exec python3 "$(dirname "${BASH_SOURCE[0]}")/stack.py" with "$@"
