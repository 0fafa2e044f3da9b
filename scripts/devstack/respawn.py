#!/usr/bin/env python3
"""Replace a function process that dies, as Lambda replaces a dead sandbox.

`cargo lambda watch` 1.9.2 starts each function instance once and never replaces it: after a
`kill -9` (or a crash) every later request to that function waits for its 30 s timeout. The
stack makes this script cargo's runner (`CARGO_TARGET_<host>_RUNNER`) for the watcher only, so
each instance runs as

    respawn.py target/debug/ingest

and this script runs the binary:

- the binary killed by a signal (SIGKILL, SIGSEGV, an abort): a new one is started at once,
  so the requests after it are served. This script stands between the binary and the
  watcher's Runtime API (`RESPAWN_PROXY=0`: it does not), so the invocation the dead process
  held is answered with an error (`Runtime.ExitError`, what Lambda reports), and an
  invocation the watcher handed to a `/next` poll of the dead process goes to the new one;
- every answer of the binary (`/response`, `/error`, `init/error`) reaches the watcher whole:
  cargo lambda watch 1.9.2 answers that POST before it reads its body (functions_router.rs,
  `respond_to_next_invocation`) and the waiting HTTP request reads the body afterwards. When
  the last bytes arrive after that early answer, hyper 1.x ends the body only once a next
  request comes on the same kept-alive connection: until then the client's request hangs, and
  if the connection closes first the body fails (`IncompleteMessage`) and the client gets the
  emulator's own 500. Bodies above ~16 KB (what hyper has read by the early answer) under
  concurrent load were lost so. Sent here on a connection of its own with `Connection:
  close`, the body ends with the connection's read side instead, whole every time;
- the binary exiting by itself (a bad setting at start-up): this script exits with its code,
  as before, so a broken configuration is not restarted in a loop;
- this script told to stop (SIGTERM/SIGINT, a reload or the stack stopping): the binary is
  stopped with it.

Python's standard library only; one small proxy per instance, on 127.0.0.1.
"""

import http.client
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

RUNTIME = "/2018-06-01/runtime/invocation/"
NEXT = RUNTIME + "next"


