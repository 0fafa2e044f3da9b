"""The local development API key: tenant `dev` owning every client id, its key kept in
.local/dev.key (made once, so it survives restarts) and registered again by `tools/admin` when
a restarted LocalStack lost it."""

import os
import subprocess

from .common import LOCAL, ROOT, STACK_ENV, Fail, log, read_env_file

KEY_FILE = LOCAL / "dev.key"


def ensure():
    """The development key, registered in the stack's table. Returns it."""
    env = dict(os.environ, **read_env_file(STACK_ENV))
    done = subprocess.run(
        # no AWS profile providers (SSO): LocalStack needs none, and without them the build
        # reuses the functions' compiled AWS crates
        ["cargo", "run", "-q", "-p", "admin", "--no-default-features", "--", "key", "dev", str(KEY_FILE)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise Fail("could not register the development API key (cargo run -p admin -- key dev)")
    key = done.stdout.strip()
    log("stack", f"development API key (tenant dev, every client id): {key}")
    return key


def read():
    """The key of .local/dev.key, or None."""
    try:
        return KEY_FILE.read_text().strip() or None
    except FileNotFoundError:
        return None
