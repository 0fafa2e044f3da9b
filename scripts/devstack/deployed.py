"""`make deploy-local`: infra/template.yaml deployed into LocalStack with the real functions.

The functions are built for this machine (cargo build --release), each binary is zipped as its
function's `bootstrap` into LocalStack's S3, and the template is deployed through the same path
as the table (devstack/deploy.py: CloudFormation in LocalStack) as its own stack,
`event-ingest-deployed` (DEPLOYED_STACK_NAME), beside the `make dev` stack. LocalStack's "host"
Lambda executor runs them behind its API Gateway. A tenant and key are registered in the
deployed table (tools/admin, as `make dev` does), and BASE_URL (the stage's URL) and the key are
written to .local/deployed.env and printed.
"""

import os
import platform
import subprocess
import time

from . import localstack
from .common import LOCAL, ROOT, Fail, log, read_env_file, setting, write_env_file

DEPLOYED_ENV = LOCAL / "deployed.env"  # what the deployed stack's functions use, and BASE_URL + API_KEY
KEY_FILE = LOCAL / "deployed.key"
INGEST_KEY_FILE = LOCAL / "deployed-ingest.key"  # the same tenant, the ingest scope only
FUNCTIONS = ("ingest", "listing", "aggregates", "dashboard")
HOST_TARGETS = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}

BANNER = """
  The template deployed with the real functions, behind LocalStack's API Gateway
  (stack {stack}; the functions run as host processes: LocalStack's log, .local/localstack/localstack.log)

BASE_URL={url}
K={key}
INGEST_KEY={ingest_key}

    curl -s -X POST $BASE_URL/events -H "x-api-key: $K" -H 'content-type: application/json' \\
      -d '{{"client_id":"acme-prod","source":"web","payload":{{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"}}}}'
    curl -s "$BASE_URL/aggregates?client_id=acme-prod" -H "x-api-key: $K"

  The dashboard: {url}/ (a browser needs the host form, {aws_url}/ , where that name resolves).
  `make down` stops LocalStack.
"""


def build():
    """The four functions for this machine: release (target/release/<name>), or with
    DEPLOY_PROFILE=dev the debug build that `cargo test` already made (make test: a cold
    release build of fat-LTO binaries takes ~20 min on 2 busy cores)."""
    arch = platform.machine()
    if arch not in HOST_TARGETS:
        raise Fail(f"no Lambda architecture for this machine ({arch})")
    profile = setting("DEPLOY_PROFILE", "release")
    if profile not in ("release", "dev"):
        raise Fail(f"DEPLOY_PROFILE={profile}: want release or dev")
    # dev: the watcher's own command (devstack/watcher.py), so its build is reused as it is
    argv = (["cargo", "build", "--locked", "--release", *(a for f in FUNCTIONS for a in ("-p", f))]
            if profile == "release" else ["cargo", "build", "--bins"])
    log("deploy-local", " ".join(argv) + f"  ({arch}; Lambda would run the template's arm64 build)")
    if subprocess.run(argv, cwd=ROOT).returncode:
        raise Fail(f"cargo build ({profile}) of the functions failed")
    if profile == "release":
        return ROOT / "target" / "release"
    # debug binaries are ~190 MB of debuginfo each: zipped, stored and unzipped by LocalStack
    # that is over a GB, so ship them stripped, as the release profile does
    stripped = LOCAL / "deploy-local" / "bin"
    stripped.mkdir(parents=True, exist_ok=True)
    for name in FUNCTIONS:
        built = ROOT / "target" / "debug" / name
        if subprocess.run(["strip", "--strip-debug", "-o", str(stripped / name), str(built)]).returncode:
            raise Fail(f"strip {built} failed")
    return stripped


def register_key(values, key_file, scopes=None):
    """A key of tenant `dev` (every client id) in the deployed table, kept in `key_file`, with
    `scopes` (default: every scope)."""
    env = {k: v for k, v in values.items() if k != "BASE_URL"}
    done = subprocess.run(["cargo", "run", "-q", "-p", "admin", "--no-default-features", "--", "key", "dev",
                           str(key_file), *(["--scopes", scopes] if scopes else [])],
                          cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise Fail("could not register an API key in the deployed table (cargo run -p admin -- key dev)")
    return done.stdout.strip()


def deploy_local(started):
    """Build, deploy, register a key; returns the values of .local/deployed.env."""
    t0 = time.monotonic()
    url = localstack.ensure_running(started)
    record = localstack.DAEMON.record() or {}
    executor = record.get("lambda_executor", "noop")
    if executor != "host":
        raise Fail(f"LocalStack runs with the '{executor}' Lambda executor, which cannot run the functions: "
                   "`make down`, then again (LAMBDA_RUNTIME_EXECUTOR unset or host)")
    code_dir = build()
    built = time.monotonic()
    stack = setting("DEPLOYED_STACK_NAME", "event-ingest-deployed")
    localstack.deploy(url, ["--code-dir", str(code_dir), "--stack-name", stack], stack_env=DEPLOYED_ENV)
    values = read_env_file(DEPLOYED_ENV)
    key = register_key(values, KEY_FILE)
    values["API_KEY"] = key
    # the contract test's ingest-only pass and a web page's key, as `make dev` prints them
    values["INGEST_KEY"] = register_key(values, INGEST_KEY_FILE, "ingest")
    write_env_file(DEPLOYED_ENV, values)
    log("deploy-local", f"done in {time.monotonic() - t0:.1f} s (build {built - t0:.1f} s, "
                        f"deploy and key {time.monotonic() - built:.1f} s)")
    print(BANNER.format(stack=stack, url=values["BASE_URL"], key=key, ingest_key=values["INGEST_KEY"],
                        aws_url=values.get("API_URL_AWS_FORM")), flush=True)
    return values
