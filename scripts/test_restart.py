#!/usr/bin/env python3
"""A stack started right after a stop comes back on the same ports (15-30 s).

The failure this guards against: `make dev` a few seconds after the previous one was stopped
found LocalStack still shutting down; one script said "not running", another "already
running", and the new LocalStack moved to another port that nothing else used.

Runs against a stack that scripts/stack.py with started for it (`make test`, `make stack-test`):
it stops and restarts that stack, so it skips a stack that was running before (yours) or that
another command (a second `make test`) uses too.
STACK_TEST_ALL=1 (`make stack-test`) adds the second case: an `up` while the `down` still runs.
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACK = [sys.executable, str(ROOT / "scripts" / "stack.py")]


def status():
    out = subprocess.run([*STACK, "status", "--json"], capture_output=True, text=True).stdout
    return json.loads(out)


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s: {what}; status: {status()}")
        time.sleep(0.1)


def env_file(name):
    lines = (ROOT / ".local" / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@unittest.skipUnless("localstack" in os.environ.get("STACK_STARTED", "").split(),
                     "the stack was running before (yours): it is left alone; `make down` to include this test")
class RestartRightAfterStop(unittest.TestCase):
    def setUp(self):
        self.before = status()
        others = set(self.before["users"]) - {int(os.environ.get("STACK_USER", "0"))}
        if others:
            self.skipTest(f"other commands use this stack too (pids {sorted(others)}): it is left alone")
        self.assertEqual(self.before["localstack"]["state"], "running", self.before)
        self.assertEqual(self.before["functions"]["state"], "running", self.before)
        self.stack_env, self.api_env = env_file("stack.env"), env_file("api.env")

    def assert_back_on_the_same_ports(self):
        after = status()
        for part, key in (("localstack", "port"), ("functions", "port")):
            self.assertEqual(after[part]["state"], "running", after)
            self.assertEqual(after[part][key], self.before[part][key], after)
        self.assertNotEqual(after["localstack"]["pid"], self.before["localstack"]["pid"])
        # what with-stack exported before the restart is still right
        self.assertEqual(env_file("stack.env"), self.stack_env)
        self.assertEqual(env_file("api.env"), self.api_env)

    def test_up_after_a_stop_that_was_cut_short(self):
        """`down` signals LocalStack and is killed (a second Ctrl-C, a closed terminal):
        LocalStack is still shutting down when `up` comes."""
        down = subprocess.Popen([*STACK, "down"])
        wait_for(lambda: status()["localstack"]["state"] == "stopping", 60, "LocalStack stopping")
        down.send_signal(signal.SIGKILL)
        down.wait()
        self.assertNotEqual(status()["localstack"]["state"], "stopped")  # still shutting down
        subprocess.run([*STACK, "up"], check=True)
        self.assert_back_on_the_same_ports()

    @unittest.skipUnless(os.environ.get("STACK_TEST_ALL") == "1", "STACK_TEST_ALL=1 runs it")
    def test_up_while_down_still_runs(self):
        down = subprocess.Popen([*STACK, "down"])
        wait_for(lambda: status()["localstack"]["state"] == "stopping", 60, "LocalStack stopping")
        subprocess.run([*STACK, "up"], check=True)
        self.assertEqual(down.wait(), 0)
        self.assert_back_on_the_same_ports()


if __name__ == "__main__":
    unittest.main(verbosity=2)
