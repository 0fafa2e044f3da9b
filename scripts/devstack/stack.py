"""The whole stack: LocalStack with the table deployed, then the functions under cargo lambda
watch. `up` and `down` run one at a time (a lock in .local/stack.lock): parallel test processes
may all call `up`, and an `up` right after a `down` waits for it.

`run` (make dev) and `with` (scripts/stack.py with) are *users*: each is listed in
.local/stack-users.json while it runs, with the parts it started; a user that ends stops those
parts only when no other user is left (else the last one does), so two `make test` in parallel
do not pull the stack from under each other."""

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time

from . import devkey, install, localstack, procs, watcher
from .common import API_ENV, LOCAL, STACK_ENV, STACK_LOCK, locked, log, phase, phase_summary, read_env_file
from .daemon import RUNNING

PARTS = ("localstack", "functions")
USERS = LOCAL / "stack-users.json"


def up(reload, functions=True, started=None, user=False):
    """Start what is not running. Every part this call starts is added to `started` as soon as
    it is started (so a caller can stop it again, even after an error). `user`: list this
    process as a user of the stack (then end with `leave`)."""
    started = set() if started is None else started
    began = time.monotonic()
    with locked(STACK_LOCK, "stack", "another scripts/stack.py up/down"):
        # Independent steps side by side: the compile of the functions (the longest, on a
        # fresh clone), the install of cargo-lambda, and LocalStack's install, start and
        # deploy. Only what `make dev` needs: the SAM CLI and friends wait for `make lint`.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            compiled = pool.submit(timed, "compile ∥", watcher.build) if functions else None
            tools = pool.submit(timed, "cargo-lambda install ∥", install.tools, "cargo-lambda")
            try:
                with phase("LocalStack install, start and deploy ∥"):
                    endpoint = localstack.ensure_running(started)
                    localstack.deploy_if_changed(endpoint)
                tools.result()
                if compiled:
                    compiled.result()
            except BaseException:
                watcher.cancel_build()
                raise
        with phase("development key"):
            devkey.ensure()
        if functions:
            with phase("functions answering"):
                url = watcher.ensure_running(reload, started)
            log("stack", f"{phase_summary(time.monotonic() - began)}: {url}")
        if user:
            join(started)


def timed(name, step, *args):
    with phase(name):
        return step(*args)


def down(parts=PARTS):
    with locked(STACK_LOCK, "stack", "another scripts/stack.py up/down"):
        stop(parts)
        if set(parts) == set(PARTS):
            USERS.unlink(missing_ok=True)


def stop(parts):
    if "functions" in parts:
        watcher.stop()
    if "localstack" in parts:
        localstack.stop()


# ------------------------------------------------------------------ users (run, with)
def users():
    """{"users": {pid: start time} of the live users, "started": the parts they started}."""
    try:
        data = json.loads(USERS.read_text())
    except (FileNotFoundError, ValueError):
        data = {}
    live = {pid: start for pid, start in data.get("users", {}).items() if procs.Proc.find(int(pid), start)}
    # with no user left, what a crashed one had started is nobody's to stop (`make down` does)
    return {"users": live, "started": sorted(set(data.get("started", []))) if live else []}


def save_users(data):
    tmp = USERS.with_name(USERS.name + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True) + "\n")
    os.replace(tmp, USERS)


def join(started):
    """List this process as a user (called under the lock, by `up`)."""
    data = users()
    me = procs.Proc.find(os.getpid())
    data["users"][str(me.pid)] = me.start
    data["started"] = sorted(set(data["started"]) | set(started))
    save_users(data)


