# The two commands of the README are `make dev` and `make test`; the rest are their parts.
.PHONY: dev test check itest lint unit bench sam-build up down status tools

dev:         ## run the whole service locally; Ctrl-C stops it
	scripts/stack.sh run

test:        ## every test: gates, unit/property/handler/store, end to end over HTTP, sam build
	scripts/test.sh

check:       ## `make test` without sam build, for quick iterations
	SAM_BUILD=0 scripts/test.sh

itest:       ## only the end-to-end HTTP tests (reuses a running stack, or starts and then stops one)
	scripts/with-stack.sh cargo test -p integration-tests

lint:        ## the static gates only
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo build -p event-core --target wasm32-unknown-unknown
	scripts/install-tools.sh && infra/check.sh && .local/tools/bin/python infra/test_routes.py

unit:        ## tests that need no running stack
	cargo test -p event-core -p ingest -p listing -p aggregates -p event-http

bench:       ## criterion benches (figures go to BENCHMARKS.md)
	cargo bench -p event-core --bench normalize

sam-build:   ## what `sam build` produces for AWS (release, arm64, via cargo lambda + zig)
	scripts/install-tools.sh
	cd infra && PATH="$(CURDIR)/.local/tools/bin:$$PATH" sam build

up:          ## start the local stack in the background (idempotent)
	scripts/stack.sh up

down:        ## stop it
	scripts/stack.sh down

status:
	scripts/stack.sh status

tools:
	scripts/install-tools.sh
