#!/usr/bin/env bash
# Installs the pinned tools of scripts/tools-requirements.txt (cargo-lambda, AWS SAM CLI,
# cfn-lint, zig) into one venv, .local/tools, once. Quick when nothing changed.
exec python3 "$(dirname "${BASH_SOURCE[0]}")/stack.py" tools
