"""`cargo lambda watch`: every function on the API paths of the workspace's router, recorded
in .local/watch.pid, logging to .local/watch.log, its BASE_URL in .local/api.env. Running
means: the process is ours and its router answers HTTP."""

import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from . import ports
from .common import API_ENV, LOCAL, ROOT, STACK_ENV, TOOLS_BIN, Deadline, Fail, log, number_setting, \
    write_env_file
from .daemon import RUNNING, STARTING, STOPPED, STOPPING, Daemon

DEFAULT_PORT = 9000
LOG = LOCAL / "watch.log"
# its working directory: links to the functions' sources, all a reload needs to watch
VIEW = LOCAL / "watch-view"
IGNORE_FILE = ROOT / "scripts" / "watch-ignore"  # editors' temporary files
DAEMON = Daemon("functions", LOCAL / "watch.pid", marker="lambda watch", stop_timeout=5)
# one request per function: the first one compiles it
PROBES = [("GET", "/aggregates"), ("GET", "/events/processed?limit=1"), ("POST", "/events"), ("GET", "/")]


def base_url(port):
    return f"http://127.0.0.1:{port}"


def http_status(method, url, timeout):
    """The HTTP status of one request, or None when nothing answered in time."""
    data = b"not json" if method == "POST" else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, data=data), timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


def router_answers(record):
    # a path no function serves: the router answers 404 itself and starts no function (502:
    # front.py answers, the watcher behind it does not yet)
    return http_status("GET", base_url(record["port"]) + "/_stack/ping", timeout=2) not in (None, 502)


def status():
    """{"state", "pid", "port", "base_url", "reload", "concurrency"}."""
    state, record = DAEMON.state(router_answers)
    if state == STOPPED:
        return {"state": STOPPED}
    info = {"state": state, "pid": record["pid"]}
    info.update({k: record[k] for k in ("port", "reload", "concurrency") if k in record})
    if "port" in record:
        info["base_url"] = base_url(record["port"])
    return info


def env_digest():
    return hashlib.sha256(STACK_ENV.read_bytes()).hexdigest()[:16]


RESPAWN = ROOT / "scripts" / "devstack" / "respawn.py"
FRONT = ROOT / "scripts" / "devstack" / "front.py"


def respawn_runner():
    """The environment that makes cargo start each function through respawn.py, which replaces
    a function process that dies (cargo lambda watch would not): cargo's runner setting for the
    host target, read by the `cargo run` of each function instance."""
    arch = platform.machine().replace("arm64", "aarch64").upper()
    return {f"CARGO_TARGET_{arch}_UNKNOWN_LINUX_GNU_RUNNER": str(RESPAWN)}


def make_view():
    """.local/watch-view: links to functions/*/src and shared/*/src. cargo lambda watch puts an
    inotify watch on every directory under its working directory, once per function instance:
    from the repository root (.local/, target/) it would exceed the inotify limit (see
    scripts/watch-ignore); from here a change to a crate's Cargo.toml needs a restart."""
    shutil.rmtree(VIEW, ignore_errors=True)  # removes the links, not what they point to
    for src in sorted(ROOT.glob("functions/*/src")) + sorted(ROOT.glob("shared/*/src")):
        link = VIEW / src.relative_to(ROOT)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(src)


def start(port, reload):
    concurrency = int(number_setting("WATCH_CONCURRENCY", 3))
    # front.py on the API port holds what the watcher's 100-request queues could not (0: none)
    max_in_flight = int(number_setting("WATCH_MAX_IN_FLIGHT", 64))
    watch_port = ports.any_free() if max_in_flight else port
    argv = [str(TOOLS_BIN / "cargo-lambda"), "lambda", "watch", "--manifest-path", str(ROOT / "Cargo.toml"),
            "-A", "127.0.0.1", "-P", str(watch_port), "--concurrency", str(concurrency), "--env-file", str(STACK_ENV),
            # the emulator's own CORS answers every origin, credentials allowed, and answers
            # every OPTIONS itself; API Gateway adds none: the ingest function's own CORS
            # (ALLOWED_ORIGINS) is then what a browser gets, here as on AWS
            "--disable-cors"]
    if not reload:
        argv.append("--ignore-changes")
    if max_in_flight:
        argv = [sys.executable, str(FRONT), str(port), str(watch_port), str(max_in_flight), "--", *argv]
    env = dict(os.environ, PATH=f"{TOOLS_BIN}:{os.environ['PATH']}", CARGO_LAMBDA_IGNORE_FILE=str(IGNORE_FILE),
               **respawn_runner())
    LOG.write_bytes(b"")
    make_view()
    record = DAEMON.start(argv, LOG, env, cwd=VIEW, port=port, reload=reload, concurrency=concurrency,
                          stack_env=env_digest())
    write_env_file(API_ENV, {"BASE_URL": base_url(port)})
    log("functions", f"cargo lambda watch on {base_url(port)} (pid {record['pid']}, reload "
                     f"{'on' if reload else 'off'}, {concurrency} instances per function"
                     f"{f', at most {max_in_flight} requests in flight' if max_in_flight else ''}; log: {LOG})")
    return record


