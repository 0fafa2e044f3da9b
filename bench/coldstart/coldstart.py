#!/usr/bin/env python3
"""Cold-start bench: a Lambda Runtime API emulator and a fake DynamoDB, on 127.0.0.1.

The Runtime API is the one LocalStack's host executor serves the deployed functions with
(localstack/host-lambda-executor/localstack_host_lambda_executor/runtime_api.py), imported here.

For each release binary (the four functions and `baseline-lambda`, the yardstick) it measures,
over N cold starts interleaved binary by binary (so machine noise hits all of them alike):

- init: exec -> the first `GET /2018-06-01/runtime/invocation/next` (what Lambda bills as Init:
  logging set up, config read, SDK client built, warm-up GetItem answered);
- first invoke and tenth invoke: the event handed out on `/next` -> its `/response` posted;
- RSS: VmHWM from /proc/PID/status after the tenth invoke;
- binary size and `zip -9` size of it as `bootstrap` (what a Lambda zip holds);

each as a median, and as a ratio to the baseline's median in the same run. Every response must
carry the status code the fixture expects, and nothing may reach `/error` or `/init/error`: a
broken binary fails the run instead of producing a nice number.

Why Python (3.11, standard library only) and not a Rust binary: the emulator must not share a
build with what it measures (a Rust bin in the workspace would be rebuilt by, and compete
with, every profile variant tried through `CARGO_PROFILE_RELEASE_*`), it starts with no
compile step, and its own per-request cost (~0.1-0.3 ms on this machine) is the same for every
binary, so it cancels out in the ratios. The functions' environment is Lambda's: the runtime
API address, function name, memory size, region, static credentials, `TABLE_NAME`, `AUTH=off`
and `AWS_ENDPOINT_URL` pointing at the fake DynamoDB served here (GetItem, PutItem,
UpdateItem, TransactWriteItems and Query answered with minimal valid JSON; no LocalStack).

With `--tls` the fake DynamoDB speaks HTTPS, as the real endpoint does, with a certificate from
a throwaway CA (made by the `openssl` command) that the binaries trust through
`SSL_CERT_FILE`: every new connection then costs a TLS handshake, which is what the warm-up in
init is for, and the run proves the functions' TLS stack works.

Usage: bench/coldstart/coldstart.py [--tls] [--runs 20] [--bin-dir target/release] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import ssl
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "functions"


@dataclass(frozen=True)
class Subject:
    """One binary under test: the event it is handed and the status code it must answer."""

    name: str
    fixture: Path
    expected_status: int


SUBJECTS = [
    Subject("baseline-lambda", FIXTURES / "dashboard/tests/fixtures/rest_v1_get.json", 200),
    # 201: the event was processed (the fake table accepts every write).
    Subject("ingest", FIXTURES / "ingest/tests/fixtures/rest_v1_post_events.json", 201),
    Subject("listing", FIXTURES / "listing/tests/fixtures/rest_v1_get_processed.json", 200),
    Subject(
        "aggregates",
        FIXTURES / "aggregates/tests/fixtures/rest_v1_get_aggregates_stage_in_path.json",
        200,
    ),
    Subject("dashboard", FIXTURES / "dashboard/tests/fixtures/rest_v1_get.json", 200),
]
BASELINE = "baseline-lambda"


def raw_response(status: int, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 response in one buffer: one write, so Nagle never delays a second one."""
    reason = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found"}.get(status, "OK")
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.wfile.write(raw_response(status, body, headers or {}))


# --- fake DynamoDB ------------------------------------------------------------------------

# The smallest valid answer of each operation the store uses: nothing found, every write
# accepted. `Query` answers an empty page.
DYNAMO_ANSWERS = {
    "GetItem": b"{}",
    "PutItem": b"{}",
    "UpdateItem": b"{}",
    "TransactWriteItems": b"{}",
    "Query": b'{"Count":0,"Items":[],"ScannedCount":0}',
}