class Supervisor:
    """What the proxy threads and the main loop share, under one lock."""

    def __init__(self, upstream):
        # the watcher's Runtime API: `host:port`, or a URL with a path (cargo lambda watch
        # gives each function `http://127.0.0.1:9000/.rt/<function>`)
        url = urllib.parse.urlsplit(upstream if "//" in upstream else f"http://{upstream}")
        self.host, self.port, self.prefix = url.hostname, url.port or 80, url.path.rstrip("/")
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # `pending` or `polling` changed
        self.generation = 0  # one per process started
        self.polling = False  # a `/next` poll is out to the watcher
        self.current = None  # request id of the invocation the live process holds
        self.pending = None  # an invocation fetched for a process that died: for the next one

    def connect(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=None)

    def forward(self, method, path, headers, body, conn=None):
        """One request to the watcher, on `conn` (kept open: the watcher tells instances apart
        by their connection) or on a connection of its own."""
        own = conn is None
        conn = conn or self.connect()
        try:
            conn.request(method, self.prefix + path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        except (OSError, http.client.HTTPException):
            own = True
            raise
        finally:
            if own:
                conn.close()

    def died(self, how):
        """The process of this generation is gone: answer the invocation it held."""
        with self.lock:
            self.generation += 1
            lost, self.current = self.current, None
        if lost is None:
            return
        message = f"RequestId: {lost} Error: Runtime exited with {how}; the process was replaced"
        body = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()
        try:
            self.forward("POST", f"{RUNTIME}{lost}/error",
                         {"Content-Type": "application/json", "Connection": "close",
                          "Lambda-Runtime-Function-Error-Type": "Runtime.ExitError"}, body)
        except OSError as error:
            say(f"could not report the lost invocation {lost}: {error}")


def make_handler(supervisor):
    class Proxy(http.server.BaseHTTPRequestHandler):
        """One connection of the function process, mirrored by one connection to the watcher."""

        protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open
        # the answer's head and body are two writes: without TCP_NODELAY, Nagle and the
        # function's delayed ACK hold the body back ~40 ms on every call
        disable_nagle_algorithm = True
        upstream = None

        def send(self, method, body, headers):
            # a kept connection the watcher closed meanwhile fails at once: try a fresh one
            for attempt in (1, 2):
                reused = self.upstream is not None
                if not reused:
                    self.upstream = supervisor.connect()
                try:
                    return supervisor.forward(method, self.path, headers, body, self.upstream)
                except (OSError, http.client.HTTPException):
                    self.upstream = None
                    if not reused or attempt == 2:
                        raise

        def log_message(self, *args):  # the function's own logs are what matters here
            pass

        def do_GET(self):
            self.relay()

        def do_POST(self):
            self.relay()

        def body(self):
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    chunk = self.rfile.read(size)
                    self.rfile.readline()
                    if size == 0:
                        return b"".join(chunks)
                    chunks.append(chunk)
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def relay(self):
            body = self.body()
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "transfer-encoding", "content-length", "connection")}
            if self.path == NEXT:
                status, out_headers, out_body = self.next_invocation(headers)
                if status is None:
                    return  # asked by a process that has died meanwhile: kept for the next one
            else:
                if self.command == "POST":
                    # .../response, .../error, init/error: on a connection of its own that the
                    # watcher closes after it (`Connection: close`). cargo lambda watch 1.9.2
                    # answers this POST before it reads the body; on a kept-alive connection
                    # hyper then ends that body only when a next request arrives on the same
                    # connection (or fails it when the connection closes), so the invocation
                    # hangs or gets the emulator's own 500.
                    status, out_headers, out_body = supervisor.forward(
                        self.command, self.path, dict(headers, Connection="close"), body)
                else:
                    status, out_headers, out_body = self.send(self.command, body, headers)
                if self.path.startswith(RUNTIME) and status < 300:
                    request_id = self.path[len(RUNTIME):].split("/")[0]
                    with supervisor.lock:
                        if supervisor.current == request_id:
                            supervisor.current = None
            try:
                self.send_response(status)
                for name, value in out_headers:
                    if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(out_body)))
                self.end_headers()
                self.wfile.write(out_body)
            except OSError:
                # the process died meanwhile (`died` answers the invocation it held), or gave
                # up this poll: an invocation it never received goes to the next poll
                self.close_connection = True
                if self.path == NEXT:
                    with supervisor.changed:
                        request_id = request_id_of((status, out_headers, out_body))
                        if request_id is not None and supervisor.current == request_id:
                            supervisor.current = None
                            supervisor.pending = (status, out_headers, out_body)
                            supervisor.changed.notify_all()

        def next_invocation(self, headers):
            """The next invocation for the live process. One `/next` poll at most is out to
            the watcher: a poll a dead process left behind is waited for, and what it brings
            goes to the live process instead."""
            with supervisor.changed:
                asked_by = supervisor.generation
                while supervisor.pending is None and supervisor.polling:
                    supervisor.changed.wait()
                if supervisor.pending is not None:
                    answer, supervisor.pending = supervisor.pending, None
                    supervisor.current = request_id_of(answer)
                    return answer
                supervisor.polling = True
            try:
                answer = self.send("GET", None, headers)
            finally:
                with supervisor.changed:
                    supervisor.polling = False
                    supervisor.changed.notify_all()
            with supervisor.changed:
                if supervisor.generation != asked_by:
                    supervisor.pending = answer
                    supervisor.changed.notify_all()
                    return None, None, None
                supervisor.current = request_id_of(answer)
            return answer

    return Proxy


def request_id_of(answer):
    """The invocation a `/next` answer hands out (None for the emulator's 204 "nothing yet")."""
    status, headers, _ = answer
    if status != 200:
        return None
    return next((v for k, v in headers if k.lower() == "lambda-runtime-aws-request-id"), None)


def say(text):
    print(json.dumps({"level": "WARN", "message": f"[respawn] {text}"}), file=sys.stderr, flush=True)


def main(argv):
    if len(argv) < 2:
        print("usage: respawn.py BINARY [ARGS...]", file=sys.stderr)
        return 2
    upstream = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not upstream:  # not under a Runtime API (cargo run by hand): just run it
        os.execv(argv[1], argv[1:])
    env = dict(os.environ)
    supervisor = None
    if os.environ.get("RESPAWN_PROXY", "1") == "1":  # RESPAWN_PROXY=0: the function talks to the watcher itself
        supervisor = Supervisor(upstream)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(supervisor))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"

    stopping = threading.Event()
    child = None

    def stop(signum, _frame):
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deaths = []
    while True:
        child = subprocess.Popen(argv[1:], env=env)
        code = child.wait()
        if stopping.is_set() or code >= 0:
            return code if code >= 0 else 128 - code
        how = f"signal {signal.Signals(-code).name}"
        if supervisor is not None:
            supervisor.died(how)
        # a process that keeps dying right away is not restarted faster than once a second
        now = time.monotonic()
        deaths = [t for t in deaths if now - t < 10] + [now]
        say(f"{argv[1]} (pid {child.pid}) ended by {how}: replaced"
            + (" after 1 s" if len(deaths) > 3 else ""))
        if len(deaths) > 3:
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
