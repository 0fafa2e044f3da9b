"""The local development API keys of tenant `dev` (owning every client id): a full key kept in
.local/dev.key and an ingest-only one (scope `ingest`: POST /events only, what a web page or an
app ships) in .local/dev-ingest.key. Each is made once, so it survives restarts, and registered
again by `tools/admin` when a restarted LocalStack lost it."""

import os
import subprocess

from .common import LOCAL, ROOT, STACK_ENV, Fail, log, read_env_file

KEY_FILE = LOCAL / "dev.key"
INGEST_KEY_FILE = LOCAL / "dev-ingest.key"


def _register(path, scopes):
    env = dict(os.environ, **read_env_file(STACK_ENV))
    # no AWS profile providers (SSO): LocalStack needs none, and without them the build
    # reuses the functions' compiled AWS crates
    argv = ["cargo", "run", "-q", "-p", "admin", "--no-default-features", "--", "key", "dev", str(path)]
    if scopes:
        argv += ["--scopes", scopes]
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise Fail(f"could not register the development API key {path.name} (cargo run -p admin -- key dev)")
    return done.stdout.strip()


def ensure():
    """The development keys, registered in the stack's table. Returns the full key."""
    key = _register(KEY_FILE, None)
    ingest = _register(INGEST_KEY_FILE, "ingest")
    log("stack", f"development API key (tenant dev, every client id, every scope): {key}")
    log("stack", f"ingest-only development key (POST /events only): {ingest}")
    return key


def read(path=KEY_FILE):
    """The key of .local/dev.key (or of `path`), or None."""
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def read_ingest():
    """The ingest-only key of .local/dev-ingest.key, or None."""
    return read(INGEST_KEY_FILE)
