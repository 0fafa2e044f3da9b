"""LocalStack 4.9.2 in host mode: a Python process (with the DynamoDB Local JVM it starts),
recorded in $LOCALSTACK_HOME/localstack.pid, logging to $LOCALSTACK_HOME/localstack.log.
Running means: the process is ours and DynamoDB answers through its gateway."""

import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from . import deploy as deploy_module
from . import install, ports
from .common import LOCALSTACK_HOME, ROOT, STACK_ENV, Deadline, Fail, locked, log, number_setting, setting
from .daemon import RUNNING, STARTING, STOPPED, STOPPING, Daemon
from .procs import Proc, family

DEFAULT_PORT = 4566
# cloudwatch: the template's alarms (deployed locally like everything else in it)
SERVICES = "dynamodb,cloudformation,apigateway,lambda,iam,sts,s3,logs,cloudwatch"
DEPLOY_NEEDS = ("cloudformation", "dynamodb", "s3", "lambda", "apigateway", "iam", "logs", "cloudwatch")
LOG = LOCALSTACK_HOME / "localstack.log"
DAEMON = Daemon("localstack", LOCALSTACK_HOME / "localstack.pid", marker="localstack.runtime.main",
                stop_timeout=number_setting("STOP_TIMEOUT", 20))


def endpoint(port):
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------ is it healthy?
def services(url, timeout=2):
    """{service: state} from LocalStack's health endpoint, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url + "/_localstack/health", timeout=timeout) as r:
            return json.load(r).get("services", {})
    except (OSError, ValueError):
        return None


def dynamodb_answers(url, timeout=2):
    """True if ListTables works (LocalStack checks no signatures: dummy credentials do)."""
    request = urllib.request.Request(url + "/", data=b"{}", method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0",
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return "TableNames" in json.load(r)
    except (OSError, ValueError):
        return False


def is_ready(url):
    health = services(url)
    return health is not None and health.get("dynamodb") == "running" and dynamodb_answers(url)


def status(details=False):
    """{"state", "pid", "port", "endpoint"}; with `details`, memory and services when it runs."""
    state, record = DAEMON.state(lambda r: is_ready(endpoint(r["port"])))
    if state == STOPPED:
        return {"state": STOPPED}
    info = {"state": state, "pid": record["pid"], "port": record.get("port")}
    if info["port"]:
        info["endpoint"] = endpoint(info["port"])
    if state == RUNNING and details:
        info["services"] = {k: v for k, v in sorted((services(info["endpoint"]) or {}).items())
                            if v in ("running", "available", "error")}
        info["memory_mb"] = memory_mb(record)
    return info


def memory_mb(record):
    members = family(Proc(record["pid"], record["start"]))
    jvm = sum(p.rss_mb() for p in members if "java" in p.cmdline().split(" ")[0])
    total = sum(p.rss_mb() for p in members)
    return {"localstack": round(total - jvm), "dynamodb_local": round(jvm)}


# ------------------------------------------------------------------ start / stop
def host_mode_environment(port):
    """LocalStack's settings for a host-mode run (why each one: localstack/README.md)."""
    env = dict(os.environ)
    env.pop("DOCKER_HOST", None)
    env.update(
        OVERRIDE_IN_DOCKER="0",  # we are not in LocalStack's container
        FILESYSTEM_ROOT=str(install.STATE),  # all of LocalStack's folders
        GATEWAY_LISTEN=f"127.0.0.1:{port}",
        SERVICES=setting("LOCALSTACK_SERVICES", SERVICES),
        EAGER_SERVICE_LOADING="1",  # DynamoDB Local starts now, not at the first request
        DYNAMODB_IN_MEMORY="1",
        DISABLE_EVENTS="1",  # no analytics
        SKIP_SSL_CERT_DOWNLOAD="1",
        DNS_ADDRESS="0",  # no DNS server (it would want port 53)
        LOCALSTACK_CLI="0",
        # the "docker" executor cannot create functions here; "host" runs each function's
        # bootstrap as a host process (make deploy-local), "noop" creates them, never runs them
        LAMBDA_RUNTIME_EXECUTOR=setting("LAMBDA_RUNTIME_EXECUTOR", "host"),
    )
    return env


def start(port):
    install.localstack()
    LOG.write_bytes(b"")
    env = host_mode_environment(port)
    record = DAEMON.start([str(install.VENV / "bin" / "python"), "-m", "localstack.runtime.main"],
                          LOG, env, cwd=ROOT, port=port, lambda_executor=env["LAMBDA_RUNTIME_EXECUTOR"])
    log("localstack", f"started pid {record['pid']} on port {port} (log: {LOG})")
    return record


def wait_ready(record, deadline):
    url = endpoint(record["port"])
    t0 = time.monotonic()
    while not is_ready(url):
        if DAEMON.process(record) is None:
            raise Fail(f"LocalStack (pid {record['pid']}) exited while starting; see {LOG}")
        if deadline.passed():
            raise Fail(f"LocalStack did not become ready within {deadline.seconds:.0f}s "
                       f"(raise START_TIMEOUT on slow machines); see {LOG}")
        time.sleep(0.2)
    log("localstack", f"ready in {time.monotonic() - t0:.1f}s: {url}")


