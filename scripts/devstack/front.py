#!/usr/bin/env python3
"""Hold the requests that `cargo lambda watch` could not: the API port's front door.

`cargo lambda watch` 1.9.2 keeps at most 100 waiting requests per function, and a request that
arrives when that queue is full blocks the emulator for good: the router awaits a free slot in
the full queue while it holds the write lock of its request cache (`state.rs`, `upsert`), and
every instance's `/next` poll, which would free a slot, needs that lock's read side first. A
burst of more than 100 requests for one function (a load test, a backfill) so hangs every
function until the stack restarts.

This script stands on the API port and passes at most MAX_IN_FLIGHT requests at a time to the
watcher (on a port of its own, where the functions' Runtime API also is: their polls never come
through here); the others wait here, in arrival order, for one to finish. With fewer requests in
flight than the queue holds, no function's queue can fill. Each request goes to the watcher on a
connection of its own (`Connection: close`), its bytes passed through as they are, and the
client's connection closes after its answer (the answer says so), so no request is ever split
from its answer.

    front.py LISTEN_PORT UPSTREAM_PORT MAX_IN_FLIGHT -- cargo-lambda lambda watch -P UPSTREAM_PORT …

runs the watcher as its child and ends with it (and stops it when told to stop). Python's
standard library only.
"""

import asyncio
import signal
import sys

MAX_HEAD = 64 * 1024
HOP_BY_HOP = (b"connection:", b"keep-alive:", b"proxy-connection:")


def bad_gateway():
    body = b'{"error": {"code": "functions_down", "message": "cargo lambda watch does not answer."}}'
    return (b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body))


def one_request_head(head):
    """The request head with `Connection: close` in place of the client's connection headers."""
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]] + [line for line in lines[1:] if not line.lower().startswith(HOP_BY_HOP)]
    return b"\r\n".join(kept + [b"Connection: close", b"", b""])


async def pipe(source, sink):
    while data := await source.read(64 * 1024):
        sink.write(data)
        await sink.drain()


class Front:
    def __init__(self, upstream_port, max_in_flight):
        self.upstream_port = upstream_port
        self.slots = asyncio.Semaphore(max_in_flight)  # FIFO: waiters go in arrival order

    async def serve(self, client_reader, client_writer):
        try:
            try:
                head = await client_reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return  # closed before a whole head, or a head past MAX_HEAD: nothing to pass on
            async with self.slots:
                try:
                    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                except OSError:
                    client_writer.write(bad_gateway())
                    await client_writer.drain()
                    return
                up_writer.write(one_request_head(head))
                # the body (however framed) as it comes; the answer ends the exchange: the
                # watcher closes its side after it, as the head asked
                body = asyncio.create_task(pipe(client_reader, up_writer))
                body.add_done_callback(lambda task: task.cancelled() or task.exception())
                try:
                    await pipe(up_reader, client_writer)
                finally:
                    body.cancel()
                    up_writer.close()
        except ConnectionError:
            pass  # the client or the watcher went away mid-exchange: nothing left to answer
        finally:
            client_writer.close()


async def main(listen_port, upstream_port, max_in_flight, argv):
    child = await asyncio.create_subprocess_exec(*argv)
    front = Front(upstream_port, max_in_flight)
    server = await asyncio.start_server(front.serve, "127.0.0.1", listen_port, limit=MAX_HEAD,
                                        reuse_address=True, backlog=1024)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, child.terminate)
    async with server:
        code = await child.wait()  # the watcher's end (or ours: we told it to stop) is the end
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        sys.exit("usage: front.py LISTEN_PORT UPSTREAM_PORT MAX_IN_FLIGHT -- WATCHER ARGV…")
    sys.exit(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[5:])))
