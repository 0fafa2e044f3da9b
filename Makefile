# The two commands of the README are `make dev` and `make test`; the rest are their parts
# (`make help` lists them). `make` alone is `make dev`.
# The local stack is driven by scripts/stack.py (code: scripts/devstack/, see its __init__.py).
.PHONY: help dev test check itest lint routes unit stack-test bench bench-dynamo coldstart sam-build up down status tools \
        rust-targets wasm-pkg js contract browser key reliability soak shards fuzz cli bench-cli bench-limiter

.DEFAULT_GOAL := dev

help:        ## the targets and what each does
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-z][a-zA-Z0-9_-]*:.*## / { printf "  make %-13s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

dev: wasm-pkg    ## run the whole service locally, rebuilding on code changes; Ctrl-C stops it
	scripts/stack.py run

.PHONY: deploy-local bench-deployed
deploy-local: wasm-pkg  ## the template deployed into LocalStack with the real functions (release, this machine) behind its API Gateway: what AWS would run; prints BASE_URL and a key
	scripts/stack.py deploy-local

test: rust-targets wasm-pkg   ## every test: gates, unit/property/handler/store, end to end over HTTP, sam build
	scripts/test.sh

check: rust-targets wasm-pkg  ## `make test` without sam build, for quick iterations
	SAM_BUILD=0 scripts/test.sh

itest: wasm-pkg ## only the end-to-end HTTP tests (reuses a running stack, or starts and then stops one)
	scripts/stack.py with bash -c 'cargo test -p integration-tests && cargo test -p event-ingest -- --ignored'

lint: rust-targets wasm-pkg   ## the static gates only
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo build -p event-core --target wasm32-unknown-unknown
	scripts/stack.py tools && infra/check.sh && .local/tools/bin/python infra/test_routes.py

routes:      ## rewrite the template's API routes and Cargo.toml's watch router from api/openapi.yaml and the Route constants
	scripts/stack.py tools && .local/tools/bin/python infra/routes.py

unit: wasm-pkg  ## every test that needs no running stack
	cargo test --workspace --exclude integration-tests

stack-test:  ## the stack scripts' own tests, including a restart right after a stop
	python3 scripts/test_devstack.py
	STACK_TEST_ALL=1 scripts/stack.py with python3 scripts/test_restart.py

bench: bench-dynamo coldstart  ## criterion benches, the DynamoDB cost/throughput example, the cold-start bench (BENCHMARKS.md)
	cargo bench -p event-core --bench normalize

BENCH_EVENTS ?= 400
BENCH_ROUNDS ?= 2
bench-limiter:  ## the rate limiter's over-admission and writes per event at 1, 3 and 8 instances (BENCHMARKS.md; starts a stack if none runs)
	cargo build --release -p integration-tests --example limiter_fleet
	scripts/stack.py with target/release/examples/limiter_fleet 20

bench-dynamo:  ## DynamoStore's writes vs bare SDK calls on LocalStack, as ratios (starts a stack if none runs)
	cargo build --release -p event-store --example dynamo_costs
	scripts/stack.py with cargo run -q --release -p event-store --example dynamo_costs -- $(BENCH_EVENTS) $(BENCH_ROUNDS)

COLDSTART_ARGS ?= --tls
coldstart:   ## init time, invoke latency, RSS and (zipped) size of the release functions vs a hello-world baseline
	@# two builds: in one, Cargo would unify the baseline's SDK client features into the functions
	cargo build --release -p ingest -p listing -p aggregates -p dashboard
	cargo build --release -p baseline-lambda
	python3 bench/coldstart/coldstart.py $(COLDSTART_ARGS)

sam-build: rust-targets wasm-pkg  ## what `sam build` produces for AWS (release, arm64, via cargo lambda + zig)
	scripts/stack.py tools
	cd infra && PATH="$(CURDIR)/.local/tools/bin:$$PATH" sam build

up: wasm-pkg    ## start the local stack in the background (idempotent; WATCH_RELOAD=0: no rebuilds)
	WATCH_RELOAD="$${WATCH_RELOAD:-1}" scripts/stack.py up

down:        ## stop it
	scripts/stack.py down

status:      ## what runs (scripts/stack.py status --json for scripts)
	scripts/stack.py status

tools:       ## install the pinned tools into .local/tools (cargo-lambda, SAM CLI, cfn-lint, zig)
	scripts/stack.py tools

wasm-pkg:  ## event-core as WebAssembly (packages/event-core-js/pkg, committed): built only when its sources changed
	packages/event-core-js/build.sh

js: wasm-pkg    ## the npm package's tests under Node (byte-identical to the Rust core)
	packages/event-core-js/test.sh

