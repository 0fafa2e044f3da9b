"""HostRuntimeExecutor: one LocalStack execution environment = one host process of `bootstrap`.

LocalStack's ExecutionEnvironment calls `start` (cold start), then `invoke` once per
invocation while the environment is warm, and `stop` when it is idle for LAMBDA_KEEPALIVE_MS,
when the function changes, or at shutdown. A result comes back as an InvocationResult; a
process that exits (or overruns the function's timeout) raises StatusErrorException, which
LocalStack turns into an error result and, because the invocation raised, stops this
environment: the next invocation starts a fresh one, as on AWS.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import StatusErrorException
from localstack.services.lambda_.invocation.lambda_models import InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor

from .runtime_api import Invocation, RuntimeApi, deadline_ms

LOG = logging.getLogger(__name__)

# the rest of the host environment stays out, as it does on Lambda (no ~/.aws, no proxies)
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8"}
STOP_GRACE_SECONDS = 2  # Lambda's SIGTERM-then-SIGKILL grace, shortened
MAX_LOG_CHARS = 256 * 1024  # kept per environment (LocalStack reads them after a failed start)


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class HostRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version) -> None:
        super().__init__(id=id, function_version=function_version)
        self.api: RuntimeApi | None = None
        self.process: subprocess.Popen | None = None
        self.home: str | None = None
        self.exited = threading.Event()
        self.logs: list[str] = []
        self.logs_lock = threading.Lock()
        self.stopped = False

    # ---- start
    def start(self, env_vars: dict[str, str]) -> None:
        code_dir = self.code_dir()
        bootstrap = code_dir / "bootstrap"
        if not bootstrap.is_file():
            raise StatusErrorException(f"no bootstrap in {code_dir}",
                                       payload=error_payload("Runtime.InvalidEntrypoint",
                                                             "the function's code has no bootstrap file"))
        if not os.access(bootstrap, os.X_OK):
            bootstrap.chmod(0o755)  # LocalStack's unzip may drop the mode bits
        self.api = RuntimeApi()
        self.home = tempfile.mkdtemp(prefix="lambda-home-")
        env = dict(BASE_ENV, HOME=self.home, **{k: str(v) for k, v in env_vars.items()})
        env.update(AWS_LAMBDA_RUNTIME_API=self.api.address, LAMBDA_TASK_ROOT=str(code_dir))
        t0 = time.perf_counter()
        self.process = subprocess.Popen([str(bootstrap)], cwd=code_dir, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self.read_output, name=f"lambda-{self.id}-out", daemon=True).start()
        LOG.debug("host executor %s: pid %s for %s (runtime API %s)", self.id, self.process.pid,
                  self.function_version.qualified_arn, self.api.address)
        if not self.api.settled.wait(config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT):
            raise LambdaRuntimeException(f"{bootstrap} did not ask for an event within "
                                         f"{config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT}s")
        if self.api.init_error is not None:
            raise StatusErrorException("init error", payload=self.api.init_error)
        if not self.api.ready:  # woken by the exit
            raise StatusErrorException("runtime exited during init", payload=self.exit_error())
        LOG.debug("host executor %s: init in %.0f ms", self.id, (time.perf_counter() - t0) * 1000)

    def code_dir(self) -> Path:
        code = self.function_version.config.code
        if code is None:
            raise LambdaRuntimeException("image functions cannot run on the host executor")
        return Path(code.get_unzipped_code_location())

    def read_output(self) -> None:
        """The process's stdout+stderr, line by line, until it exits; then wake the waiters."""
        process = self.process
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode(errors="replace")
            with self.logs_lock:
                self.logs.append(line)
                while len(self.logs) > 1 and sum(map(len, self.logs)) > MAX_LOG_CHARS:
                    self.logs.pop(0)
        process.wait()
        self.exited.set()
        api = self.api
        if api is not None:
            api.settled.set()
            with api.lock:
                waiting = list(api.pending.values())
            for invocation in waiting:
                invocation.done.set()

    def exit_error(self) -> bytes:
        code = self.process.poll() if self.process else None
        return error_payload("Runtime.ExitError", f"Runtime exited with error: exit status {code}")

    # ---- invoke
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        if self.exited.is_set() or self.api is None:
            raise StatusErrorException("runtime exited", payload=self.exit_error())
        timeout = float(self.function_version.config.timeout or 3)
        with self.logs_lock:
            first_line = len(self.logs)
        invocation = self.api.invoke(Invocation(
            request_id=payload["invoke-id"], payload=payload["payload"].encode(),
            function_arn=payload.get("invoked-function-arn", ""), deadline_ms=deadline_ms(timeout),
            trace_id=payload.get("trace-id", "")))
        finished = invocation.done.wait(timeout + 1) and invocation.result is not None
        logs = self.logs_since(first_line)
        if finished:
            return InvocationResult(invocation.request_id, invocation.result, is_error=invocation.is_error,
                                    logs=logs)
        if self.exited.is_set():
            raise StatusErrorException("runtime exited", payload=self.exit_error())
        # timed out: LocalStack stops this environment because we raise
        raise StatusErrorException("timeout", payload=error_payload(
            "Sandbox.Timedout", f"{invocation.request_id} Task timed out after {timeout:.2f} seconds"))

    def logs_since(self, first_line: int) -> str:
        with self.logs_lock:
            # a trimmed buffer may have dropped some of this invocation's first lines
            return "".join(self.logs[min(first_line, len(self.logs)):])

    # ---- stop
    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.api is not None:
            self.api.close()
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.home:
            shutil.rmtree(self.home, ignore_errors=True)

    # ---- what LocalStack asks of every executor
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"  # the process runs beside LocalStack: AWS_ENDPOINT_URL is the gateway

    def get_runtime_endpoint(self) -> str:
        return f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"

    def get_logs(self) -> str:
        with self.logs_lock:
            return "".join(self.logs)

    @classmethod
    def prepare_version(cls, function_version) -> None:
        code = function_version.config.code
        if code is None:
            raise LambdaRuntimeException("image functions cannot run on the host executor")
        code.prepare_for_execution()  # unzip into LocalStack's code cache (once per version)

    @classmethod
    def cleanup_version(cls, function_version) -> None:
        pass  # LocalStack deletes the unzipped code with the version

    @classmethod
    def validate_environment(cls) -> bool:
        LOG.info("Lambda runtime executor 'host': functions run as host processes of their bootstrap")
        return True