def ensure_running(started):
    """Reuse our LocalStack, wait for one that is starting, finish the stop of one that is
    stopping, or start one (then "localstack" is added to `started`). Returns its endpoint."""
    deadline = Deadline(number_setting("START_TIMEOUT", 120))
    waiting_for = None
    port = DEFAULT_PORT
    while True:
        info = status()
        state = info["state"]
        if state == RUNNING:
            check_asked_port(info["port"])
            return info["endpoint"]
        if state == STOPPING:
            DAEMON.stop()
            port = info.get("port") or port  # and start the next one where it was
        elif state == STARTING:
            if waiting_for != info["pid"]:
                waiting_for = info["pid"]
                log("localstack", f"pid {info['pid']} is starting: waiting for it")
            if deadline.passed():
                raise Fail(f"LocalStack (pid {info['pid']}) did not become ready in {deadline.seconds:.0f}s; "
                           f"see {LOG} (make down stops it)")
            time.sleep(0.2)
        else:
            record = start(ports.pick("LOCALSTACK_PORT", port, "localstack"))
            started.add("localstack")
            # START_TIMEOUT counts from the start, not from before a first install (which
            # runs beside the functions' compile on a fresh clone: minutes on 2 cores)
            deadline = Deadline(deadline.seconds)
            try:
                wait_ready(record, deadline)
            except Fail:
                print_log_tail()
                if setting("KEEP_ON_FAILURE") != "1":
                    DAEMON.stop()
                raise
            return endpoint(record["port"])


def check_asked_port(running_port):
    asked = ports.explicit("LOCALSTACK_PORT")
    if asked is not None and asked != running_port:
        raise Fail(f"LOCALSTACK_PORT={asked}, but LocalStack already runs on port {running_port}: "
                   "`make down` first, or leave LOCALSTACK_PORT unset")


def print_log_tail(lines=40):
    try:
        tail = LOG.read_text(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return
    log("localstack", f"last {len(tail)} lines of {LOG}:\n" + "\n".join(tail))


def stop():
    # while it boots, LocalStack ignores SIGTERM; it has nothing to lose yet (state is in memory)
    DAEMON.stop(timeout=2 if status()["state"] == STARTING else None)


# ------------------------------------------------------------------ deploy
def deploy_endpoint():
    """Ours when it runs, else LOCALSTACK_PORT or 4566 (e.g. LocalStack in Docker)."""
    info = status()
    if info["state"] != STOPPED and info.get("endpoint"):
        return info["endpoint"]
    return endpoint(ports.explicit("LOCALSTACK_PORT") or DEFAULT_PORT)


DEPLOY_STAMP = LOCALSTACK_HOME / "deploy" / "deployed.stamp"


def deploy_if_changed(url):
    """`deploy`, unless this LocalStack process already got this template, deploy code and
    settings, and .local/stack.env is there (saves starting a python with boto3: ~0.5 s)."""
    info = status()
    if info["state"] != RUNNING or info["endpoint"] != url:
        return deploy(url)
    inputs = [(ROOT / "infra" / "template.yaml").read_bytes(), Path(deploy_module.__file__).read_bytes(),
              str(DAEMON.record()).encode(), *(f"{k}={setting(k, '')}".encode() for k in deploy_module.SETTINGS)]
    stamp = hashlib.sha256(b"\0".join(inputs)).hexdigest()
    try:
        if setting("RESET") != "1" and STACK_ENV.exists() and DEPLOY_STAMP.read_text() == stamp:
            log("deploy", "template and settings unchanged since the last deploy into this LocalStack")
            return
    except FileNotFoundError:
        pass
    deploy(url)
    DEPLOY_STAMP.write_text(stamp)


def deploy(url, extra_args=(), stack_env=STACK_ENV):
    """Deploy infra/template.yaml into the LocalStack at `url` and write `stack_env`
    (devstack/deploy.py, run by a python with boto3 + PyYAML: LocalStack's venv or DEPLOY_PYTHON;
    `extra_args`: --code-dir and --stack-name of make deploy-local)."""
    health = services(url)
    if health is None:
        raise Fail(f"LocalStack is not running at {url}: `make up` (or LOCALSTACK_PORT for one you started)")
    missing = [s for s in DEPLOY_NEEDS if health.get(s) not in ("running", "available")]
    if missing:
        raise Fail(f"LocalStack at {url} lacks services: {', '.join(missing)} (LOCALSTACK_SERVICES?)")
    if stack_env == STACK_ENV:
        DEPLOY_STAMP.unlink(missing_ok=True)  # whatever this deploy does, deploy_if_changed checks again
    python = setting("DEPLOY_PYTHON") or str(install.VENV / "bin" / "python")
    if not shutil.which(python):
        raise Fail(f"{python} not found: `scripts/stack.py setup` installs LocalStack's venv, or set "
                   "DEPLOY_PYTHON to a python with boto3 and PyYAML (pip install boto3 pyyaml)")
    work = LOCALSTACK_HOME / "deploy"
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
                        "AWS_SHARED_CREDENTIALS_FILE")}
    env.update(AWS_EC2_METADATA_DISABLED="true", PYTHONPATH=str(ROOT / "scripts"))
    with locked(work / "deploy.lock", "deploy", "another deploy"):
        done = subprocess.run([python, "-m", "devstack.deploy", "--endpoint", url,
                               "--template", str(ROOT / "infra" / "template.yaml"),
                               "--work", str(work), "--stack-env", str(stack_env), *extra_args], env=env)
    if done.returncode:
        raise Fail("deploy failed (see above)")