def wait_for_functions(record, deadline):
    """Until every function answers a request itself (a status below 500 that is not the
    router's 404): the first request of each compiles it."""
    url = base_url(record["port"])
    log_start = LOG.stat().st_size if LOG.exists() else 0
    for method, path in PROBES:
        while True:
            if DAEMON.process(record) is None:
                raise Fail(f"cargo lambda watch exited; see {LOG}")
            code = http_status(method, url + path, timeout=max(1.0, deadline.left()))
            if code is not None and code < 500 and code != 404:
                break
            compile_error(log_start)
            if deadline.passed():
                raise Fail(f"{method} {path} not answered (last status {code}); see {LOG}")
            time.sleep(0.2)


def compile_error(log_start, path=LOG):
    """Fails with the compiler's first error when a function did not compile since `log_start`
    (the watcher would answer 5xx to every probe until the deadline)."""
    with path.open("rb") as f:
        f.seek(log_start)
        text = f.read().decode("utf-8", "replace")
    if "error: could not compile" not in text:
        return
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("error"))
    excerpt = "\n".join(lines[first:first + 20])
    raise Fail(f"a function does not compile:\n{excerpt}\n(the whole log: {path})")


BUILD_LOG = LOCAL / "build.log"


def build():
    """Compile the functions before the watcher starts, beside the installs: `cargo build` of
    the workspace's default members (the four functions and what they use), the build the
    watcher's `cargo run --bin NAME` then finds up to date. Without it the watcher compiles on
    its first requests, after everything else. A no-op of a second when nothing changed."""
    BUILD_LOG.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (ROOT / "target" / "debug" / "ingest").exists()
    if fresh:
        log("functions", f"compiling the functions (first time: a few minutes; log: {BUILD_LOG})")
    global _build
    with BUILD_LOG.open("wb") as out:
        _build = subprocess.Popen(["cargo", "build", "--bins"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        returncode = _build.wait()
    if returncode and returncode != -signal.SIGTERM:
        compile_error(0, BUILD_LOG)
        raise Fail(f"cargo build failed; see {BUILD_LOG}")


_build = None  # the `cargo build` of `build`, while it runs


def cancel_build():
    """Stop `build`'s compile (a step beside it failed: nobody waits for the functions)."""
    if _build is not None and _build.poll() is None:
        _build.terminate()


def ensure_running(reload, started):
    """Reuse the running watcher (restarted when .local/stack.env changed since it started),
    finish the stop of a stopping one, or start one (then "functions" is added to `started`);
    then wait until every function answers. Returns the base URL."""
    deadline = Deadline(number_setting("WATCH_TIMEOUT", 900))
    port = DEFAULT_PORT
    while True:
        info = status()
        state, record = info["state"], DAEMON.record() or {}
        if state in (RUNNING, STARTING) and record.get("stack_env") != env_digest():
            log("functions", ".local/stack.env changed since they started: restarting them")
            state = STOPPING
        if state == STOPPING:
            DAEMON.stop()
            port = info.get("port") or port
            continue
        if state == STOPPED:
            record = start(ports.pick("API_PORT", port, "functions"), reload)
            started.add("functions")
        else:
            check_asked_port(record["port"])
            log("functions", f"already running on {base_url(record['port'])} (pid {record['pid']})")
            if reload and not record.get("reload"):
                log("functions", "already running without reload on code changes (started by a test?): "
                                 "`make down && make dev` to reload")
        wait_for_functions(record, deadline)
        write_env_file(API_ENV, {"BASE_URL": base_url(record["port"])})
        return base_url(record["port"])


def check_asked_port(running_port):
    asked = ports.explicit("API_PORT")
    if asked is not None and asked != running_port:
        raise Fail(f"API_PORT={asked}, but the functions already run on port {running_port}: "
                   "`make down` first, or leave API_PORT unset")


def stop():
    DAEMON.stop()
    API_ENV.unlink(missing_ok=True)