class DynamoHandler(QuietHandler):
    def do_POST(self):
        self.read_body()
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        answer = DYNAMO_ANSWERS.get(operation)
        if answer is None:
            self.server.unknown.append(operation)
            body = json.dumps({"__type": "UnknownOperationException", "message": operation})
            self.answer(400, body.encode(), {"Content-Type": "application/x-amz-json-1.0"})
            return
        self.answer(
            200,
            answer,
            {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fake"},
        )


# --- Runtime API --------------------------------------------------------------------------

# The one Runtime API implementation of the repository: the LocalStack host executor's
# (standard library only), which records when init ended and when each event went out and its
# answer came back.
sys.path.insert(0, str(REPO / "localstack" / "host-lambda-executor" / "localstack_host_lambda_executor"))
from runtime_api import Invocation, RuntimeApi, deadline_ms  # noqa: E402

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
TRACE_ID = "Root=1-00000000-000000000000000000000000;Sampled=0"


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A killed binary resets its connections: expected at the end of every cold start.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class TlsServer(Server):
    """HTTPS: the handshake runs in the connection's own thread, on its first read."""

    tls: ssl.SSLContext

    def get_request(self):
        sock, address = super().get_request()
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


def self_signed_tls(workdir: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 (a leaf certificate signed by a throwaway CA, since
    webpki refuses a CA certificate as the server's own) and the CA file to trust."""
    ca, ca_key = workdir / "ca.pem", workdir / "ca-key.pem"
    cert, key, csr, ext = (workdir / n for n in ("cert.pem", "key.pem", "cert.csr", "cert.ext"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    for command in (
        ["req", "-x509", *ec, "-days", "1", "-subj", "/CN=coldstart bench CA", "-keyout", ca_key,
         "-out", ca],
        ["req", *ec, "-subj", "/CN=localhost", "-keyout", key, "-out", csr],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "1",
         "-extfile", ext, "-out", cert],
    ):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, ca


def serve(handler, server_class=Server, **attributes) -> Server:
    server = server_class(("127.0.0.1", 0), handler)
    for name, value in attributes.items():
        setattr(server, name, value)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- one cold start -----------------------------------------------------------------------


@dataclass
class Dynamo:
    """Where the fake DynamoDB answers, and the certificate to trust for it (with --tls)."""

    endpoint: str
    cert: Path | None


@dataclass
class Sample:
    init_ms: float
    first_ms: float
    tenth_ms: float
    rss_kib: int


class BenchError(Exception):
    pass


def lambda_env(name: str, runtime_port: int, dynamo: Dynamo, home: Path) -> dict[str, str]:
    """What Lambda sets (the parts the functions read), plus the project's settings."""
    trust = {"SSL_CERT_FILE": str(dynamo.cert)} if dynamo.cert else {}
    return trust | {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": "bootstrap",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/30/[$LATEST]bench",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIDBENCHCOLDSTART",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_SESSION_TOKEN": "bench-session-token",
        # Lambda has no profile files: an empty home keeps the host's ~/.aws out.
        "HOME": str(home),
        "AWS_ENDPOINT_URL": dynamo.endpoint,
        "TABLE_NAME": "events",
        "AUTH": "off",
        "RUST_LOG": "info",
    }


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise BenchError(f"no VmHWM for pid {pid}")


def cold_start(
    subject: Subject,
    binary: Path,
    event: bytes,
    dynamo: Dynamo,
    invokes: int,
    log: Path,
    wrap: list[str],
) -> Sample:
    api = RuntimeApi()
    env = lambda_env(subject.name, api.port, dynamo, log.parent / "home")
    with open(log, "wb") as out:
        started = time.perf_counter_ns()
        process = subprocess.Popen([*wrap, str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        if not api.settled.wait(timeout=15):
            raise BenchError(f"{subject.name}: no /next within 15 s (log: {log})")
        if api.init_error is not None:
            raise BenchError(f"{subject.name}: init error: {api.init_error[:500]!r} (log: {log})")
        init_ns = api.first_next_ns - started
        latencies = []
        for _ in range(invokes):
            invocation = api.invoke(Invocation(
                request_id=str(uuid.uuid4()), payload=event, function_arn=FUNCTION_ARN,
                deadline_ms=deadline_ms(30), trace_id=TRACE_ID))
            if not invocation.done.wait(timeout=15) or invocation.result is None:
                raise BenchError(f"{subject.name}: no response within 15 s (log: {log})")
            if invocation.is_error:
                raise BenchError(f"{subject.name}: /error: {invocation.result[:500]!r} (log: {log})")
            try:
                status = int(json.loads(invocation.result)["statusCode"])
            except (ValueError, KeyError, TypeError) as err:
                raise BenchError(f"{subject.name}: not an API Gateway proxy response ({err}): "
                                 f"{invocation.result[:300]!r}")
            if status != subject.expected_status:
                raise BenchError(
                    f"{subject.name}: status {status}, expected "
                    f"{subject.expected_status} (log: {log})"
                )
            latencies.append(invocation.done_ns - invocation.sent_ns)
        rss = peak_rss_kib(process.pid)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        api.close()
    return Sample(init_ns / 1e6, latencies[0] / 1e6, latencies[-1] / 1e6, rss)


def zipped_size(binary: Path, workdir: Path) -> int:
    """The size of a Lambda zip holding `binary` as `bootstrap`, deflated at level 9."""
    target = workdir / "bootstrap.zip"
    target.unlink(missing_ok=True)
    link = workdir / "bootstrap"
    link.unlink(missing_ok=True)
    link.symlink_to(binary.resolve())
    if shutil.which("zip"):
        subprocess.run(["zip", "-9", "-X", "-q", str(target), "bootstrap"], cwd=workdir, check=True)
    else:  # the same deflate level through zlib
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            archive.write(link, "bootstrap")
    return target.stat().st_size


# --- report -------------------------------------------------------------------------------


def report(results: dict[str, dict], out=sys.stdout) -> None:
    base = results[BASELINE]
    columns = [
        ("size MB", "size", 1e-6),
        ("zip MB", "zip", 1e-6),
        ("init ms", "init_ms", 1),
        ("1st ms", "first_ms", 1),
        ("10th ms", "tenth_ms", 1),
        ("RSS MiB", "rss_kib", 1 / 1024),
    ]
    header = f"{'binary':<16}" + "".join(f"{title:>17}" for title, _, _ in columns)
    print(header + f"{'1st/10th':>10}", file=out)
    for name, row in results.items():
        cells = []
        for _, key, scale in columns:
            ratio = row[key] / base[key] if base[key] else float("nan")
            cells.append(f"{row[key] * scale:>9.2f} (x{ratio:4.2f})")
        first_vs_tenth = row["first_ms"] / row["tenth_ms"] if row["tenth_ms"] else float("nan")
        print(f"{name:<16}" + "".join(cells) + f"{first_vs_tenth:>10.2f}", file=out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="cold starts per binary (20)")
    parser.add_argument("--invokes", type=int, default=10, help="invokes per cold start (10)")
    parser.add_argument(
        "--bin-dir",
        type=Path,
        default=Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release",
        help="where the release binaries are ($CARGO_TARGET_DIR/release)",
    )
    parser.add_argument("--only", nargs="*", help="a subset of binaries (the baseline always runs)")
    parser.add_argument("--json", type=Path, help="also write the medians and samples here")
    parser.add_argument("--label", default="", help="a name for this run in the output")
    parser.add_argument("--tls", action="store_true", help="serve the fake DynamoDB over HTTPS")
    parser.add_argument(
        "--wrap",
        default="",
        help="profile: run each binary under this command, e.g. 'strace -f -tt -o /tmp/st' "
        "(the figures then include the wrapper's cost, and RSS is the wrapper's)",
    )
    args = parser.parse_args()
    if args.invokes < 1 or args.runs < 1:
        parser.error("--runs and --invokes must be at least 1")

    subjects = [s for s in SUBJECTS if not args.only or s.name in args.only or s.name == BASELINE]
    for subject in subjects:
        if not (args.bin_dir / subject.name).is_file():
            print(f"coldstart: {args.bin_dir / subject.name} is missing", file=sys.stderr)
            return 2
    events = {s.name: json.dumps(json.loads(s.fixture.read_text())).encode() for s in subjects}

    samples: dict[str, list[Sample]] = {s.name: [] for s in subjects}
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
        workdir = Path(tmp)
        (workdir / "home").mkdir()
        if args.tls:
            context, cert = self_signed_tls(workdir)
            dynamo = serve(DynamoHandler, TlsServer, unknown=[], tls=context)
            target = Dynamo(f"https://127.0.0.1:{dynamo.server_address[1]}", cert)
        else:
            dynamo = serve(DynamoHandler, unknown=[])
            target = Dynamo(f"http://127.0.0.1:{dynamo.server_address[1]}", None)
        try:
            for _ in range(args.runs):
                for subject in subjects:
                    samples[subject.name].append(
                        cold_start(
                            subject,
                            args.bin_dir / subject.name,
                            events[subject.name],
                            target,
                            args.invokes,
                            workdir / f"{subject.name}.log",
                            shlex.split(args.wrap),
                        )
                    )
        except BenchError as err:
            print(f"coldstart: FAILED: {err}", file=sys.stderr)
            log = Path(str(err).rpartition("(log: ")[2].rstrip(")"))
            if log.is_file():
                sys.stderr.write(log.read_text(errors="replace")[-3000:])
            return 1
        if dynamo.unknown:
            print(f"coldstart: FAILED: unknown DynamoDB operations {dynamo.unknown}", file=sys.stderr)
            return 1
        results: dict[str, dict] = {}
        for subject in subjects:
            binary = args.bin_dir / subject.name
            runs = samples[subject.name]
            results[subject.name] = {
                "size": binary.stat().st_size,
                "zip": zipped_size(binary, workdir),
                "init_ms": statistics.median(s.init_ms for s in runs),
                "first_ms": statistics.median(s.first_ms for s in runs),
                "tenth_ms": statistics.median(s.tenth_ms for s in runs),
                "rss_kib": statistics.median(s.rss_kib for s in runs),
            }
    dynamo.shutdown()

    title = f" {args.label}" if args.label else ""
    title += " (DynamoDB over TLS)" if args.tls else ""
    print(
        f"cold start{title}: medians of {args.runs} runs x {args.invokes} invokes, "
        f"binaries from {args.bin_dir}; (xN.NN) = ratio to {BASELINE}"
    )
    report(results)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "label": args.label,
                    "runs": args.runs,
                    "invokes": args.invokes,
                    "medians": results,
                    "samples": {k: [vars(s) for s in v] for k, v in samples.items()},
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
