"""Paths, settings, log lines and the one error type shown to users."""

import contextlib
import fcntl
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".local"  # everything generated or installed (ignored by git)
STACK_ENV = LOCAL / "stack.env"  # AWS settings + TABLE_NAME (written by deploy)
API_ENV = LOCAL / "api.env"  # BASE_URL of the functions
STACK_LOCK = LOCAL / "stack.lock"  # one up/down at a time
TOOLS_BIN = LOCAL / "tools" / "bin"  # cargo-lambda, sam, cfn-lint (install.tools)
# LocalStack's install (venv, DynamoDB Local), state, record and log
LOCALSTACK_HOME = Path(os.environ.get("LOCALSTACK_HOME") or LOCAL / "localstack").resolve()


class Fail(Exception):
    """An error the user can act on: printed as one message, without a traceback."""


def log(who, message):
    print(f"[{who}] {message}", file=sys.stderr, flush=True)


def setting(name, default=None):
    """An environment setting; empty counts as unset."""
    value = os.environ.get(name, "")
    return value if value != "" else default


def number_setting(name, default):
    value = setting(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise Fail(f"{name}={value!r} is not a number") from None


def flag_setting(name, default):
    value = setting(name)
    return default if value is None else value not in ("0", "false", "no", "off")


def write_env_file(path, values):
    """KEY=value lines, replaced atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    os.replace(tmp, path)


def read_env_file(path):
    """The KEY=value lines of `path` as a dict ({} when it does not exist)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


PHASES = []  # (name, seconds) of the setup steps this command ran, for `phase_summary`


@contextlib.contextmanager
def phase(name):
    """Time one setup step (an install, a build, a start) for `phase_summary`."""
    started = time.monotonic()
    try:
        yield
    finally:
        PHASES.append((name, time.monotonic() - started))


def phase_summary(total):
    """One line: where the `total` seconds of a start went (steps marked ∥ ran side by side)."""
    steps = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in PHASES if seconds >= 0.5)
    return f"ready in {total:.0f} s ({steps or 'nothing to install or build'})"


class Deadline:
    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def passed(self):
        return time.monotonic() > self.end

    def left(self):
        return max(0.0, self.end - time.monotonic())


@contextlib.contextmanager
def locked(path, who, what):
    """Hold an exclusive lock on `path` (flock) for the block. The descriptor is not inherited,
    so a daemon started inside the block does not keep the lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(who, f"waiting for {what} (lock: {path})")
            fcntl.flock(f, fcntl.LOCK_EX)
        yield