def leave(started):
    """This user ends: stop what the users started, unless others still use the stack. A second
    Ctrl-C does not cut that short."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    with locked(STACK_LOCK, "stack", "another scripts/stack.py up/down"):
        data = users()
        data["users"].pop(str(os.getpid()), None)
        data["started"] = sorted(set(data["started"]) | set(started))
        if data["users"]:
            save_users(data)
            if data["started"]:
                log("stack", f"left running for {len(data['users'])} other command(s) using it "
                             f"(pids {', '.join(data['users'])}); the last one stops it")
            return
        USERS.unlink(missing_ok=True)
        stop(data["started"])


def status():
    return {"localstack": localstack.status(details=True), "functions": watcher.status(),
            "users": sorted(int(pid) for pid in users()["users"])}


def print_status(info):
    ls, fn = info["localstack"], info["functions"]
    line = f"localstack: {ls['state']}"
    if "pid" in ls:
        line += f", pid {ls['pid']}, {ls.get('endpoint', '?')}"
    if "memory_mb" in ls:
        m = ls["memory_mb"]
        line += f", memory {m['localstack']} MB + DynamoDB Local {m['dynamodb_local']} MB"
    print(line)
    if ls.get("services"):
        print("  services: " + ", ".join(f"{k}={v}" for k, v in ls["services"].items()))
    line = f"functions:  {fn['state']}"
    if "pid" in fn:
        line += f", pid {fn['pid']}, {fn.get('base_url', '?')}"
    if "reload" in fn:
        line += f", reload {'on' if fn['reload'] else 'off'}, {fn['concurrency']} instances per function"
    print(line)


def is_up(info):
    return all(info[part]["state"] == RUNNING for part in PARTS)


# ------------------------------------------------------------------ make dev
BANNER = """
  The service is running at {url}  (DynamoDB in LocalStack; logs: .local/watch.log)
  Code changes rebuild and restart the functions: {reload}.

    The dashboard: {url}/  (API key below; the page keeps it for this tab only)

    K={key}    # the development key: tenant dev, every client id, every scope (.local/dev.key)
    I={ingest_key}    # ingest-only: POST /events and nothing else (.local/dev-ingest.key)
    curl -s -X POST {url}/events -H "x-api-key: $K" -H 'content-type: application/json' \\
      -d '{{"client_id":"acme-prod","source":"web","payload":{{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"}}}}'
    curl -s "{url}/aggregates?client_id=acme-prod" -H "x-api-key: $K"
    curl -s "{url}/aggregates?client_id=acme-prod" -H "x-api-key: $I"   # 403 forbidden_scope: $I only sends
    make key TENANT=acme CLIENTS='acme-*'    # a key for another tenant

  Ctrl-C stops {what}.
"""


def interrupt_on_signals():
    """SIGTERM and SIGHUP (terminal closed) end `run` and `with` as Ctrl-C does."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def run(reload):
    """`up`, then follow the functions' log until Ctrl-C; then stop what it started."""
    interrupt_on_signals()
    started = set()
    try:
        up(reload, started=started, user=True)
        info = watcher.status()
        print(BANNER.format(url=info["base_url"], reload="on" if info.get("reload") else "off",
                            what=describe(started), key=devkey.read(), ingest_key=devkey.read_ingest()),
              flush=True)
        follow(watcher.LOG, watcher.DAEMON)
        return 1
    except KeyboardInterrupt:
        print(flush=True)
        return 0
    finally:
        leave(started)


def describe(started):
    if set(started) == set(PARTS):
        return "everything"
    if started:
        return f"what it started ({', '.join(sorted(started))}; `make down` stops the rest)"
    return "nothing: everything was running before (`make down` stops it)"


def follow(path, daemon):
    """Print what is appended to `path` while `daemon` runs."""
    record = daemon.record()
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        while True:
            chunk = f.read()
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            elif daemon.process(record) is None:
                log("stack", f"cargo lambda watch exited; see {path}")
                return
            else:
                time.sleep(0.2)


# ------------------------------------------------------------------ scripts/stack.py with
def with_stack(command):
    """Run `command` against the stack: start what is not running (functions without reload),
    export .local/stack.env, .local/api.env, API_KEY (the development key), INGEST_KEY (the
    ingest-only one) and STACK_STARTED
    (the parts started here),
    run it, then stop what was started here. Returns its exit status."""
    interrupt_on_signals()
    started = set()
    try:
        up(reload=False, started=started, user=True)
        env = dict(os.environ, **read_env_file(STACK_ENV), **read_env_file(API_ENV),
                   API_KEY=devkey.read() or "", INGEST_KEY=devkey.read_ingest() or "",
                   STACK_STARTED=" ".join(p for p in PARTS if p in started), STACK_USER=str(os.getpid()))
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        leave(started)


def print_json(info):
    json.dump(info, sys.stdout, indent=1, sort_keys=True)
    print()
