"""The Lambda Runtime API (2018-06-01) for one function process, on 127.0.0.1.

What Lambda's own runtime interface does for a `provided` runtime, reduced to what a custom
runtime uses: the process long-polls `GET /invocation/next` for its next event, answers with
`POST /invocation/{id}/response` or `/invocation/{id}/error`, and reports a failed init with
`POST /init/error`. Standard library only (no LocalStack import): the executor (executor.py)
and the cold-start bench (bench/coldstart/coldstart.py, which reads the timestamps) both use it.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


@dataclass
class Invocation:
    """One event handed to the process, and what came back."""

    request_id: str
    payload: bytes
    function_arn: str
    deadline_ms: int
    trace_id: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    is_error: bool = False
    result: bytes | None = None
    sent_ns: int = 0  # perf_counter_ns when handed out on /next, and when its answer arrived
    done_ns: int = 0


class RuntimeApi:
    """A Runtime API server for one process. `address` is its AWS_LAMBDA_RUNTIME_API."""

    def __init__(self):
        self.events: queue.Queue[Invocation | None] = queue.Queue()
        self.pending: dict[str, Invocation] = {}
        self.lock = threading.Lock()
        # set by the first GET /next (the process finished its init) or by POST /init/error
        self.settled = threading.Event()
        self.ready = False
        self.first_next_ns = 0  # perf_counter_ns of the first GET /next: the end of init
        self.init_error: bytes | None = None
        self.closed = False
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.api = self
        self.thread = threading.Thread(target=self.server.serve_forever, name="runtime-api", daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def invoke(self, invocation: Invocation) -> Invocation:
        """Queue `invocation` for the next `GET /next`; wait on its `done`."""
        with self.lock:
            self.pending[invocation.request_id] = invocation
        self.events.put(invocation)
        return invocation

    def close(self) -> None:
        """Stop serving: a `GET /next` waiting now gets no event (its process is being stopped)."""
        self.closed = True
        self.events.put(None)
        self.server.shutdown()
        self.server.server_close()

    # ---- called by the handler
    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def next_event(self) -> Invocation | None:
        if not self.ready:
            self.first_next_ns = time.perf_counter_ns()
            self.ready = True
            self.settled.set()
        event = self.events.get()
        if event is None:  # closing: wake any other waiter too
            self.events.put(None)
        return event

    def finish(self, request_id: str, is_error: bool, body: bytes, done_ns: int = 0) -> bool:
        with self.lock:
            invocation = self.pending.pop(request_id, None)
        if invocation is None:
            return False
        invocation.is_error, invocation.result = is_error, body
        invocation.done_ns = done_ns or time.perf_counter_ns()
        invocation.done.set()
        return True

    def failed_init(self, body: bytes) -> None:
        self.init_error = body or b'{"errorType":"Runtime.InitError","errorMessage":"init error"}'
        self.settled.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: RuntimeApi

    def handle_error(self, request, client_address):
        pass  # a stopped process resets its connection: nothing to report


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def answer(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
        # one buffer, one write: no Nagle delay between headers and body
        lines = [f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}", f"Content-Length: {len(body)}",
                 "Content-Type: application/json"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def do_GET(self):
        api: RuntimeApi = self.server.api
        if self.path != f"{PREFIX}/invocation/next":
            self.answer(404, b'{"errorMessage":"unknown path"}')
            return
        event = api.next_event()
        if event is None:
            self.close_connection = True
            return
        event.sent_ns = time.perf_counter_ns()
        self.answer(200, event.payload, {
            "Lambda-Runtime-Aws-Request-Id": event.request_id,
            "Lambda-Runtime-Deadline-Ms": str(event.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": event.function_arn,
            "Lambda-Runtime-Trace-Id": event.trace_id,
        })

    def do_POST(self):
        api: RuntimeApi = self.server.api
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        received_ns = time.perf_counter_ns()
        parts = self.path[len(PREFIX) + 1:].split("/") if self.path.startswith(PREFIX + "/") else []
        if parts == ["init", "error"]:
            api.failed_init(body)
            self.answer(202, b'{"status":"OK"}')
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            if api.finish(parts[1], parts[2] == "error", body, received_ns):
                self.answer(202, b'{"status":"OK"}')
            else:
                self.answer(400, json.dumps({"errorMessage": f"unknown request id {parts[1]}",
                                             "errorType": "InvalidRequestID"}).encode())
        else:
            self.answer(404, b'{"errorMessage":"unknown path"}')


def deadline_ms(timeout_seconds: float) -> int:
    """Lambda-Runtime-Deadline-Ms for an invocation starting now."""
    return int((time.time() + timeout_seconds) * 1000)
