#!/usr/bin/env python3
"""Tests of runtime_api.py (the host executor's Lambda Runtime API) with a fake bootstrap: a
Python process that speaks the Runtime API as a custom runtime does. Standard library only,
seconds; part of `make test` (scripts/test.sh, with scripts/test_devstack.py)."""

import json
import os
import subprocess
import sys
import textwrap
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "localstack_host_lambda_executor"))
import runtime_api  # noqa: E402 - stdlib only, imported without LocalStack

# A custom runtime: init (or fail it), then answer events: {"echo": x} -> response,
# {"fail": msg} -> /error, {"exit": n} -> exit mid-invocation.
FAKE_BOOTSTRAP = textwrap.dedent("""
    import json, os, sys, urllib.request
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
    def post(path, body):
        urllib.request.urlopen(urllib.request.Request(api + path, data=json.dumps(body).encode(), method="POST"))
    if os.environ.get("FAIL_INIT"):
        post("/init/error", {"errorType": "Runtime.Config", "errorMessage": "no table"})
        sys.exit(1)
    while True:
        with urllib.request.urlopen(api + "/invocation/next") as r:
            rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
            assert int(r.headers["Lambda-Runtime-Deadline-Ms"]) > 0
            event = json.loads(r.read())
        if "exit" in event:
            sys.exit(event["exit"])
        if "fail" in event:
            post(f"/invocation/{rid}/error", {"errorType": "Handler", "errorMessage": event["fail"]})
        else:
            post(f"/invocation/{rid}/response", {"statusCode": 200, "body": event["echo"], "pid": os.getpid()})
""")


class RuntimeApiTest(unittest.TestCase):
    def start(self, **env):
        api = runtime_api.RuntimeApi()
        process = subprocess.Popen([sys.executable, "-c", FAKE_BOOTSTRAP],
                                   env={**os.environ, **env, "AWS_LAMBDA_RUNTIME_API": api.address})
        self.addCleanup(lambda: (process.kill(), process.wait(), api.close()))
        self.assertTrue(api.settled.wait(10), "the process neither asked for an event nor failed its init")
        return api, process

    def invoke(self, api, event, timeout=10):
        invocation = api.invoke(runtime_api.Invocation(
            request_id=str(uuid.uuid4()), payload=json.dumps(event).encode(), function_arn="arn:test",
            deadline_ms=runtime_api.deadline_ms(3)))
        invocation.done.wait(timeout)
        return invocation

    def test_responses_and_errors_come_back_and_the_process_is_reused(self):
        api, process = self.start()
        self.assertTrue(api.ready)
        first = self.invoke(api, {"echo": "a"})
        second = self.invoke(api, {"echo": "b"})
        self.assertFalse(first.is_error)
        self.assertEqual(json.loads(first.result)["body"], "a")
        self.assertEqual(json.loads(second.result)["pid"], process.pid)  # one warm process
        failed = self.invoke(api, {"fail": "boom"})
        self.assertTrue(failed.is_error)
        self.assertEqual(json.loads(failed.result)["errorMessage"], "boom")

    def test_an_init_error_is_kept(self):
        api, _ = self.start(FAIL_INIT="1")
        self.assertFalse(api.ready)
        self.assertEqual(json.loads(api.init_error)["errorType"], "Runtime.Config")

    def test_an_exit_mid_invocation_leaves_the_invocation_unanswered(self):
        api, process = self.start()
        invocation = self.invoke(api, {"exit": 3}, timeout=2)
        self.assertEqual(process.wait(5), 3)
        self.assertIsNone(invocation.result)  # the executor turns this into Runtime.ExitError

    def test_an_unknown_request_id_is_refused(self):
        api, _ = self.start()
        self.assertFalse(api.finish("not-a-request", False, b"{}"))


if __name__ == "__main__":
    unittest.main()