contract: wasm-pkg  ## schemathesis against the running stack (api/openapi.yaml; starts one if needed)
	scripts/stack.py with api/contract-test.sh

browser: wasm-pkg   ## the dashboard in Chromium (playwright-core; starts a stack if needed)
	scripts/stack.py with tests/browser/run.sh

key:         ## a new API key for TENANT owning CLIENTS ('acme-*,beta'; SCOPES=ingest for an ingest-only key), against the running local stack
	@test -n "$(TENANT)" -a -n "$(CLIENTS)" || { echo "usage: make key TENANT=acme CLIENTS='acme-*,beta' [SCOPES=ingest]"; exit 2; }
	@test -f .local/stack.env || { echo "no local stack: start one with make up (or make dev)"; exit 2; }
	@set -a && . .local/stack.env && set +a && cargo run -q -p admin -- tenant put "$(TENANT)" --clients "$(CLIENTS)" && \
	  cargo run -q -p admin -- key create --tenant "$(TENANT)" $(if $(SCOPES),--scopes "$(SCOPES)") --label make-key

cli:         ## build the event-ingest command (release) into .local/bin/event-ingest
	cargo build --release --locked -p event-ingest
	install -D -m 755 target/release/event-ingest .local/bin/event-ingest
	@echo "installed .local/bin/event-ingest (try: .local/bin/event-ingest send --help)"

bench-deployed: wasm-pkg  ## make deploy-local's time, and the deployed API's cold and warm latency vs the watcher's (BENCHMARKS.md)
	cargo build --release --locked -p ingest -p listing -p aggregates -p dashboard
	scripts/stack.py with python3 bench/deployed/latency.py

bench-cli: cli  ## event-ingest send vs xargs -P 8 curl on 100,000 events, client CPU per event, RSS on 1 GB (BENCHMARKS.md)
	scripts/stack.py with python3 bench/cli/bench.py

reliability: wasm-pkg  ## the reliability, hostile-input and tenant-limit flood tests at small size, recorded in RELIABILITY.md
	REPORT=1 scripts/stack.py with bash -c 'cargo test -p integration-tests --test reliability -- --test-threads=1 && \
	  cargo test -p integration-tests --test hostile && cargo test -p integration-tests --test limits'

soak: wasm-pkg  ## the reliability tests and the tenant-limit flood at full size (load with duplicates, storage faults, hot client, crashes), recorded in RELIABILITY.md; event-ingest's stack tests at full size
	REPORT=1 SOAK=1 scripts/stack.py with bash -c 'cargo test -p integration-tests --test reliability -- --test-threads=1 --nocapture && \
	  cargo test -p integration-tests --test limits -- --nocapture'
	scripts/stack.py with bash -c 'E2E_LINES=100000 cargo test -p event-ingest --test stack_resume -- --ignored --nocapture killed_three_times && \
	  E2E_LINES=20000 cargo test -p event-ingest --test stack_faults -- --ignored --nocapture'

shards: wasm-pkg  ## the hot-client test at AGGREGATE_SHARDS 1, 4 and 16, conflicts as DynamoDB makes them (RELIABILITY.md)
	REPORT=1 scripts/stack.py with bash -c 'for n in 1 4 16; do HOT_AGGREGATE_SHARDS=$$n cargo test -p integration-tests \
	  --test reliability -- --test-threads=1 hot_client || exit 1; done'

FUZZ_SECONDS ?= 600
fuzz:        ## the event-core fuzz target for FUZZ_SECONDS (cargo-fuzz; stable Rust via RUSTC_BOOTSTRAP), recorded in RELIABILITY.md
	@test -x .local/tools/bin/cargo-fuzz || cargo install --locked --root .local/tools cargo-fuzz
	@mkdir -p target
	(cd shared/core/fuzz && RUSTC_BOOTSTRAP=1 ../../../.local/tools/bin/cargo-fuzz run parse_body -- \
	  -max_total_time=$(FUZZ_SECONDS); echo $$? > ../../../target/fuzz.status) 2>&1 | tee target/fuzz.log
	REPORT=1 cargo run -q -p integration-tests --example record_fuzz -- target/fuzz.log $$(cat target/fuzz.status) $(FUZZ_SECONDS)

# rust-toolchain.toml lists the wasm32 and aarch64 targets, but rustup adds them only when it
# installs the toolchain, not to one that is already installed: add them (quick when present).
rust-targets:
	@if command -v rustup >/dev/null; then rustup -q target add wasm32-unknown-unknown aarch64-unknown-linux-gnu; \
	else echo "[make] no rustup: make sure the wasm32-unknown-unknown and aarch64-unknown-linux-gnu targets are installed"; fi
