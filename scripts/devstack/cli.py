"""scripts/stack.py COMMAND: the local stack from the command line (see `--help`)."""

import argparse
import os
import sys

from . import deployed, install, localstack, stack
from .common import Fail, flag_setting, log

USAGE = """scripts/stack.py COMMAND

  up        start what is not running (LocalStack, the table, the functions); idempotent
  run       `up`, then follow the functions' log; Ctrl-C stops what it started   (make dev)
            (once no other `run` or `with` uses it)
  down      stop the functions and LocalStack                                    (make down)
  status    what runs; --json for scripts                                        (make status)
  with CMD  run CMD against the stack: start what is not running, export .local/stack.env and
            .local/api.env, run, stop what was started (once no other `run` or `with` uses it)
  deploy    deploy infra/template.yaml into the running LocalStack (or one on LOCALSTACK_PORT)
  deploy-local  the template with the real functions (release, this machine) into LocalStack,
            served by its API Gateway; prints BASE_URL and a key            (make deploy-local)
  setup     install LocalStack + DynamoDB Local into .local/localstack (up does it when needed)
  tools     install the pinned tools into .local/tools (cargo-lambda, sam, cfn-lint, zig);
            --contract: schemathesis into .local/contract-venv (api/contract-test.sh)

Settings: LOCALSTACK_PORT (4566), API_PORT (9000): a default port that another program holds
is replaced by a free one, a port you set must be free; WATCH_CONCURRENCY (3 instances per
function); WATCH_MAX_IN_FLIGHT (64 requests let through to the functions at once, the rest wait;
0: none held); WATCH_RELOAD (1: rebuild and restart the functions on code changes; default on for
`run`, off for `up`; `with` never reloads); START_TIMEOUT (120 s for LocalStack), STOP_TIMEOUT
(20 s), WATCH_TIMEOUT (900 s for the functions to compile); KEEP_LOCALSTACK=1 (down: only the
functions); more in localstack/README.md.
"""


def parser():
    p = argparse.ArgumentParser(prog="scripts/stack.py", usage=USAGE, add_help=True)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("up", "run"):
        c = sub.add_parser(name)
        c.add_argument("--reload", dest="reload", action="store_true", default=None)
        c.add_argument("--no-reload", dest="reload", action="store_false")
    sub.choices["up"].add_argument("--no-functions", action="store_true",
                                   help="LocalStack and the table only")
    sub.add_parser("down").add_argument("--keep-localstack", action="store_true")
    sub.add_parser("status").add_argument("--json", action="store_true")
    sub.add_parser("with").add_argument("cmd", nargs=argparse.REMAINDER)
    for name in ("deploy", "setup", "deploy-local"):
        sub.add_parser(name)
    sub.add_parser("tools").add_argument("--contract", action="store_true")
    return p


def reload_setting(asked, default):
    return asked if asked is not None else flag_setting("WATCH_RELOAD", default)


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        if args.command == "up":
            stack.up(reload_setting(args.reload, False), functions=not args.no_functions)
        elif args.command == "run":
            return stack.run(reload_setting(args.reload, True))
        elif args.command == "down":
            keep = args.keep_localstack or flag_setting("KEEP_LOCALSTACK", False)
            stack.down(("functions",) if keep else stack.PARTS)
        elif args.command == "status":
            info = stack.status()
            if args.json:
                stack.print_json(info)
            else:
                stack.print_status(info)
            return 0 if stack.is_up(info) else 1
        elif args.command == "with":
            if not args.cmd:
                raise Fail("usage: scripts/stack.py with COMMAND [ARGS...]")
            return stack.with_stack(args.cmd)
        elif args.command == "deploy":
            localstack.deploy(localstack.deploy_endpoint())
        elif args.command == "deploy-local":
            deployed.deploy_local(set())  # LocalStack stays up (make down stops it)
        elif args.command == "setup":
            install.localstack()
        elif args.command == "tools":
            install.contract_tools() if args.contract else install.tools()
    except Fail as e:
        log("stack", f"ERROR: {e}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `status --json | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
